"""Writing a study as a study file: everything that defines it, nothing that belongs to one run of it
(status, ids, the Prolific study id, participants)."""

from __future__ import annotations

import json

from ..models import Stimulus, Study, TranslatedModel
from ..scales.studies import published_in
from . import sections
from .checking import exact_balance
from .layout import (
    CONDITION_FIELDS,
    FORMAT,
    ITEM_FIELDS,
    STIMULUS_FIELDS,
    STUDY_GROUPS,
    TEXT_FIELDS,
    TRANSLATIONS,
)


def export_study(study: Study) -> dict:
    """The study's file as a document (``dumps`` writes it)."""
    document: dict = {"format": FORMAT, "slug": study.slug, "title": study.title, **_translations(study)}
    for group, pairs in STUDY_GROUPS.items():
        document[group] = {key: getattr(study, field) for key, field in pairs}
    document["conditions"] = [_entry(condition, CONDITION_FIELDS) for condition in study.conditions.all()]
    named = {code for scale in published_in(study) for code in scale.item_codes}  # as covariate_scales
    items = study.items.order_by("position", "code")
    document["items"] = [_entry(item, ITEM_FIELDS) for item in items if item.code not in named]
    order = [condition["code"] for condition in document["conditions"]]
    stimuli = list(study.stimuli.prefetch_related("traces").order_by("id"))
    document["stimuli"] = [_stimulus(s, order) for s in stimuli if not s.is_practice]
    document["practice_problems"] = [_stimulus(s, order) for s in stimuli if s.is_practice]
    document["design"]["exact_balance"] = exact_balance(document)
    for section in sections.registered():
        part = section.export(study)
        if part is not None:
            document[section.key] = part
    return document


def _translations(row: TranslatedModel) -> dict:
    """The row's texts in the study's other languages, under their key, where it has any."""
    return {TRANSLATIONS: _sorted(row.translations)} if row.translations else {}


def _entry(row: TranslatedModel, fields: tuple[str, ...]) -> dict:
    return {**{name: getattr(row, name) for name in fields}, **_translations(row)}


def _stimulus(stimulus: Stimulus, order: list[str]) -> dict:
    """A problem with each condition's text (in the study's order of conditions)."""
    entry = _entry(stimulus, STIMULUS_FIELDS)
    entry["grades"] = _sorted(stimulus.grades)
    place = {code: n for n, code in enumerate(order)}
    traces = sorted(stimulus.traces.all(), key=lambda t: (place.get(t.condition, len(order)), t.condition))
    entry["texts"] = {
        trace.condition: {"text": trace.text, "provenance": _sorted(trace.provenance),
                          **_entry(trace, TEXT_FIELDS)}
        for trace in traces
    }
    return entry


def _sorted(value: object) -> object:
    """Objects' keys in order, at every depth: the same file from SQLite and from PostgreSQL (whose jsonb
    keeps keys in an order of its own)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def dumps(document: dict) -> str:
    """The file's text: indented, UTF-8 as is, one newline at the end."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
