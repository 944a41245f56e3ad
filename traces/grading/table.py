"""The paper's Table 1 from graded outputs: per model and setting, per relation (bAbI: per task, MS
MARCO: per query type),
pooled (``overall``) and as the unweighted mean of the relations (``mean``, the paper's
aggregation), with the answer x step tables under each step definition.

Plain data in, plain data out (the JSON of ``model_table --json``); ``analysis.model_table`` adds
the tests of independence and renders it. Rates are percentages (0-100). Step accuracies count
unevaluated outputs (no trace) as not right, as the authors' ``trace_eval`` divides by all
outputs; they are None (undefined) when no output had a trace. The 2 x 2 tables count the outputs
that had a trace, as the authors' confusion matrices do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DEFINITIONS", "STEP_DEFINITIONS", "GradedRecord", "model_rows", "percent"]

STEP_DEFINITIONS: tuple[str, ...] = ("published", "authors", "strict")

#: What each figure means, in words; every table that shows a figure names its definition.
DEFINITIONS: dict[str, str] = {
    "answer_em": "Answer exact match: the paper's answer metric (CoTempQA's evaluation as the authors "
    "ran it: the set of answers found in the output equals the gold set; bAbI and MS MARCO: the authors' "
    "metric, the whole answer region equals the gold answer, so a query with two answers is never right).",
    "answer_f1": "Answer F1 of the same answer sets (the paper's metric).",
    "answer_em_strict": "Answer exact match with candidate entities of the type the question asks for "
    "(the project's check: an answer that lists extra entities of that type is wrong; the published "
    "metric ignores them; bAbI and MS MARCO: the answer the output gives, cleaned of labels, equals a "
    "gold answer).",
    "published": "Steps as the authors' scripts published them: the gold row is the first test row whose "
    "answer contains the output's first gold answer (MS MARCO: its gold answers; often another problem), "
    "any of its context facts counts as a right retrieval, the category is read from the trace's first "
    "sentence (bAbI, MS MARCO: second).",
    "authors": "Steps as the authors intended: the same checks on the output's own problem; retrieval right "
    "when one of its facts naming a gold answer (bAbI: a supporting fact; MS MARCO: the passage sharing "
    "most words with the answer) appears verbatim in the trace.",
    "strict": "Steps by the project's strict rule: the right category named; retrieval lists the anchor and "
    "answer facts (bAbI: exactly the supporting facts; MS MARCO: a passage the annotator used and no other, "
    "or none where the passages hold no answer) and no distractor.",
    "unevaluated": "Outputs without a trace to grade ('think' not in the output); their steps count as not "
    "right in the step accuracies and are left out of the 2 x 2 tables.",
    "p_correct_trace_and_correct_answer": "P(correct trace and correct answer): the share of graded outputs "
    "whose trace (both steps) and answer are right; the paper's '28%'.",
    "p_correct_answer_given_correct_trace": "P(correct answer | correct trace): of the outputs with a "
    "correct trace, the share whose answer is right.",
    "published_other_rows": "How many outputs the published definition graded against another problem's "
    "test row.",
}

_CELLS = (
    "correct_answer_correct_step",
    "correct_answer_incorrect_step",
    "incorrect_answer_correct_step",
    "incorrect_answer_incorrect_step",
)
_TABLES = ("answer_x_classification", "answer_x_retrieval", "answer_x_trace")


@dataclass(frozen=True)
class GradedRecord:
    """What the table needs of one graded output."""

    model: str
    setting: str
    subset: str
    answer_correct: bool
    answer_f1: float
    answer_correct_strict: bool
    unevaluated: bool
    steps: dict[str, tuple[bool, bool]]  # definition -> (classification, retrieval)
    published_other_row: bool = False  # the published lookup graded it against another problem


def percent(rate: float | None, undefined: str = "undefined") -> str:
    """A rate (0-1) as a percentage for people to read; ``undefined`` where there were no cases."""
    return undefined if rate is None else f"{100 * rate:.1f}%"


def _pct(k: float, n: int) -> float | None:
    return 100 * k / n if n else None


def _figures(records: list[GradedRecord]) -> dict:
    n = len(records)
    graded = [r for r in records if not r.unevaluated]
    row: dict = {
        "n": n,
        "answer_em": _pct(sum(r.answer_correct for r in records), n),
        "answer_f1": _pct(sum(r.answer_f1 for r in records), n),
        "answer_em_strict": _pct(sum(r.answer_correct_strict for r in records), n),
    }
    for definition in STEP_DEFINITIONS:
        for step, name in enumerate(("classification", "retrieval")):
            right = sum(r.steps[definition][step] for r in graded)
            row[f"{name}_{definition}"] = _pct(right, n) if graded else None
    row["unevaluated"] = n - len(graded)
    return row


def _mean(rows: list[dict]) -> dict:
    """Unweighted mean of the relations' percentages; counts are summed."""
    out: dict = {"n": sum(r["n"] for r in rows), "unevaluated": sum(r["unevaluated"] for r in rows)}
    for key in rows[0]:
        if key in out:
            continue
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = sum(values) / len(values) if values else None
    return out


def _tables(records: list[GradedRecord], definition: str) -> dict:
    tables: dict = {name: dict.fromkeys(_CELLS, 0) for name in _TABLES}
    for r in records:
        if r.unevaluated:
            continue
        classification, retrieval = r.steps[definition]
        answer = "correct" if r.answer_correct else "incorrect"
        steps = (classification, retrieval, classification and retrieval)
        for name, step in zip(_TABLES, steps, strict=True):
            tables[name][f"{answer}_answer_{'correct' if step else 'incorrect'}_step"] += 1
    trace = tables["answer_x_trace"]
    graded = sum(trace.values())
    correct_trace = trace["correct_answer_correct_step"] + trace["incorrect_answer_correct_step"]
    tables["p_correct_trace_and_correct_answer"] = _pct(trace["correct_answer_correct_step"], graded)
    tables["p_correct_answer_given_correct_trace"] = _pct(trace["correct_answer_correct_step"], correct_trace)
    return tables


def model_rows(records: Iterable[GradedRecord]) -> list[dict]:
    """One row per (model, setting), sorted: relations (sorted by name), overall, mean, tables."""
    groups: dict[tuple[str, str], list[GradedRecord]] = defaultdict(list)
    for record in records:
        groups[(record.model, record.setting)].append(record)
    rows = []
    for (model, setting), group in sorted(groups.items()):
        by_subset: dict[str, list[GradedRecord]] = defaultdict(list)
        for record in group:
            by_subset[record.subset].append(record)
        relations = {subset: _figures(by_subset[subset]) for subset in sorted(by_subset)}
        rows.append(
            {
                "model": model,
                "setting": setting,
                "relations": relations,
                "overall": _figures(group),
                "mean": _mean(list(relations.values())),
                "tables": {definition: _tables(group, definition) for definition in STEP_DEFINITIONS},
                "published_other_rows": sum(r.published_other_row for r in group),
            }
        )
    return rows
