"""What a Psych-DS package says about a study: its data files' names, ``dataset_description.json``, the
README and the CHANGES file.

Built from the codebook (:func:`studyapp.exports.codebook`'s dict) and each data file's columns with their
descriptions, the same texts the codebook and the API give, so the package never describes a column
differently from the exports. No Django here.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Self

from .rules import SCHEMA_VERSION

#: The JSON-LD context Psych-DS asks for ("a '@context' field with the value 'https://schema.org'",
#: rules_and_conventions.md); terms expand into the schema's namespace, rules.compiled_metadata.namespace.
CONTEXT = "https://schema.org/"
MS = re.compile(r"(^|_)ms$")
CONDITION = re.compile(r"(t\d+_)?condition")
CONFIDENCE = re.compile(r"(t\d+_)?confidence")

#: Each export in the package: what a row is, and the columns that together identify a row (the spec
#: RECOMMENDS naming them in the README, objects.common_principles.columns). From the models' unique
#: constraints.
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "responses": ("one per answer: participant x stimulus x item; end-of-study items have no stimulus",
                  ("participant_id", "stimulus", "item")),
    "responses-wide": ("one per participant, one column per trial x item", ("participant_id",)),
    "page-times": ("one per page a participant was shown", ("participant_id", "page")),
    "participants": ("one per participant", ("participant_id",)),
    "judgements": ("one per trial judgement (verification and simulation studies)",
                   ("participant_id", "stimulus_id")),
    "stimuli": ("one per stimulus x condition: the text shown and where it came from",
                ("stimulus_id", "condition")),
    "texts": ("one per version of each stimulus x condition's texts",
              ("stimulus_id", "condition", "version")),
    "codebook": ("one per design fact, condition, item, status code and export column",
                 ("section", "code")),
}


@dataclass(frozen=True)
class DatasetInfo:
    """What only the researcher can say about the dataset: the schema recommends ``author``, ``license``,
    ``citation``, ``funder``, ``url``, ``identifier`` and ``keywords`` (rules.compiled_metadata.fields).
    Fields left empty stay out of ``dataset_description.json``; ``name`` and ``description`` default to
    the study's title and design."""

    name: str = ""
    description: str = ""
    author: tuple[str, ...] = ()
    license: str = ""
    citation: str = ""
    funder: str = ""
    url: str = ""
    identifier: str = ""
    keywords: tuple[str, ...] = ()

    @classmethod
    def given(cls, values: Mapping[str, Any]) -> Self:
        """From a request's or a command's values (others ignored, missing ones empty); lists as tuples."""
        found = {f.name: values.get(f.name) for f in fields(cls)}
        return cls(**{name: tuple(value) if isinstance(value, list) else value
                      for name, value in found.items() if value})


@dataclass(frozen=True)
class DataFile:
    """One CSV of the package: its path in the dataset, the export it holds, and its columns."""

    path: str
    table: str
    columns: Sequence[tuple[str, str]] = field(repr=False)


def keyword_value(text: str) -> str:
    """A file-name keyword's value, letters and digits only (rules.files.tabular_data.data.Datafile's
    fileRegex), from a slug or an export's name: ``page-times`` gives ``pageTimes``."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    if not words:
        raise ValueError(f"{text!r} has no letter or digit to name a Psych-DS data file by.")
    return words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])


def datafile_path(study_slug: str, table: str) -> str:
    """``data/study-<slug>_description-<export>_data.csv``: official keywords only (``study`` and
    ``description``; meta.context.keywords), so no unofficial-keyword warning."""
    return f"data/study-{keyword_value(study_slug)}_description-{keyword_value(table)}_data.csv"


def study_description(book: dict, participants: str) -> str:
    """The dataset's default description: the study's design, task and conditions, and who is in it."""
    design, task = book["design"], book["task"]
    conditions = "; ".join(f"{c['code']} ({c['label']})" for c in book["conditions"])
    return (
        f"{book['title']}. A study of how people read a language model's reasoning, run on trace-study. "
        f"Design: {design['label']}, {design['trials_per_participant']} trials per participant. "
        f"Trial task: {task['label']}. Conditions: {conditions}. Participants in the data files: "
        f"{participants}."
    )


def _term(code: object, name: str, description: str = "") -> dict[str, Any]:
    term = {"@type": "DefinedTerm", "termCode": str(code), "name": name}
    return {**term, "description": description} if description else term


def _anchors(anchors: list[dict]) -> str:
    return ", ".join(f"{a['value']} = {a['label']}" for a in anchors)


def _item_term(item: dict) -> dict[str, Any]:
    keyed = "; reverse-keyed (stored as chosen)" if item["reverse_keyed"] else ""
    where = "under every trace" if item["scope"] == "trial" else "at the end of the study"
    return _term(item["code"], item["text"], (
        f"{item['construct_label']}, asked {where}; 1 to {item['scale_points']}: "
        f"{_anchors(item['anchors'])}{keyed}."
    ))


def _code_lists(book: dict) -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    """What the coded columns' values mean, from the codebook: column name pattern -> extra properties."""
    items = book["items"]
    constructs = {item["construct"]: item["construct_label"] for item in items}
    confidence = book["task"]["confidence_anchors"]
    lists = [
        (CONDITION, {"valueReference": [
            _term(c["code"], c["label"], f"Heading: {c['heading']}. Text: {c['trace_kind_label']}.")
            for c in book["conditions"]
        ]}),
        (re.compile("status"), {"valueReference": [_term(s["code"], s["label"])
                                                   for s in book["participant_statuses"]]}),
        (CONFIDENCE, {"minValue": 1, "maxValue": len(confidence), "valueReference": [
            {"@type": "PropertyValue", "value": a["value"], "name": a["label"]} for a in confidence
        ]}),
    ]
    if items:  # a study may have no items at all
        lists += [
            (re.compile("item"), {"valueReference": [_item_term(item) for item in items]}),
            (re.compile("construct"), {"valueReference": [_term(code, label)
                                                          for code, label in constructs.items()]}),
            (re.compile("value"), {"minValue": 1, "maxValue": max(item["scale_points"] for item in items)}),
        ]
    return lists


