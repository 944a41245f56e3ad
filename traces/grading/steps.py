"""The authors' step checks in two definitions: as their scripts published them, and as intended.

The paper's step figures come from ``scripts/cotempqa_confusion_matrix_nn.py``,
``scripts/babiqa_confusion_matrix_nn.py`` and ``scripts/marco_confusion_matrix_nn.py`` (branch
``marcoqa``) of the authors' repository (read, not copied). For each output they:

* leave it *unevaluated* when "think" does not occur in it, or nothing comes before ``</think>``;
* take the trace to be everything before the first ``</think>`` (all of it when there is none);
* take the category sentence to be the trace up to its first "." (bAbI and MS MARCO: the second
  sentence, lower-cased) and call the classification right when the gold category occurs in it;
* call the retrieval right when one of the gold facts occurs verbatim in the trace.

Where the gold category and facts come from is what separates the two definitions:

* **published** (``published_steps``): what the scripts compute. The gold row is the first row of
  the test file (CoTempQA: the relation's file) whose ``answer`` column contains the output's first
  gold answer as a substring, which is often another problem (and for bAbI's one-word answers
  almost always); MS MARCO searches its ``answers`` column for the output's whole gold list, so it
  finds the first row with the same answers (another problem wherever answers repeat: "No Answer
  Present." above all). When no row matches, the previous output's row is used again. The gold facts
  are read from the facts column as both facts and answers, so every context fact (MS MARCO: every
  passage) of that row counts.
* **authors** (``intended_steps``): the same checks on the output's own problem, with the gold facts
  the authors meant: the context facts naming a gold answer (CoTempQA), the supporting facts
  (bAbI), their ``answer_passage`` (MS MARCO: the passage overlapping most with the first answer, or
  the answer itself for "No Answer Present."). The bAbI and MS MARCO categories are compared in any
  case.

The published figures can be regenerated from the authors' outputs with these functions; the
tests check every count against their scripts run on the shared outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from traces.loaders import Problem
from traces.msmarco_decomposition import authors_answer_text

__all__ = [
    "PublishedLookup",
    "StepGrade",
    "category_sentence",
    "intended_facts",
    "intended_steps",
    "lookup_text",
    "published_steps",
    "trace_region",
]


@dataclass(frozen=True)
class StepGrade:
    """Both steps of one output under one definition."""

    classification: bool
    retrieval: bool

    @property
    def trace(self) -> bool:
        """Both steps right: a correct trace."""
        return self.classification and self.retrieval


NOT_GRADED = StepGrade(False, False)
#: Datasets graded by the bAbI script or its MS MARCO copy: the category is the second sentence, lower-cased,
#: and the test rows are one file.
_BABI_LIKE = ("babi", "msmarco")


def trace_region(prediction: str) -> str | None:
    """The trace the authors' checks read, or None for an output they leave unevaluated."""
    if "think" not in prediction:
        return None
    region = prediction.split("</think>")[0]
    return region or None


def category_sentence(region: str, dataset: str) -> str:
    """The sentence the category is read from: the first (bAbI, MS MARCO: the second, lower-cased)."""
    sentences = region.split(".")
    if dataset in _BABI_LIKE:
        return (sentences[1] if len(sentences) > 1 else sentences[0]).lower()
    return sentences[0]


def intended_facts(problem: Problem) -> list[str]:
    """The gold facts the authors meant: the facts naming a gold answer; bAbI's supporting facts; MS MARCO's
    answer passage."""
    if problem.dataset == "babi":
        return list(problem.metadata.get("supporting_facts", []))
    if problem.dataset == "msmarco":
        text = authors_answer_text(problem.facts, problem.gold_answers)
        return [text] if text is not None else []
    return [fact for fact in problem.facts if any(answer in fact for answer in problem.gold_answers)]


def _steps(region: str, dataset: str, category: str, facts: Iterable[str]) -> StepGrade:
    sentence = category_sentence(region, dataset)
    if dataset in _BABI_LIKE:
        category = category.lower()
    return StepGrade(category in sentence, any(fact in region for fact in facts))


def intended_steps(region: str, problem: Problem) -> StepGrade:
    """The authors' checks as intended: the output's own problem and its answer facts."""
    return _steps(region, problem.dataset, problem.subset, intended_facts(problem))


def published_steps(region: str, row: Problem | None) -> StepGrade:
    """The authors' checks as published, against the row their lookup found (see ``PublishedLookup``)."""
    if row is None:
        return NOT_GRADED
    return _steps(region, row.dataset, row.subset, row.facts)


def lookup_text(problem: Problem) -> str:
    """The test file's ``answer`` column that the published lookup searches: CoTempQA and MS MARCO write
    the gold answers as a Python list, bAbI its one answer."""
    if problem.dataset == "babi":
        return problem.gold_answers[0] if problem.gold_answers else ""
    return str(list(problem.gold_answers))


class PublishedLookup:
    """The published scripts' search for an output's gold row, with its memory of the last row.

    ``rows`` are the test problems in the order of the test files. CoTempQA outputs search only
    the rows of their own relation (one file per relation); bAbI and MS MARCO outputs search all rows
    (MS MARCO for the whole gold list, bAbI and CoTempQA for the first gold answer). Outputs must be
    looked up in the order of their file: an output whose gold answer is in no row's answer column gets
    the previous output's row, as in the scripts.
    """

    def __init__(self, rows: Sequence[Problem]) -> None:
        self._rows: dict[tuple[str, str], list[tuple[str, Problem]]] = {}
        for row in rows:
            key = (row.dataset, "" if row.dataset in _BABI_LIKE else row.subset)
            self._rows.setdefault(key, []).append((lookup_text(row), row))
        self._previous: Problem | None = None

    def find(self, problem: Problem) -> Problem | None:
        """The row the scripts grade ``problem``'s output against (None: no row yet)."""
        if not problem.gold_answers:
            return self._previous
        wanted = lookup_text(problem) if problem.dataset == "msmarco" else problem.gold_answers[0]
        key = (problem.dataset, "" if problem.dataset in _BABI_LIKE else problem.subset)
        for text, row in self._rows.get(key, ()):
            if wanted in text:
                self._previous = row
                return row
        return self._previous
