"""The rows a study file makes, built unsaved from a document the schema accepted: the checks validate
them as the admin's forms would (the models' own rules), and the import saves them."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Condition, Item, Stimulus, StimulusTrace, Study
from .layout import CONDITION_FIELDS, ITEM_FIELDS, STIMULUS_FIELDS, STUDY_GROUPS, TEXT_FIELDS, TRANSLATIONS

Path = tuple[str | int, ...]


@dataclass
class StimulusRows:
    path: Path  # where it is in the file: ("stimuli", 3) or ("practice_problems", 0)
    stimulus: Stimulus
    texts: list[tuple[Path, StimulusTrace]]  # each condition's text (its stimulus set when saved)


@dataclass
class Rows:
    study: Study
    conditions: list[Condition]
    items: list[Item]
    stimuli: list[StimulusRows]  # the trial problems, then the practice problems


def _given(entry: dict, fields: tuple[str, ...]) -> dict:
    """The fields the file gives, with the entry's translations; the others keep the model's defaults."""
    return {name: entry[name] for name in (*fields, TRANSLATIONS) if name in entry}


def build(document: dict, slug: str) -> Rows:
    settings = {
        field: document[group][key]
        for group, pairs in STUDY_GROUPS.items() for key, field in pairs if key in document.get(group, {})
    }
    study = Study(slug=slug, title=document["title"], status=Study.Status.DRAFT,
                  translations=document.get(TRANSLATIONS, {}), **settings)
    conditions = [
        Condition(study=study, position=n, **_given(entry, CONDITION_FIELDS))
        for n, entry in enumerate(document["conditions"], start=1)
    ]
    items = [
        Item(study=study, position=n, **_given(entry, ITEM_FIELDS))
        for n, entry in enumerate(document["items"], start=1)
    ]
    stimuli = []
    for key, practice in (("stimuli", False), ("practice_problems", True)):
        for index, entry in enumerate(document.get(key, [])):
            stimulus = Stimulus(study=study, is_practice=practice, **_given(entry, STIMULUS_FIELDS))
            texts = [
                ((key, index, "texts", code), StimulusTrace(
                    stimulus=stimulus, condition=code, text=text["text"],
                    provenance=text.get("provenance", {}), **_given(text, TEXT_FIELDS),
                ))
                for code, text in entry["texts"].items()
            ]
            stimuli.append(StimulusRows((key, index), stimulus, texts))
    return Rows(study, conditions, items, stimuli)
