"""Reading a study file and saying everything that is wrong with it, each with where: the field as a
path (``items[3].anchors``) and the line in the file.

First the JSON itself (the decoder's line and column), then the schema (``study.schema.json``: keys,
types, allowed values; a key it does not list is an error), then, once the file fits the schema (the
rest reads its parts as the schema describes them), what a schema cannot say: codes
unique, a text for every condition in every problem, the models' own rules (anchors for every scale
point, an attention check's answer on the scale, ...), a design that can run, and targets that
balance the stimuli exactly unless the file accepts near balance (``design.exact_balance``: false).
Lines come from a source map of the file (json-source-map), computed only when there is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from json_source_map import calculate
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from .. import counterbalancing
from ..models import EMPTY_TEXT, Study, TraceKind
from . import sections
from .layout import STUDY_FIELD_PATHS, schema
from .rows import Path, Rows, build

MAX_ERRORS = 50
SLUG_PATTERN = "^[-a-zA-Z0-9_]+$"
LANGUAGE_PATTERN = "^[a-z]{2,3}(-[a-z0-9]+)*$"


@dataclass(frozen=True)
class SpecError:
    """One thing wrong with a study file, and where."""

    path: str  # the field, as a path: "conditions[2].code"; "" for the file as a whole
    line: int | None  # from 1; None where the file has no place for it (a slug given on the command line)
    message: str

    def __str__(self) -> str:
        """``items[3].anchors (line 57): ...``; ``line 8: ...`` for the file as a whole."""
        line = f"line {self.line}" if self.line else ""
        where = f"{self.path} ({line})" if self.path and line else self.path or line
        return f"{where}: {self.message}" if where else self.message


class InvalidSpec(ValueError):
    """The file cannot be imported; ``errors`` says why, and nothing was changed."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


@dataclass(frozen=True)
class CheckedSpec:
    """A study file with nothing wrong: its document and the rows it makes, unsaved."""

    document: dict
    rows: Rows

    @property
    def has_stimuli(self) -> bool:
        return bool(self.document["stimuli"])


def read(source: bytes | str, *, slug: str | None = None) -> CheckedSpec:
    """Check a study file (under ``slug`` instead of the file's, if given); InvalidSpec if anything is
    wrong. Reads the database only to see whether the slug is taken."""
    text = _decoded(source)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidSpec(
            [SpecError("", error.lineno, f"Not valid JSON: {error.msg} (column {error.colno}).")]
        ) from None
    problems = [found for error in _validator().iter_errors(document) for found in _schema_problems(error)]
    rows = None
    if not problems:
        rows = build(document, slug or document["slug"])
        problems = _content_problems(document, rows)
    name = slug or (document.get("slug") if isinstance(document, dict) else None)
    if isinstance(name, str) and Study.objects.filter(slug=name).exists():
        problems.append((("slug",), f"A study '{name}' exists already; nothing was changed. Import it under "
                         "another slug (--slug, or the slug field of the admin's upload)."))
    if problems:
        lines = _Lines(text)
        # a slug given with the import is not in the file: its problems have no line
        errors = [SpecError(_dotted(path), None if slug and path == ("slug",) else lines.line(path), message)
                  for path, message in problems]
        errors.sort(key=lambda e: (e.line or 0, e.path))
        if len(errors) > MAX_ERRORS:
            errors = [*errors[:MAX_ERRORS], SpecError("", None, f"... and {len(errors) - MAX_ERRORS} more.")]
        raise InvalidSpec(errors)
    return CheckedSpec(document, rows)


def _decoded(source: bytes | str) -> str:
    if isinstance(source, str):
        return source
    try:
        return source.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = source[: error.start].count(b"\n") + 1
        raise InvalidSpec([SpecError("", line, "Not UTF-8 text: save the file as UTF-8.")]) from None


class _Lines:
    """Line numbers of the places in a JSON text (the nearest enclosing place for one it lacks)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._map: dict | None = None

    def line(self, path: Path) -> int | None:
        if self._map is None:
            self._map = calculate(self._text)
        parts = list(path)
        while True:
            entry = self._map.get("".join(f"/{part}" for part in parts))
            if entry is not None:
                return (entry.key_start or entry.value_start).line + 1
            if not parts:
                return None
            parts.pop()


def _dotted(path: Path) -> str:
    """("items", 3, "anchors") -> "items[3].anchors"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- the schema --------------------------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


