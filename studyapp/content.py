"""What every participant of a study reads or is assigned from (its conditions, items, stimuli and
traces), kept in memory per process.

These rows change only when a researcher edits the study, and every such save or delete bumps the
study's ``content_version`` (the signal handlers below). The version comes with the study's row,
which every page and arrival reads anyway, so pages and arrivals take these from memory instead of
querying them, and an edit is seen by the next request once it has committed. Traces are kept as
the version of their texts shown now (studyapp.versions), so pages record which one they showed.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import versions
from .models import Condition, Item, Stimulus, StimulusTrace, Study, TraceVersion


class TextMissing(LookupError):
    """A participant's trial names a stimulus with no text in their condition: it was deleted past the
    guards (by raw SQL, say). Their answers so far are kept; the page cannot be shown."""

    def __init__(self, study: Study, stimulus_id: int | None, condition: str) -> None:
        super().__init__(f"Study {study.slug}: stimulus #{stimulus_id} has no '{condition}' text.")
        self.study = study


@dataclass
class StudyContent:
    items: list[Item]
    conditions: list[Condition]  # in the study's order
    stimuli_by_condition: dict[str, list[int]]  # condition code -> ids of stimuli with a trace in it
    practice_by_condition: dict[str, int] = field(default_factory=dict)  # code -> the practice stimulus
    versions: dict[tuple[int, str], TraceVersion] = field(default_factory=dict)  # (stimulus, condition)

    def __post_init__(self) -> None:
        self.items_by_id = {item.id: item for item in self.items}
        self.attention_checks = [i for i in self.items if i.is_attention_check]
        self.conditions_by_code = {condition.code: condition for condition in self.conditions}
        self.conditions_by_id = {condition.id: condition for condition in self.conditions}
        every = [set(self.stimuli_by_condition.get(c.code, [])) for c in self.conditions]
        #: the stimuli (in id order) with a text in every condition: within participants, any of them may
        #: be read in any condition
        self.stimuli_in_every_condition = sorted(set.intersection(*every)) if every else []


# study id -> (created_at, content_version, content); created_at tells a re-created study apart
_cache: dict[int, tuple[datetime, int, StudyContent]] = {}


def for_study(study: Study) -> StudyContent:
    """The study's content at its current version, read from the database at most once per version."""
    key = (study.created_at, study.content_version)
    entry = _cache.get(study.pk)
    if entry is not None and entry[:2] == key:
        return entry[2]
    stimuli_by_condition: dict[str, list[int]] = {}
    practice_by_condition: dict[str, int] = {}
    pairs = StimulusTrace.objects.filter(stimulus__study_id=study.pk).values_list(
        "condition", "stimulus_id", "stimulus__is_practice"
    )
    for code, stimulus_id, practice in pairs.order_by("condition", "stimulus_id").distinct():
        if practice:
            practice_by_condition.setdefault(code, stimulus_id)
        else:
            stimuli_by_condition.setdefault(code, []).append(stimulus_id)
    content = StudyContent(
        items=list(Item.objects.filter(study_id=study.pk)),
        conditions=list(Condition.objects.filter(study_id=study.pk).order_by("position", "code")),
        stimuli_by_condition=stimuli_by_condition,
        practice_by_condition=practice_by_condition,
    )
    _cache[study.pk] = (*key, content)  # one assignment: threads of a gthread worker may race harmlessly
    return content


def version(study: Study, stimulus_id: int, condition: str) -> TraceVersion:
    """The version of the texts a participant in `condition` is shown now for one stimulus: one query
    per process and content version, none after. Raises TextMissing."""
    content = for_study(study)
    found = content.versions.get((stimulus_id, condition))
    if found is None:
        this = {"stimulus_id": stimulus_id, "stimulus__study_id": study.pk, "condition": condition}
        latest = TraceVersion.objects.select_related("trace__stimulus").filter(
            **{f"trace__{name}": value for name, value in this.items()}
        ).order_by("-number").first()
        trace = latest.trace if latest is not None else (
            StimulusTrace.objects.select_related("stimulus").filter(**this).first()
        )
        if trace is None:
            raise TextMissing(study, stimulus_id, condition)
        found = versions.current(trace, latest)  # a new version if the texts changed without a save
        content.versions[(stimulus_id, condition)] = found
    return found


def bump_version(study_id: int) -> None:
    Study.objects.filter(pk=study_id).update(content_version=F("content_version") + 1)


@receiver([post_save, post_delete], sender=Condition)
@receiver([post_save, post_delete], sender=Item)
@receiver([post_save, post_delete], sender=Stimulus)
def _study_row_changed(sender: type, instance: Condition | Item | Stimulus, **kwargs: object) -> None:
    bump_version(instance.study_id)


@receiver([post_save, post_delete], sender=StimulusTrace)
def _trace_changed(sender: type, instance: StimulusTrace, **kwargs: object) -> None:
    study_id = Stimulus.objects.filter(pk=instance.stimulus_id).values_list("study_id", flat=True).first()
    if study_id is not None:
        bump_version(study_id)
