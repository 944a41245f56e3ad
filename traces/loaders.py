"""Loading QA problems from data files into plain ``Problem`` records.

The paper (arXiv 2505.13792) uses CoTempQA, bAbI and MS MARCO. Each file format
gets one loader function registered in ``LOADERS`` under a format name, so a new
format (MS MARCO) is one function plus ``@register_loader("msmarco")``; callers
use ``load(fmt, path, split)`` and get the same ``Problem`` shape whatever the
source.

Loading is all-or-nothing: a loader reads and checks the whole file, then returns
the full list, or raises ``LoadError`` naming the file and line at the first
malformed line (bad JSON, missing key, wrong type), so no caller ever works on
half a data set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from traces.decomposition import RELATIONS

__all__ = [
    "LOADERS",
    "LoadError",
    "PathOrFile",
    "Problem",
    "load",
    "load_babi",
    "load_cotempqa",
    "register_loader",
]

PathOrFile = str | os.PathLike[str] | IO[str] | IO[bytes]
Loader = Callable[[PathOrFile, str], "list[Problem]"]


@dataclass(frozen=True)
class Problem:
    """One QA problem: the question, its context facts and its gold answers.

    ``split`` is the subset the problem comes from (the CoTempQA relation, or a
    bAbI task); ``source_id`` is unique within a dataset and stable across
    loads, so it can key train/test splits and stored traces.
    """

    dataset: str
    split: str
    source_id: str
    question: str
    facts: list[str]
    gold_answers: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)


class LoadError(ValueError):
    """A data file is malformed; the message names the file and line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")


LOADERS: dict[str, Loader] = {}


def register_loader(name: str) -> Callable[[Loader], Loader]:
    """Register a loader under a format name (used by ``load``)."""

    def deco(fn: Loader) -> Loader:
        if name in LOADERS:
            raise ValueError(f"loader {name!r} is already registered")
        LOADERS[name] = fn
        return fn

    return deco


def load(fmt: str, path_or_file: PathOrFile, split: str) -> list[Problem]:
    """Load ``path_or_file`` with the loader registered for ``fmt``."""
    try:
        loader = LOADERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {sorted(LOADERS)}") from None
    return loader(path_or_file, split)


# --- reading --------------------------------------------------------------------------------------


def _read_lines(path_or_file: PathOrFile) -> tuple[str, list[str]]:
    """(name for messages, lines) of a path or an open text/binary file."""
    if isinstance(path_or_file, str | os.PathLike):
        name = os.fspath(path_or_file)
        try:
            raw: str | bytes = Path(name).read_bytes()
        except OSError as exc:
            raise LoadError(name, None, f"cannot read file: {exc.strerror or exc}") from exc
    else:
        name = str(getattr(path_or_file, "name", "<stream>"))
        try:
            raw = path_or_file.read()
        except (OSError, ValueError) as exc:
            raise LoadError(name, None, f"cannot read file: {exc}") from exc
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise LoadError(name, line, f"not valid UTF-8 ({exc.reason})") from exc
    elif isinstance(raw, str):
        text = raw
    else:
        raise LoadError(name, None, f"file object returned {type(raw).__name__}, not text")
    if text.startswith("\ufeff"):
        text = text[1:]
    # split on \n only: str.splitlines would also split inside lines on \u2028 etc.
    return name, text.split("\n")


