"""The project's strict grading of a trace's two steps, for CoTempQA, bAbI and MS MARCO.

Stricter than the authors' checks (``traces.grading.steps``), which accept a trace that names the
right category anywhere in a sentence and lists any one right fact:

* classification: the category the trace names is the problem's (the CoTempQA relation, the bAbI
  task, the MS MARCO query type), compared after normalisation; a CoTempQA relation sentence in other
  words ("The temporal relation between the two events is overlap.") is read where the rule's wording
  is absent;
* retrieval, CoTempQA: the step must do what ``decomposition.retrieval_facts`` does -- put the
  question's anchor event next to facts that give each gold answer at the right time. Every listed
  fact is one of the problem's context facts (nothing invented); the anchor fact is listed when one
  can be found (``require_anchor=False`` drops this, e.g. for the authors' own traces, which listed
  only the answers' facts); every gold answer is named by at least one listed fact that
  ``retrieval_facts`` keeps for the relation; no listed fact is a distractor (not the anchor and
  naming no gold answer);
* retrieval, bAbI: every listed sentence is in the story, every supporting fact is listed, and no
  other sentence is;
* retrieval, MS MARCO: the step names a passage the annotator used (``is_selected``; when none is
  marked, the one the authors' overlap finds: ``msmarco_decomposition.gold_passages``) and nothing
  else; for a query whose passages hold no answer, it names no passage (only "No Answer Present.",
  or "[]").

Facts are compared after normalisation, with the past tense a model may write ("was a member of",
"held the position of") read as the present tense of CoTempQA's facts. Traces from
``build_trace(correct=True)`` pass; those from ``build_trace(correct=False)`` fail both steps.
``grade_strict`` takes any text and never raises: what it cannot parse is in ``errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from traces.decomposition import find_anchor_fact, retrieval_facts
from traces.loaders import Problem
from traces.msmarco_decomposition import NO_ANSWER, gold_passages

from .answers import PAST_TO_PRESENT
from .parsing import (
    BABI_STEP_RE,
    COTEMPQA_STEP_RE,
    COTEMPQA_STEP_REWORDED_RE,
    RETRIEVAL_RE,
    mentions_steps,
    normalize_text,
    parse_answer,
    parse_listed_facts,
    parse_passage_step,
    parse_step,
    split_reasoning,
    strip_role_line,
)

__all__ = ["StrictGrade", "grade_strict"]

_MAX_TEXT = 200_000  # longer inputs are cut (and the cut reported) to bound the work


@dataclass(frozen=True)
class StrictGrade:
    """What each step of a trace says, whether it is right by the strict rule, and why not.

    ``category``, ``retrieved_facts`` and ``answer`` are None when the step is missing;
    ``errors`` lists what could not be parsed, ``retrieval_issues`` why a parsed retrieval is wrong.
    """

    category: str | None
    retrieved_facts: list[str] | None
    answer: str | None
    classification_correct: bool
    retrieval_correct: bool
    errors: list[str] = field(default_factory=list)
    retrieval_issues: list[str] = field(default_factory=list)

    @property
    def trace_correct(self) -> bool:
        """Both steps right (the paper's "correct trace")."""
        return self.classification_correct and self.retrieval_correct


def fact_key(text: str) -> str:
    """A fact's normal form for matching: past tense read as present, then ``normalize_text``."""
    text = f" {text} "
    for old, new in PAST_TO_PRESENT:
        text = text.replace(old, new)
    return normalize_text(text)


def _names(fact: str, answer: str) -> bool:
    """Fact mentions the answer (as a raw substring or as whole normalised words)."""
    a = normalize_text(answer)
    if not a:
        return False
    return answer.strip().lower() in fact.lower() or f" {a} " in f" {normalize_text(fact)} "


@lru_cache(maxsize=1 << 12)  # every output of a problem is checked against the same facts
def _keyed(facts: tuple[str, ...]) -> dict[str, str]:
    return {fact_key(f): f for f in facts}


def _known(listed: Sequence[str], facts: Sequence[str], issues: list[str]) -> list[str]:
    """The context facts the listed items are, with an issue for each item that is none."""
    by_key = _keyed(tuple(facts))
    chosen: list[str] = []
    for item in listed:
        fact = by_key.get(fact_key(item))
        if fact is None:
            issues.append(f"not a context fact: {item[:120]!r}")
        else:
            chosen.append(fact)
    if not listed:
        issues.append("no facts listed")
    return chosen


def _cotempqa_retrieval(listed: list[str], problem: Problem, require_anchor: bool) -> list[str]:
    """Reasons the listed facts are not the right ones (empty list: right)."""
    issues: list[str] = []
    facts, gold = list(problem.facts), [a for a in problem.gold_answers if a.strip()]
    chosen = _known(listed, facts, issues)
    anchor = find_anchor_fact(problem.question, facts)
    if require_anchor and anchor is not None and anchor not in chosen:
        issues.append("the question's anchor fact is not listed")
    chosen_set = set(chosen)
    for answer in gold:
        # retrieval_facts treats answers independently, so one answer at a time gives exactly the
        # facts it keeps for that answer.
        support = set(retrieval_facts(problem.question, facts, [answer], problem.subset)) - {anchor}
        if support and not support & chosen_set:
            issues.append(f"no listed fact gives the gold answer {answer!r}")
    for fact in chosen:
        if fact != anchor and not any(_names(fact, a) for a in gold):
            issues.append(f"distractor fact (not the anchor, names no gold answer): {fact[:120]!r}")
    return issues


def _babi_retrieval(listed: list[str], problem: Problem) -> list[str]:
    issues: list[str] = []
    chosen = set(_known(listed, list(problem.facts), issues))
    supporting = set(problem.metadata.get("supporting_facts", []))
    issues += [f"supporting fact not listed: {f[:120]!r}" for f in problem.facts if f in supporting - chosen]
    issues += [f"not a supporting fact: {f[:120]!r}" for f in problem.facts if f in chosen - supporting]
    return issues


def _msmarco_retrieval(named: list[str], problem: Problem) -> list[str]:
    """Reasons the named passages are not the answer's (empty list: right)."""
    gold = gold_passages(problem.facts, problem.metadata.get("is_selected", []), problem.gold_answers)
    if not gold:
        return [f"no passage answers the query, yet the step names {item[:120]!r}"
                for item in named if normalize_text(item) != normalize_text(NO_ANSWER)]
    issues: list[str] = []
    chosen = _known(named, list(problem.facts), issues)
    if not set(chosen) & set(gold):
        issues.append("none of the passages that give the answer is named")
    others = [p for p in dict.fromkeys(chosen) if p not in gold]
    return [*issues, *(f"a passage that does not give the answer: {p[:120]!r}" for p in others)]


def grade_strict(text: object, problem: Problem, *, require_anchor: bool = True) -> StrictGrade:
    """Grade one output's steps against its problem by the strict rule; never raises.

    CoTempQA's expected relation is the problem's subset (the split name, as the authors used it);
    bAbI's expected category is its task, MS MARCO's its query type. ``require_anchor`` applies to
    CoTempQA.
    """
    errors: list[str] = []
    try:
        if not isinstance(text, str):
            errors.append(f"output is not a string but {type(text).__name__}")
            text = "" if text is None else str(text)
        if len(text) > _MAX_TEXT:
            errors.append(f"output longer than {_MAX_TEXT} characters; the rest was ignored")
            text = text[:_MAX_TEXT]
        text = strip_role_line(text)
        babi, msmarco = problem.dataset == "babi", problem.dataset == "msmarco"
        region, tail = split_reasoning(text, errors)
        category = parse_step(
            region, BABI_STEP_RE if babi or msmarco else COTEMPQA_STEP_RE, "classification", errors,
            reworded=None if babi or msmarco else COTEMPQA_STEP_REWORDED_RE,
        )
        if msmarco:
            listed, clean = parse_passage_step(region, errors)
        else:
            listed, clean = parse_listed_facts(region, RETRIEVAL_RE, errors)
        answer = parse_answer(text, region, tail, mentions_steps(text), errors)
        classification = category is not None and normalize_text(category) == normalize_text(problem.subset)
        issues: list[str] = []
        if listed is not None and msmarco:
            issues = _msmarco_retrieval(listed, problem)
        elif listed is not None:
            issues = _babi_retrieval(listed, problem) if babi else _cotempqa_retrieval(
                listed, problem, require_anchor
            )
        return StrictGrade(
            category=category,
            retrieved_facts=listed,
            answer=answer,
            classification_correct=classification,
            retrieval_correct=listed is not None and clean and not issues,
            errors=errors,
            retrieval_issues=issues,
        )
    except Exception as exc:  # defensive: a grade, not a crash, for any input
        return StrictGrade(
            category=None, retrieved_facts=None, answer=None, classification_correct=False,
            retrieval_correct=False,
            errors=[*errors, f"internal error while grading: {type(exc).__name__}: {exc}"],
        )
