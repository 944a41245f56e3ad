"""Loading QA problems from data files into plain ``Problem`` records.

The paper (arXiv 2505.13792) uses CoTempQA, bAbI and MS MARCO. Each file format
gets one loader function registered in ``LOADERS`` under a format name, so a new
format is one function plus ``@register_loader(name)``; callers use
``load(fmt, path, subset)`` and get the same ``Problem`` shape whatever the
source. ``subset`` names what the file holds: CoTempQA's relation, a bAbI task,
or, for files whose rows carry their own task or query type (the authors' bAbI
files, MS MARCO), the file.

Loading is all-or-nothing: a loader reads and checks the whole file, then returns
the full list, or raises ``LoadError`` naming the file and line at the first
malformed line (bad JSON, missing key, wrong type), so no caller ever works on
half a data set.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from traces.decomposition import RELATIONS
from traces.msmarco_decomposition import CATEGORIES

__all__ = [
    "LOADERS",
    "LoadError",
    "PathOrFile",
    "Problem",
    "load",
    "load_babi",
    "load_babi_authors",
    "load_cotempqa",
    "load_cotempqa_authors",
    "load_msmarco",
    "register_loader",
]

PathOrFile = str | os.PathLike[str] | IO[str] | IO[bytes]
Loader = Callable[[PathOrFile, str], "list[Problem]"]


@dataclass(frozen=True)
class Problem:
    """One QA problem: the question, its context facts and its gold answers.

    ``subset`` is the part of the dataset the problem comes from (the CoTempQA
    relation, or a bAbI task); ``source_id`` is unique within a dataset and stable
    across loads, so it can key train/test splits and stored traces.
    """

    dataset: str
    subset: str
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


def load(fmt: str, path_or_file: PathOrFile, subset: str) -> list[Problem]:
    """Load ``path_or_file`` with the loader registered for ``fmt``."""
    try:
        loader = LOADERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {sorted(LOADERS)}") from None
    return loader(path_or_file, subset)


# --- reading --------------------------------------------------------------------------------------


def _read_text(path_or_file: PathOrFile) -> tuple[str, str]:
    """(name for messages, text) of a path or an open text/binary file, decoded as UTF-8; gzipped
    bytes (MS MARCO is downloaded as ``.json.gz``) are unpacked first."""
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
    if isinstance(raw, bytes) and raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise LoadError(name, None, f"not a valid gzip file ({exc})") from exc
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
    return name, text


def _read_lines(path_or_file: PathOrFile) -> tuple[str, list[str]]:
    """(name for messages, lines) of a path or an open text/binary file."""
    name, text = _read_text(path_or_file)
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
                subset=relation,
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
                    subset=task,
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


# --- the paper authors' CSV files (traces/data/trace_check_qa) -------------------------------------

#: Where each relation starts in the authors' ``index`` column, which numbers the four CoTempQA
#: files concatenated in alphabetical order (see traces/data/trace_check_qa/PROVENANCE.md).
AUTHORS_INDEX_OFFSET = {"during": 0, "equal": 3096, "mix": 3532, "overlap": 4095}
_AUTHORS_PROMPT_RE = re.compile(
    r"\AAnswer the question based on the context:\n(?P<facts>.*)\nQuestion: (?P<question>.*) "
    r"Only return the answer\.\n\Z",
    re.DOTALL,
)
_CSV_NUL = "\x00"


def read_csv_rows(path_or_file: PathOrFile, required: tuple[str, ...]) -> tuple[str, Iterator]:
    """(name, iterator of (line number, row dict)) of a CSV file with a header naming ``required``."""
    name, text = _read_text(path_or_file)
    if _CSV_NUL in text:
        line = text.count("\n", 0, text.index(_CSV_NUL)) + 1
        raise LoadError(name, line, "text contains a NUL character (\\u0000), which cannot be stored")
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise LoadError(name, 1, f"missing column(s) {', '.join(missing)}; found {reader.fieldnames}")

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise LoadError(name, reader.line_num, f"invalid CSV: {exc}") from exc

    return name, rows()


def _literal_list(value: str, column: str, name: str, line: int) -> list[str]:
    """A column holding a Python list literal of strings (the authors wrote lists with str())."""
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise LoadError(name, line, f"{column!r} is not a Python list literal ({exc})") from exc
    if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
        raise LoadError(name, line, f"{column!r} must be a list of strings")
    return parsed


@register_loader("cotempqa_authors")
def load_cotempqa_authors(path_or_file: PathOrFile, relation: str) -> list[Problem]:
    """The authors' CoTempQA test CSV of one relation (``<relation>_test.csv``).

    The problem gets the source id of the same problem in CoTempQA's own file,
    ``cotempqa-<relation>-<index - offset>``, so a test problem of equal, overlap or mix is the
    problem already imported from ``cotempqa/<relation>.json``. The file's row order is kept in
    ``metadata["authors_row"]``; the bare question comes out of the prompt, which must be the
    authors' rendering of the facts (a Python list on one line).
    """
    if relation not in AUTHORS_INDEX_OFFSET:
        raise ValueError(f"relation must be one of {sorted(AUTHORS_INDEX_OFFSET)}, got {relation!r}")
    columns = ("index", "triple_element", "facts", "question", "reasoning", "answer")
    name, rows = read_csv_rows(path_or_file, columns)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for row_number, (line, row) in enumerate(rows):
        if f": {relation}." not in row["reasoning"]:
            raise LoadError(name, line, f"the reasoning column names another relation than {relation!r}")
        try:
            index = int(row["index"]) - AUTHORS_INDEX_OFFSET[relation]
        except ValueError as exc:
            raise LoadError(name, line, f"'index' must be a whole number, got {row['index']!r}") from exc
        facts = _literal_list(row["facts"], "facts", name, line)
        answers = _literal_list(row["answer"], "answer", name, line)
        if not answers:
            raise LoadError(name, line, "'answer' is empty")
        prompt = _AUTHORS_PROMPT_RE.match(row["question"])
        if prompt is None or prompt.group("facts") != str(facts):
            raise LoadError(name, line, "'question' is not the authors' prompt for these facts")
        source_id = f"cotempqa-{relation}-{index}"
        if source_id in seen:
            raise LoadError(name, line, f"duplicate index {row['index']} (first on line {seen[source_id]})")
        seen[source_id] = line
        problems.append(
            Problem(
                dataset="cotempqa",
                subset=relation,
                source_id=source_id,
                question=prompt.group("question"),
                facts=facts,
                gold_answers=answers,
                metadata={
                    "index": index,
                    "triple_element": row["triple_element"],
                    "authors_index": int(row["index"]),
                    "authors_row": row_number,
                },
            )
        )
    return problems


def _check_file_label(label: str) -> None:
    """A file's name for the problems' ids and metadata: lower-case letters, digits or _."""
    if not re.fullmatch(r"[a-z0-9_]+", label or ""):
        raise ValueError(f"name the file in lower-case letters, digits or _, e.g. 'test'; got {label!r}")


@register_loader("babi_authors")
def load_babi_authors(path_or_file: PathOrFile, file_label: str) -> list[Problem]:
    """A bAbI CSV as the authors used it (``train.csv``, ``test/test.csv``).

    Each row is one problem; its task (``query_type``) is its subset, its story sentences
    (``passages``) its facts, its supporting facts (``answer_passage``) are kept in
    ``metadata["supporting_facts"]``. Rows carry no id, so the source id is
    ``babi-<file_label>-<row>`` (0-based data row): identical rows stay two problems, as in the
    authors' data.
    """
    _check_file_label(file_label)
    columns = ("passages", "question", "query_type", "answer_passage", "answer")
    name, rows = read_csv_rows(path_or_file, columns)
    problems: list[Problem] = []
    for row_number, (line, row) in enumerate(rows):
        passages = _literal_list(row["passages"], "passages", name, line)
        supporting = _literal_list(row["answer_passage"], "answer_passage", name, line)
        outside = [s for s in supporting if s not in passages]
        if outside:
            raise LoadError(name, line, f"supporting fact not in the passages: {outside[0][:80]!r}")
        task, answer = row["query_type"].strip(), row["answer"]
        if not task or not answer.strip():
            raise LoadError(name, line, "'query_type' and 'answer' must not be empty")
        problems.append(
            Problem(
                dataset="babi",
                subset=task,
                source_id=f"babi-{file_label}-{row_number}",
                question=row["question"],
                facts=passages,
                gold_answers=[answer],
                metadata={"supporting_facts": supporting, "authors_row": row_number, "file": file_label},
            )
        )
    return problems


# --- MS MARCO (the official QA files, v1.1 and v2.1) -----------------------------------------------

_MSMARCO_COLUMNS = ("query", "query_id", "query_type", "passages", "answers", "wellFormedAnswers")


def _msmarco_v21_rows(text: str, name: str) -> list[tuple[str, dict[str, Any]]] | None:
    """[(row key, record)] of a v2.1 file (one object of columns keyed by row); None for anything else,
    which is then read as JSON Lines (whose reading refuses a NUL character; so does this, by row)."""
    try:
        whole = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(whole, dict) or not isinstance(whole.get("query"), dict):
        return None
    columns = {c: whole[c] for c in _MSMARCO_COLUMNS if c in whole}
    for column, values in columns.items():
        if not isinstance(values, dict):
            raise LoadError(name, None, f"column {column!r} must be an object keyed by row number")
        stray = next((key for key in values if key not in whole["query"]), None)
        if stray is not None:
            raise LoadError(name, None, f"column {column!r} has a row {stray} that 'query' has not")
    rows = [(key, {c: v[key] for c, v in columns.items() if key in v}) for key in whole["query"]]
    nul = next((key for key, record in rows if _has_nul(record)), None)
    if nul is not None:
        raise LoadError(
            name, None, f"row {nul}: text contains a NUL character (\\u0000), which cannot be stored"
        )
    return rows


def _msmarco_problem(obj: dict[str, Any], name: str, lineno: int | None, file_label: str) -> Problem:
    if "answers" not in obj:
        raise LoadError(name, lineno, "no 'answers' (the public eval file has none: import train or dev)")
    query = _field(obj, "query", str, name, lineno)
    query_id = _field(obj, "query_id", int, name, lineno)
    query_type = _field(obj, "query_type", str, name, lineno).upper()
    if query_type not in CATEGORIES:
        raise LoadError(name, lineno, f"'query_type' must be one of {', '.join(CATEGORIES)} (any case)")
    answers = _str_list(obj, "answers", name, lineno)
    if not answers:
        raise LoadError(name, lineno, "'answers' is empty")
    passages = _field(obj, "passages", list, name, lineno)
    if not passages:
        raise LoadError(name, lineno, "'passages' is empty")
    for i, passage in enumerate(passages):
        flag = passage.get("is_selected") if isinstance(passage, dict) else None
        if type(flag) is not int or flag not in (0, 1) or not all(
            isinstance(passage.get(key), str) for key in ("passage_text", "url")
        ):
            raise LoadError(name, lineno, f"passage {i} needs 'passage_text' and 'url' strings and "
                            "'is_selected' 0 or 1")
    well_formed = obj.get("wellFormedAnswers", [])
    if well_formed == "[]":  # how the official files write "none"
        well_formed = []
    if not isinstance(well_formed, list) or not all(isinstance(a, str) for a in well_formed):
        raise LoadError(name, lineno, "'wellFormedAnswers' must be a list of strings (or \"[]\")")
    return Problem(
        dataset="msmarco",
        subset=query_type,
        source_id=f"msmarco-{query_id}",
        question=query,
        facts=[p["passage_text"] for p in passages],
        gold_answers=answers,
        metadata={
            "query_id": query_id,
            "is_selected": [p["is_selected"] for p in passages],
            "urls": [p["url"] for p in passages],
            "well_formed_answers": well_formed,
            "file": file_label,
        },
    )


@register_loader("msmarco")
def load_msmarco(path_or_file: PathOrFile, file_label: str) -> list[Problem]:
    """MS MARCO's question answering data in its official formats, told apart by their shape, gzipped
    or not: v2.1 (``dev_v2.1.json``), one JSON object of columns keyed by row number (``{"query":
    {"0": ...}, "passages": {"0": [...]}, ...}``), and v1.1 (``dev_v1.1.json``), JSON Lines of one
    query an object with the same keys (``query``, ``query_id``, ``query_type``, ``passages`` with
    ``is_selected``, ``passage_text`` and ``url``, ``answers``, ``wellFormedAnswers``).

    A query is one Problem: its type, upper-cased as v2.1 writes it (v1.1 writes it in lower case),
    is its subset; its passages' texts, in order, its facts; its answers (``["No Answer Present."]``
    where the passages hold none) its gold answers. ``metadata`` keeps the ``query_id``, the passages'
    ``is_selected`` flags and ``urls``, the ``well_formed_answers`` and ``file_label``, which names
    the file (e.g. "dev"). Source ids are ``msmarco-<query_id>``. A malformed file is refused whole,
    naming its line (v1.1) or row (v2.1); so is the public eval file, which has no answers.
    """
    _check_file_label(file_label)
    name, text = _read_text(path_or_file)
    rows = _msmarco_v21_rows(text, name)
    if rows is None:
        stream = io.StringIO(text)
        stream.name = name
        records: list[tuple[int | None, str | None, dict[str, Any]]] = [
            (lineno, None, obj) for lineno, obj in read_json_lines(stream)[1]
        ]
    else:
        records = [(None, key, obj) for key, obj in rows]
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for lineno, row, obj in records:
        try:
            problem = _msmarco_problem(obj, name, lineno, file_label)
            first = seen.get(problem.source_id)
            if first is not None:
                raise LoadError(name, lineno, f"duplicate query_id {obj['query_id']} (first {first})")
        except LoadError as exc:
            if row is None:
                raise
            raise LoadError(name, None, f"row {row}: {exc.reason}") from None
        seen[problem.source_id] = f"on line {lineno}" if row is None else f"at row {row}"
        problems.append(problem)
    return problems
