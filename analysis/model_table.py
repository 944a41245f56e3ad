"""Table 1 of arXiv 2505.13792 for the models evaluated here: tests of independence on its 2 x 2
tables, and its text and CSV forms. Plain data in and out; the figures come from
``traces.grading.table`` and the outputs from ``analysis.data.model_table_data``."""

from __future__ import annotations

from collections.abc import Iterator

from traces.grading.table import DEFINITIONS, STEP_DEFINITIONS

from .report.options import SEED
from .report.words import words_independence

__all__ = ["FIGURES", "TABLE_NAMES", "csv_header", "csv_rows", "decorate", "render_text"]

#: The per-relation figures, in the order the text and CSV show them.
FIGURES: tuple[str, ...] = (
    "n", "answer_em", "answer_f1", "answer_em_strict",
    *(f"{step}_{name}" for name in STEP_DEFINITIONS for step in ("classification", "retrieval")),
    "unevaluated",
)
_TABLES = ("answer_x_classification", "answer_x_retrieval", "answer_x_trace")
#: The 2 x 2 tables with the words a page heads them with.
TABLE_NAMES: tuple[tuple[str, str], ...] = (
    ("answer_x_classification", "answer \u00d7 classification step"),
    ("answer_x_retrieval", "answer \u00d7 retrieval step"),
    ("answer_x_trace", "answer \u00d7 trace (both steps)"),
)
_CELLS = (
    "correct_answer_correct_step", "correct_answer_incorrect_step",
    "incorrect_answer_correct_step", "incorrect_answer_incorrect_step",
)


def _count(figures: dict, key: str) -> int:
    """The count behind a percentage of all outputs."""
    return round(figures[key] * figures["n"] / 100)


def differences(row: dict) -> list[str]:
    """Where the published and the intended step figures part, in words."""
    overall, notes = row["overall"], []
    for step in ("classification", "retrieval"):
        published, intended = overall[f"{step}_published"], overall[f"{step}_authors"]
        if published is None or intended is None:
            continue
        a, b = _count(overall, f"{step}_published"), _count(overall, f"{step}_authors")
        if a != b:
            notes.append(
                f"The {step} step is right for {a} of {overall['n']} outputs by the published definition and "
                f"for {b} by the authors' intended one."
            )
    if notes and row["published_other_rows"]:
        notes.append(
            f"The published definition graded {row['published_other_rows']} outputs against another "
            "problem's test row, and counts any context fact of that row as a right retrieval."
        )
    return notes


def decorate(rows: list[dict]) -> list[dict]:
    """Each 2 x 2 table gains its test of independence (chi-squared, or Fisher's exact test where an
    expected count is under 5), with the result in words, an infinite odds ratio becoming None; each
    row gains ``differences``, where the published and intended step figures part, in words."""
    from . import stats as st  # numpy and scipy: imported by the request that needs them (records.py)

    for row in rows:
        row["differences"] = differences(row)
        for definition in STEP_DEFINITIONS:
            for name in _TABLES:
                table = row["tables"][definition][name]
                counts = [[table[_CELLS[0]], table[_CELLS[1]]], [table[_CELLS[2]], table[_CELLS[3]]]]
                test = st.clean(st.independence_test(counts, seed=SEED))
                table["test"] = {**test, "words": words_independence(test)}
    return rows


def _fmt(value: float | int | None, key: str) -> str:
    if value is None:
        return "-"
    return str(value) if key in ("n", "unevaluated") else f"{value:.1f}"


def render_text(table: dict) -> str:
    """Table 1 as text for a terminal: per model and setting, one line per relation, then the 2 x 2
    counts and the two conditional rates under each step definition."""
    lines = [f"Table 1 ({table['dataset']}): percentages; '-' where undefined (no graded trace)."]
    if not table["rows"]:
        lines.append("No evaluations yet: import outputs (import_outputs) or run an evaluate job.")
    for row in table["rows"]:
        width = max(len(name) for name in [*row["relations"], "relation"])
        lines += ["", f"{row['model']} / {row['setting']}", *(f"  {note}" for note in row["differences"]),
                  f"{'relation':>{width}}  " + "  ".join(f"{k:>6}" for k in FIGURES)]
        for name, figures in [*row["relations"].items(), ("overall", row["overall"]), ("mean", row["mean"])]:
            cells = (f"{_fmt(figures[k], k):>{max(len(k), 6)}}" for k in FIGURES)
            lines.append(f"{name:>{width}}  " + "  ".join(cells))
        for definition in STEP_DEFINITIONS:
            tables = row["tables"][definition]
            cells = "; ".join(
                f"{name.removeprefix('answer_x_')}: " + "/".join(str(tables[name][c]) for c in _CELLS)
                for name in _TABLES
            )
            lines.append(
                f"  {definition:>9}: answer x step (cc/ci/ic/ii) {cells}; "
                f"P(trace and answer) {_fmt(tables['p_correct_trace_and_correct_answer'], '')}; "
                f"P(answer | trace) {_fmt(tables['p_correct_answer_given_correct_trace'], '')}; "
                f"answer x trace: {tables['answer_x_trace'].get('test', {}).get('words', '')}"
            )
    lines += ["", "Definitions:"] + [f"  {key}: {text}" for key, text in DEFINITIONS.items()]
    if table.get("outdated"):
        lines.append(f"\n{table['outdated']} outputs graded by an older definition are left out: "
                     "run `manage.py regrade_outputs`.")
    return "\n".join(lines)


_RATES = ("p_correct_trace_and_correct_answer", "p_correct_answer_given_correct_trace")


def csv_header() -> list[str]:
    """The columns of ``csv_rows``."""
    columns = ["dataset", "model", "setting", "relation", *FIGURES]
    for d in STEP_DEFINITIONS:
        columns += [f"{d}_{t}_{c}" for t in _TABLES for c in _CELLS] + [f"{d}_{r}" for r in _RATES]
    return columns


def csv_rows(table: dict) -> Iterator[tuple]:
    """One flat row (``csv_header``'s columns) per model, setting and relation, then overall and
    mean; the overall rows also carry the 2 x 2 counts and rates of each step definition."""
    for row in table["rows"]:
        for name, figures in [*row["relations"].items(), ("overall", row["overall"]), ("mean", row["mean"])]:
            cells = [table["dataset"], row["model"], row["setting"], name, *(figures[k] for k in FIGURES)]
            for definition in STEP_DEFINITIONS:
                tables = row["tables"][definition]
                overall = name == "overall"
                cells += [tables[t][c] if overall else None for t in _TABLES for c in _CELLS]
                cells += [tables[r] if overall else None for r in _RATES]
            yield tuple(cells)