def _merged(by_table: dict[str, str]) -> str:
    """One description of a column several exports share: the text, or each export's where they differ."""
    tables: dict[str, list[str]] = {}
    for table, text in by_table.items():
        tables.setdefault(text, []).append(table)
    if len(tables) == 1:
        return next(iter(tables))
    return " | ".join(f"{', '.join(names)}: {text}" for text, names in tables.items())


def variables(book: dict, files: Sequence[DataFile]) -> list[dict[str, Any]]:
    """``variableMeasured``: a schema.org PropertyValue for every column of every data file (the schema's
    containsAllColumns), in order of first appearance, with what coded values mean where the codebook
    says (items with their wording and anchors, conditions, statuses, the confidence scale)."""
    described: dict[str, dict[str, str]] = {}
    for data_file in files:
        for name, text in data_file.columns:
            described.setdefault(name, {})[data_file.table] = text
    code_lists = _code_lists(book)
    found = []
    for name, by_table in described.items():
        variable: dict[str, Any] = {"@type": "PropertyValue", "name": name, "description": _merged(by_table)}
        if MS.search(name):
            variable["unitText"] = "ms"
        for pattern, extra in code_lists:
            if pattern.fullmatch(name):
                variable.update(extra)
        found.append(variable)
    return found


def dataset_description(
    book: dict, files: Sequence[DataFile], info: DatasetInfo, participants: str
) -> dict[str, Any]:
    """``dataset_description.json``: schema.org Dataset JSON-LD with the required ``name``,
    ``description`` and ``variableMeasured`` (rules.compiled_metadata), and whichever recommended
    fields the researcher gave."""
    given = {
        "author": list(info.author), "license": info.license, "citation": info.citation,
        "funder": info.funder, "url": info.url, "identifier": info.identifier,
        "keywords": list(info.keywords),
    }
    return {
        "@context": CONTEXT,
        "@type": "Dataset",
        "name": info.name or book["title"],
        "description": info.description or study_description(book, participants),
        "schemaVersion": f"Psych-DS {SCHEMA_VERSION}",
        **{key: value for key, value in given.items() if value},
        "variableMeasured": variables(book, files),
    }


def readme(description: dict[str, Any], files: Sequence[DataFile], exported: str) -> str:
    """README.md (recommended, rules.files.common.core.README): what the files are, how a row is
    identified in each, and how the cells are written."""
    rows = "\n".join(
        f"| `{f.path}` | {TABLES[f.table][0]} | {', '.join(TABLES[f.table][1])} |" for f in files
    )
    return f"""# {description['name']}

{description['description']}

This folder is a Psych-DS {SCHEMA_VERSION} dataset (https://psych-ds.github.io/), exported from trace-study
on {exported}. `dataset_description.json` describes it (schema.org JSON-LD) and every column of the data
files (`variableMeasured`); the codebook file has the same descriptions with the items' wording and
anchors.

## Data files

| file | rows | columns that identify a row |
|---|---|---|
{rows}

Times are ISO 8601 in UTC, yes/no is 1/0 and a missing value is an empty cell. Text that a spreadsheet
would run as a formula (a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return) starts with
an added `'`; strip it to get the exact text.
"""


def changes(exported: str, participants: str) -> str:
    """CHANGES.md (recommended, rules.files.common.core.CHANGES): the dataset's history, starting with
    this export."""
    return (f"# Changes\n\n## {exported}\n\n"
            f"First version, exported from trace-study. Participants: {participants}.\n")
