"""Reading files of model outputs made anywhere (a cluster, vLLM, an API, the paper authors' runs).

Two JSON Lines formats, one object a line, told apart line by line:

* the authors' (``traces/data/trace_check_qa/*/outputs``): ``prediction`` with, for CoTempQA,
  ``question``, ``facts`` (a list), ``gold`` (a list) and ``triple_element``; for bAbI,
  ``question``, ``passage`` (the story as a Python list literal), ``query_type`` (the task),
  ``gold`` and ``answer_passage``; for MS MARCO (``marco_sft_inference.py``), ``question``,
  ``passage`` (the passages as a Python list literal), ``query_type``, ``gold`` (the answers as their
  CSV wrote them: a list literal, or numpy's repr of one, its items without commas), ``reasoning``
  and ``answer_passage``; ``input`` (the prompt the model saw) is kept when present;
* a plain one: ``prediction`` and either ``id`` (the problem's source id, e.g.
  ``cotempqa-during-12``) or ``question`` and ``facts`` (a list); ``prompt`` is kept when present.

Reading checks every line and reports each malformed one by its number; nothing is returned half.
Matching lines to stored problems is ``traces.evaluations``'s job.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from .grading.parsing import scan_list
from .loaders import LoadError, PathOrFile, read_json_lines

__all__ = ["OutputLine", "read_output_lines"]

_MAX_ERRORS = 20


@dataclass(frozen=True)
class OutputLine:
    """One output and what identifies its problem."""

    line: int
    prediction: str
    source_id: str | None
    question: str | None
    facts: tuple[str, ...] | None
    gold: tuple[str, ...] | None
    task: str | None  # bAbI: the task named on the line; MS MARCO: the query type
    prompt: str
    format: str  # "authors" or "plain"


def _text_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str) and value.startswith("["):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _gold(value: str) -> tuple[str, ...]:
    """A gold string: the items of a list literal (Python's or numpy's repr), else the one answer."""
    if value.startswith("["):
        items, closed, _ = scan_list(value)
        if closed and items:
            return tuple(items)
    return (value,)


def _prompt(record: dict[str, Any]) -> str:
    given = record.get("input", record.get("prompt", ""))
    if isinstance(given, dict):  # the authors' CoTempQA files wrap it: {"text": ...}
        given = given.get("text", "")
    return given if isinstance(given, str) else ""


def _parse(lineno: int, record: dict[str, Any]) -> OutputLine:
    prediction = record.get("prediction")
    if not isinstance(prediction, str):
        raise ValueError("needs a 'prediction' string")
    source_id = record.get("id", record.get("problem_id"))
    if source_id is not None and not isinstance(source_id, str):
        raise ValueError("'id' must be a string (the problem's source id)")
    question = record.get("question")
    if question is not None and not isinstance(question, str):
        raise ValueError("'question' must be a string")
    raw_facts = record.get("facts", record.get("passage"))
    facts = _text_list(raw_facts) if raw_facts is not None else None
    if raw_facts is not None and facts is None:
        raise ValueError("'facts' (or 'passage') must be a list of strings")
    raw_gold = record.get("gold")
    if isinstance(raw_gold, str):
        gold: tuple[str, ...] | None = _gold(raw_gold)
    else:
        gold = None if raw_gold is None else _text_list(raw_gold)
    if raw_gold is not None and gold is None:
        raise ValueError("'gold' must be a string or a list of strings")
    task = record.get("query_type")
    if task is not None and not isinstance(task, str):
        raise ValueError("'query_type' must be a string")
    if source_id is None and (question is None or facts is None):
        raise ValueError("needs the problem's 'id', or its 'question' and 'facts'")
    authors = source_id is None and gold is not None
    return OutputLine(
        line=lineno, prediction=prediction, source_id=source_id, question=question, facts=facts,
        gold=gold, task=task, prompt=_prompt(record), format="authors" if authors else "plain",
    )


def read_output_lines(path_or_file: PathOrFile) -> tuple[str, list[OutputLine]]:
    """(file name, lines) of an outputs file; LoadError listing the malformed lines by number."""
    name, records = read_json_lines(path_or_file)
    lines: list[OutputLine] = []
    problems: list[str] = []
    for lineno, record in records:
        try:
            lines.append(_parse(lineno, record))
        except ValueError as exc:
            problems.append(f"line {lineno}: {exc}")
    if problems:
        more = f" (and {len(problems) - _MAX_ERRORS} more)" if len(problems) > _MAX_ERRORS else ""
        raise LoadError(name, None, "; ".join(problems[:_MAX_ERRORS]) + more)
    if not lines:
        raise LoadError(name, None, "no outputs in the file")
    return name, lines