#: The schema's types in words, and the type of a value read from JSON.
TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string", "boolean": "true or false",
              "integer": "a whole number", "number": "a number", "null": "null"}
JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
              type(None): "null"}


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_problems(error: SchemaError) -> list[sections.Problem]:
    """What the schema found, in words, at the place it is about (an unknown key: at the key)."""
    path, value = tuple(error.absolute_path), error.instance
    kind, expected = error.validator, error.validator_value
    size = len(value) if isinstance(value, str | list) else "?"
    if kind == "additionalProperties" and expected is False:
        allowed = ", ".join(error.schema.get("properties", {}))
        return [((*path, key), f"Unknown key '{key}'; the keys here are {allowed}.")
                for key in value if key not in error.schema.get("properties", {})]
    if kind == "required":
        return [(path, error.message[:1].upper() + error.message[1:] + ".")]
    if kind == "const":
        return [(path, f"Must be {_shown(expected)}, the format this platform reads"
                       f"{' (the file says ' + _shown(value) + ')' if path == ('format',) else ''}.")]
    if kind == "type":
        wanted = " or ".join(TYPE_WORDS[t] for t in ([expected] if isinstance(expected, str) else expected))
        return [(path, f"Must be {wanted}, not {TYPE_WORDS[JSON_TYPES[type(value)]]}: {_shown(value)}.")]
    if kind == "enum":
        return [(path, f"Must be one of {', '.join(map(_shown, expected))}, not {_shown(value)}.")]
    if kind == "pattern":
        if expected == SLUG_PATTERN:
            return [(path, f"Must be a code of letters, digits, _ and - only, not {_shown(value)}.")]
        if expected == LANGUAGE_PATTERN:
            return [(path, f"Must be a language code such as en or de, not {_shown(value)}.")]
        return [(path, "Must not be blank.")]
    messages = {
        "minLength": "Must not be empty.",
        "maxLength": f"At most {expected} characters; this has {size}.",
        "minimum": f"At least {expected}, not {_shown(value)}.",
        "minItems": f"At least {expected} entries; this has {size}.",
        "maxItems": f"At most {expected} entries; this has {size}.",
    }
    return [(path, messages.get(kind, error.message))]


# --- what the schema cannot say ----------------------------------------------------------------------


def _content_problems(document: dict, rows: Rows) -> list[sections.Problem]:
    duplicates = _duplicates(document)
    problems = duplicates + _model_problems(rows) + _practice_problems(document)
    if not duplicates:  # else each text would be wrong too
        problems += _missing_texts(document) + _empty_texts(document)
    problems += _design_problems(document) if not problems else []
    for section in sections.registered():
        value = document.get(section.key)
        if value is not None:
            problems += [((section.key, *path), message) for path, message in section.check(value, document)]
    return problems


def _duplicates(document: dict) -> list[sections.Problem]:
    """Each code used twice: conditions, items, and problems (trial and practice share one list of codes)."""
    problems = []
    groups = {
        "condition": [(("conditions", n), c["code"]) for n, c in enumerate(document["conditions"])],
        "item": [(("items", n), i["code"]) for n, i in enumerate(document["items"])],
        "problem": [((key, n), s["code"]) for key in ("stimuli", "practice_problems")
                    for n, s in enumerate(document.get(key, []))],
    }
    for kind, coded in groups.items():
        first: dict[str, Path] = {}
        for path, code in coded:
            if code in first:
                problems.append(((*path, "code"), f"The {kind} code '{code}' is used twice (first at "
                                                  f"{_dotted(first[code])}); codes must be unique."))
            first.setdefault(code, path)
    return problems


