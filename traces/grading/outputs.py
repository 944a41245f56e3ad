"""Grading a model output under every definition at once: what evaluations store per output."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from traces.loaders import Problem

from .answers import AnswerScore, answer_score, babi_answer_score, cotempqa_answer_score, msmarco_answer_score
from .steps import NOT_GRADED, PublishedLookup, StepGrade, intended_steps, published_steps, trace_region
from .strict import StrictGrade, grade_strict

__all__ = ["OutputGrade", "grade_output", "grade_outputs", "score_answer"]


@dataclass(frozen=True)
class OutputGrade:
    """One output's grades: the answer by the paper's metric (and the strict variant), and the two
    steps as published, as the authors intended, and by the project's strict rule.

    ``unevaluated`` outputs (no "think": no trace) have no step grades under any definition.
    """

    answer: AnswerScore
    answer_strict: AnswerScore
    unevaluated: bool
    published: StepGrade
    published_row: Problem | None
    authors: StepGrade
    strict: StrictGrade

    @property
    def strict_steps(self) -> StepGrade:
        """The strict grade's two steps."""
        if self.unevaluated:
            return NOT_GRADED
        return StepGrade(self.strict.classification_correct, self.strict.retrieval_correct)


def score_answer(text: str, problem: Problem, *, as_published: bool = True) -> AnswerScore:
    """The answer metric of the problem's dataset: CoTempQA's, bAbI's, MS MARCO's, or set exact match."""
    if problem.dataset == "cotempqa":
        return cotempqa_answer_score(
            text, problem.gold_answers, question=problem.question, facts=problem.facts,
            triple_element=str(problem.metadata.get("triple_element") or ""), as_published=as_published,
        )
    if problem.dataset == "babi":
        gold = problem.gold_answers[0] if problem.gold_answers else ""
        return babi_answer_score(text, gold, as_published=as_published)
    if problem.dataset == "msmarco":
        return msmarco_answer_score(text, problem.gold_answers, as_published=as_published)
    return answer_score(text, problem.gold_answers, question=problem.question)


def grade_output(text: str, problem: Problem, published_row: Problem | None) -> OutputGrade:
    """Every grade of one output; ``published_row`` is what ``PublishedLookup`` found for it."""
    region = trace_region(text)
    return OutputGrade(
        answer=score_answer(text, problem),
        answer_strict=score_answer(text, problem, as_published=False),
        unevaluated=region is None,
        published=NOT_GRADED if region is None else published_steps(region, published_row),
        published_row=None if region is None else published_row,
        authors=NOT_GRADED if region is None else intended_steps(region, problem),
        strict=grade_strict(text, problem),
    )


def grade_outputs(items: Sequence[tuple[str, Problem]], test_rows: Sequence[Problem]) -> list[OutputGrade]:
    """Grade outputs in the order of their file; ``test_rows`` are the test problems the published
    lookup searches, in the order of the test files (see ``traces.grading.steps``)."""
    lookup = PublishedLookup(test_rows)
    grades = []
    for text, problem in items:
        row = lookup.find(problem) if trace_region(text) is not None else None
        grades.append(grade_output(text, problem, row))
    return grades
