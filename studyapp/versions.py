"""Versions of what a participant reads on a trial: a trace's text with its stimulus's shown texts
(context facts, question, the model's shown answer), and their translations into the study's other
languages: one version holds every language's, so a page's version and its participant's language say
exactly what they read.

A version is made whenever one of those texts changes, from wherever the change comes (the admin,
the shell, the stimulus builder): the ``post_save`` signals below, and the content cache when it
loads a text changed without them (a queryset ``update()``, ``bulk_create``). Versions are never
changed, and a version someone was shown is never deleted (``PageVisit.trace_version`` protects it),
so each answer keeps the texts that were read.

The admin's change form saves a stimulus and then its traces: inside :func:`editing` the texts they
touch get one version each at the end, with who made the change, not one per row saved.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import PageVisit, Stimulus, StimulusTrace, TraceVersion


@dataclass
class _Edit:
    user: AbstractBaseUser | None
    traces: set[int] = field(default_factory=set)


_edit: ContextVar[_Edit | None] = ContextVar("studyapp_versions_edit", default=None)


@contextmanager
def editing(user: AbstractBaseUser | None) -> Iterator[None]:
    """One edit by `user`, in one transaction: every text it changes gets one new version, by them."""
    edit = _Edit(user if user is not None and user.is_authenticated else None)
    token = _edit.set(edit)
    try:
        with transaction.atomic():
            yield
            for trace in StimulusTrace.objects.filter(pk__in=edit.traces).select_related("stimulus"):
                current(trace, user=edit.user)
    finally:
        _edit.reset(token)


def current(
    trace: StimulusTrace, latest: TraceVersion | None = None, user: AbstractBaseUser | None = None
) -> TraceVersion:
    """The version of what `trace` (with its stimulus) shows now: its latest version (`latest`, when
    the caller has read it) if the texts are the same, else a new one numbered after it."""
    if latest is None:
        latest = trace.versions.order_by("-number").first()
    texts = trace.shown_texts()
    if latest is not None and latest.shown_texts() == texts:
        return latest
    number = latest.number + 1 if latest is not None else 1
    try:
        with transaction.atomic():
            return TraceVersion.objects.create(trace=trace, number=number, created_by=user, **texts)
    except IntegrityError:  # another process made this version at the same moment
        return current(trace)


def _changed(traces: Iterable[StimulusTrace]) -> None:
    edit = _edit.get()
    for trace in traces:
        if edit is not None:
            edit.traces.add(trace.pk)
        else:
            current(trace)


@receiver(post_save, sender=StimulusTrace)
def _trace_saved(sender: type, instance: StimulusTrace, **kwargs: object) -> None:
    _changed([instance])


@receiver(post_save, sender=Stimulus)
def _stimulus_saved(sender: type, instance: Stimulus, created: bool, **kwargs: object) -> None:
    if not created:
        _changed(instance.traces.all())  # each trace's .stimulus is this instance


def readers(**visits: object) -> dict[int, list[tuple[int, str, bool]]]:
    """Version id -> (participant id, PROLIFIC_PID, preview) of those shown it, among the page visits
    chosen by the `visits` lookups (``participant__study=study``), in order of participant id."""
    shown: dict[int, list[tuple[int, str, bool]]] = {}
    rows = PageVisit.objects.filter(trace_version__isnull=False, **visits).order_by("participant_id")
    for version_id, *reader in rows.values_list(
        "trace_version_id", "participant_id", "participant__prolific_pid", "participant__is_preview"
    ):
        shown.setdefault(version_id, []).append(tuple(reader))
    return shown


def named_texts(version: TraceVersion) -> dict[str, object]:
    """A version's texts by name, each translation under "<name> (<language>)": "question (de)"."""
    texts = version.shown_texts()
    for language, given in sorted(texts.pop("translations").items()):
        texts.update({f"{name} ({language})": value for name, value in given.items()})
    return texts


def with_changes(history: Iterable[TraceVersion]) -> Iterator[tuple[TraceVersion, list[str]]]:
    """Each version (ordered by trace, then number) with the names of the texts that differ from the
    trace's version before it (none for a trace's first), a translation's as "question (de)"."""
    before: tuple[int, dict[str, object]] | None = None
    for version in history:
        texts = named_texts(version)
        if before is not None and before[0] == version.trace_id:
            names = dict.fromkeys([*before[1], *texts])
            yield version, [name for name in names if texts.get(name) != before[1].get(name)]
        else:
            yield version, []
        before = (version.trace_id, texts)