def _model_problems(rows: Rows) -> list[sections.Problem]:
    """The models' own rules (Study.clean, Item.clean: anchors, expected answers; field lengths)."""
    problems = _errors_of(rows.study, STUDY_FIELD_PATHS, (), exclude=[])
    for n, condition in enumerate(rows.conditions):
        problems += _errors_of(condition, {}, ("conditions", n), exclude=["study"],
                               what=f"Condition '{condition.code}'")
    for n, item in enumerate(rows.items):
        problems += _errors_of(item, {}, ("items", n), exclude=["study"], what=f"Item '{item.code}'")
    for entry in rows.stimuli:
        problems += _errors_of(entry.stimulus, {}, entry.path, exclude=["study"],
                               what=f"Problem '{entry.stimulus.code}'")
        for path, trace in entry.texts:
            problems += _errors_of(trace, {"condition": path}, path, exclude=["stimulus", "reference_trace"])
    return problems


def _errors_of(row: models.Model, paths: dict[str, Path], at: Path, *, exclude: list[str],
               what: str = "") -> list[sections.Problem]:
    """A row's validation errors, each at its field's place in the file (``paths``, else ``at`` + the
    field's name)."""
    try:
        row.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        return [
            (at if field == NON_FIELD_ERRORS else paths.get(field, (*at, field)),
             f"{what + ': ' if what else ''}{' '.join(messages)}")
            for field, messages in error.message_dict.items()
        ]
    return []


def _missing_texts(document: dict) -> list[sections.Problem]:
    """Every problem needs a text for every condition, and none for a condition the study lacks."""
    codes = [condition["code"] for condition in document["conditions"]]
    problems = []
    for key in ("stimuli", "practice_problems"):
        for n, stimulus in enumerate(document.get(key, [])):
            missing = [code for code in codes if code not in stimulus["texts"]]
            if missing:
                problems.append(((key, n, "texts"), f"Problem '{stimulus['code']}' has no text for the "
                                 f"condition{'s' if len(missing) > 1 else ''} {', '.join(missing)}: every "
                                 "condition needs one."))
            problems += [((key, n, "texts", code), f"There is no condition '{code}'; the conditions are "
                          f"{', '.join(codes)}.") for code in stimulus["texts"] if code not in codes]
    return problems


def _empty_texts(document: dict) -> list[sections.Problem]:
    """An empty text is only for a condition that shows the model's answer alone."""
    answer_only = {c["code"] for c in document["conditions"] if c.get("trace_kind") == TraceKind.ANSWER_ONLY}
    return [
        ((key, n, "texts", code, "text"), f"Problem '{stimulus['code']}', condition '{code}': {EMPTY_TEXT}")
        for key in ("stimuli", "practice_problems") for n, stimulus in enumerate(document.get(key, []))
        for code, text in stimulus["texts"].items() if not text["text"].strip() and code not in answer_only
    ]


def _practice_problems(document: dict) -> list[sections.Problem]:
    if document.get("participation", {}).get("practice_trial") and not document.get("practice_problems"):
        return [(("participation", "practice_trial"), "The practice trial is on, but practice_problems is "
                 "empty: give the practice problem there, with a text for every condition.")]
    return []


def _design_numbers(document: dict) -> tuple[list[str], str]:
    """Why the design cannot run (counterbalancing.design_problems), and else whether its targets balance
    the stimuli exactly (counterbalancing.balance_note: "" when they do); both empty without stimuli."""
    design, n_stimuli = document["design"], len(document["stimuli"])
    if not n_stimuli:
        return [], ""  # a design whose stimuli are built later: checked when it is set live
    assignment, trials = design["assignment"], design["trials_per_participant"]
    n_conditions = len(document["conditions"])
    cannot = counterbalancing.design_problems(assignment, n_conditions, trials, n_stimuli)
    if cannot:
        return cannot, ""
    return [], counterbalancing.balance_note(
        assignment, n_conditions, n_stimuli, trials, document["design"]["target_per_condition"]
    )


def _design_problems(document: dict) -> list[sections.Problem]:
    """A design that cannot run, or targets that would not balance the stimuli exactly when the file asks
    for exact balance (the default)."""
    cannot, note = _design_numbers(document)
    problems = [(("design",), problem) for problem in cannot]
    if note and document["design"].get("exact_balance", True):
        problems.append((("design", "target_per_condition"), f"{note} Give one of those targets, or set "
                         "\"exact_balance\": false to run it with counts that close."))
    return problems


def exact_balance(document: dict) -> bool:
    """What the writer puts in design.exact_balance: false exactly when the document's numbers do not
    balance the stimuli exactly, so that the file it writes imports."""
    return not _design_numbers(document)[1]