def read_json_lines(path_or_file: PathOrFile) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    """(name for messages, [(line number, object)]) for the non-blank lines of a JSON Lines file;
    LoadError, naming the line, for bad UTF-8, bad JSON, a non-object or a NUL character."""
    name, lines = _read_lines(path_or_file)
    out: list[tuple[int, dict[str, Any]]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise LoadError(name, lineno, f"invalid JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise LoadError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
        if _has_nul(obj):
            raise LoadError(name, lineno, "text contains a NUL character (\\u0000), which cannot be stored")
        out.append((lineno, obj))
    return name, out


def _has_nul(value: Any) -> bool:
    """NUL anywhere in the record's strings: PostgreSQL text refuses it, so refuse it here, by line."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], name: str, lineno: int) -> Any:
    if key not in obj:
        raise LoadError(name, lineno, f"missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise LoadError(name, lineno, f"{key!r} must be {want}, got {type(value).__name__}")
    return value


def _str_list(obj: dict[str, Any], key: str, name: str, lineno: int) -> list[str]:
    value = _field(obj, key, list, name, lineno)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise LoadError(name, lineno, f"{key!r}[{i}] must be str, got {type(item).__name__}")
    return list(value)


# --- CoTempQA -------------------------------------------------------------------------------------


@register_loader("cotempqa")
def load_cotempqa(path_or_file: PathOrFile, relation: str) -> list[Problem]:
    """CoTempQA JSON Lines (index, triple_element, question, facts, answer).

    ``relation`` is the split the file holds (its name: equal / overlap /
    during / mix); CoTempQA records do not carry it. Source ids are
    ``cotempqa-<relation>-<index>``, as in the project's pilot stimuli.
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
    name, rows = read_json_lines(path_or_file)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for lineno, obj in rows:
        index = _field(obj, "index", int, name, lineno)
        question = _field(obj, "question", str, name, lineno)
        facts = _str_list(obj, "facts", name, lineno)
        answers = _str_list(obj, "answer", name, lineno)
        if not answers:
            raise LoadError(name, lineno, "'answer' is empty")
        triple = obj.get("triple_element")
        if triple is not None and not isinstance(triple, str):
            raise LoadError(name, lineno, f"'triple_element' must be str, got {type(triple).__name__}")
        source_id = f"cotempqa-{relation}-{index}"
        if source_id in seen:
            raise LoadError(name, lineno, f"duplicate index {index} (first on line {seen[source_id]})")
        seen[source_id] = lineno
        problems.append(
            Problem(
                dataset="cotempqa",
                split=relation,
                source_id=source_id,
                question=question,
                facts=facts,
                gold_answers=answers,
                metadata={"index": index, "triple_element": triple, "line": lineno},
            )
        )
    return problems


# --- bAbI (Hugging Face babi_qa) ------------------------------------------------------------------

_STORY_KEYS = ("id", "type", "text", "supporting_ids", "answer")
_TYPE_NAMES = {"context": 0, "question": 1}


@register_loader("babi_qa")
def load_babi(path_or_file: PathOrFile, task: str) -> list[Problem]:
    """bAbI stories in the Hugging Face ``babi_qa`` format, one story a JSON line.

    Each line is ``{"story": {"id": [...], "type": [...], "text": [...],
    "supporting_ids": [[...], ...], "answer": [...]}}``: parallel lists over the
    story's lines, ``type`` 0 for a context sentence and 1 for a question (the
    ClassLabel names "context" / "question" are accepted too), ``answer`` ""
    on context lines. Every question becomes one Problem whose facts are the
    story's context sentences before it (earlier questions are left out) and
    whose gold answer is the answer string (list answers such as
    "apple,football" in task 8 are kept whole). ``task`` names the subset
    (e.g. "en-qa1"). Source ids are ``babi-<task>-<file line>-<question id>``.
    """
    name, rows = read_json_lines(path_or_file)
    problems: list[Problem] = []
    for lineno, obj in rows:
        story = _field(obj, "story", dict, name, lineno)
        cols = {key: _field(story, key, list, name, lineno) for key in _STORY_KEYS}
        lengths = {key: len(col) for key, col in cols.items()}
        if len(set(lengths.values())) != 1:
            raise LoadError(name, lineno, f"story lists differ in length: {lengths}")
        context: list[tuple[str, str]] = []  # (id, text)
        seen_ids: set[str] = set()
        for i in range(lengths["id"]):
            line_id, kind, text = cols["id"][i], cols["type"][i], cols["text"][i]
            supporting, answer = cols["supporting_ids"][i], cols["answer"][i]
            where = f"story line {i}"
            if not isinstance(line_id, str | int) or isinstance(line_id, bool):
                raise LoadError(name, lineno, f"{where}: 'id' must be str, got {type(line_id).__name__}")
            line_id = str(line_id)
            if line_id in seen_ids:
                raise LoadError(name, lineno, f"{where}: duplicate id {line_id!r}")
            seen_ids.add(line_id)
            kind = _TYPE_NAMES.get(kind, kind) if isinstance(kind, str) else kind
            if not isinstance(kind, int) or isinstance(kind, bool) or kind not in (0, 1):
                raise LoadError(name, lineno, f"{where}: 'type' must be 0 (context) or 1 (question)")
            if not isinstance(text, str):
                raise LoadError(name, lineno, f"{where}: 'text' must be str, got {type(text).__name__}")
            if not isinstance(answer, str):
                raise LoadError(name, lineno, f"{where}: 'answer' must be str, got {type(answer).__name__}")
            if not isinstance(supporting, list) or not all(isinstance(s, str) for s in supporting):
                raise LoadError(name, lineno, f"{where}: 'supporting_ids' must be a list of str")
            if kind == 0:
                context.append((line_id, text))
                continue
            if not answer.strip():
                raise LoadError(name, lineno, f"{where}: question {line_id!r} has no answer")
            texts = dict(context)
            problems.append(
                Problem(
                    dataset="babi",
                    split=task,
                    source_id=f"babi-{task}-{lineno}-{line_id}",
                    question=text,
                    facts=[t for _, t in context],
                    gold_answers=[answer],
                    metadata={
                        "line": lineno,
                        "question_id": line_id,
                        "fact_ids": [fid for fid, _ in context],
                        "supporting_ids": list(supporting),
                        "supporting_facts": [texts[s] for s in supporting if s in texts],
                    },
                )
            )
    return problems
