"""A study's stimuli assembled from the traces the ``traces`` app made or imported.

A problem can be a stimulus when it has a text for every condition of the study that the builder makes:
a reference trace of the condition's kind (a reasoning trace, a summary, a post-hoc explanation) from
the source chosen for that condition (a job here, an imported file; two conditions may take the same
kind from different sources), and a decomposition trace, built by the paper's rule. Conditions whose
texts are imported as they are (the study file, the admin) are left to those. The stimulus shows one
short final answer in every condition: the answer of the first condition taken from a reasoning trace
(else of the first taken from any reference trace), as the paper's study showed R1's. Drawn problems
(and the demo's) must show an answer that is right by the strict check and that no condition's trace
contradicts (``answer_conflicts``: the decomposition trace ends in the gold answer, so a wrong shown
answer always contradicts it). A new stimulus keeps its answer's grades (``answer_grades``). Every
condition's text records where it came from (the trace, its job, model and prompt), and keeps it in
the exports. Rated stimuli are never changed: the answers given would refer to a text nobody read.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction

from traces import reference_traces, sft
from traces.grading.answers import names_stated_answers, stated_answers
from traces.grading.outputs import score_answer
from traces.grading.parsing import short_answer
from traces.models import ModelOutput, Problem, ReferenceTrace

from .conditions import REFERENCE_KIND, ConditionLike
from .models import Response, Stimulus, StimulusTrace, Study, TraceKind

Drawn = TypeVar("Drawn", Problem, ModelOutput)

DECOMPOSITION_SOURCE = "rule-based decomposition (traces.sft, setting decomposition_correct)"


class BuildError(ValueError):
    """The stimuli cannot be built as asked; the message says why, and nothing was changed."""


@dataclass(frozen=True)
class BuildResult:
    created: list[str]  # stimulus codes made
    completed: list[str]  # existing stimuli whose traces were set
    skipped_rated: list[str]  # stimuli participants have rated: left as they were


def answered(stimulus: Stimulus) -> bool:
    """Whether participants rated or judged the stimulus: its texts and answer then stay as they read them."""
    return Response.objects.filter(stimulus=stimulus).exists() or stimulus.judgements.exists()


def traced(conditions: Sequence[ConditionLike]) -> list[ConditionLike]:
    """The conditions whose texts are reference traces."""
    return [c for c in conditions if c.trace_kind in REFERENCE_KIND]


def answering(conditions: Sequence[ConditionLike]) -> str:
    """The code of the condition whose trace's answer every condition shows; BuildError without one."""
    reasoning = [c for c in conditions if c.trace_kind == TraceKind.REASONING]
    for condition in reasoning or traced(conditions):
        return condition.code
    raise BuildError("No condition takes its texts from a reasoning trace, a summary or an explanation, so "
                     "there is no model answer to show; import the stimuli with a study file instead.")


def chosen_traces(
    problems: Sequence[Problem], sources: dict[str, str], conditions: Sequence[ConditionLike]
) -> dict[str, dict[int, ReferenceTrace]]:
    """Condition code -> problem id -> its trace from the chosen source (``sources``: condition code ->
    source label; a condition left out takes the only source there is)."""
    chosen = {}
    for condition in traced(conditions):
        kind = REFERENCE_KIND[condition.trace_kind]
        try:
            chosen[condition.code] = reference_traces.choose(problems, kind, sources.get(condition.code, ""))
        except reference_traces.AmbiguousTraces as error:
            raise BuildError(f"{condition.label}: {error}") from None
    return chosen


def eligible(
    problems: Sequence[Problem], sources: dict[str, str], conditions: Sequence[ConditionLike], *,
    only_correct: bool = False,
) -> list[Problem]:
    """The problems with a trace for every traced condition from the chosen sources and an answer to
    show (with ``only_correct``, a right one that no condition's trace contradicts, as the paper's
    explanations were of R1's correct answers: the answer participants are shown, by the strict
    check; the paper's lenient metric also counts an answer whose justification merely names the
    gold answer, as R1's "None" on cotempqa-equal-62, which the decomposition trace contradicts)."""
    chosen = chosen_traces(problems, sources, conditions)
    shown = answering(conditions)
    out = []
    for p in problems:
        if not all(p.pk in chosen[c.code] for c in traced(conditions)):
            continue
        answered = bool(chosen[shown][p.pk].answer.strip())
        if answered and (not only_correct or shows_right_answer(p, chosen, conditions)):
            out.append(p)
    return out


def shows_right_answer(
    problem: Problem, chosen: dict[str, dict[int, ReferenceTrace]], conditions: Sequence[ConditionLike]
) -> bool:
    """Whether the problem's stimulus would show an answer right by the strict check that no
    condition's text contradicts."""
    answer = chosen[answering(conditions)][problem.pk].answer
    texts = {code: text for code, (text, _) in condition_texts(problem, chosen, conditions).items()}
    return shown_answer_right(problem, answer) and not answer_conflicts(
        short_answer(answer), texts, question=problem.question, facts=problem.facts
    )


def shown_answer_right(problem: Problem, answer: str) -> bool:
    """Whether the short answer a stimulus shows is right by the strict answer check."""
    return score_answer(short_answer(answer), problem.as_plain(), as_published=False).exact_match


def answer_conflicts(
    shown: str, texts: Mapping[str, str], *, question: str, facts: Sequence[str]
) -> dict[str, list[str]]:
    """Condition -> the answers its text states, for each condition whose text states answers other
    than the shown one: participants there would read a trace that ends in another answer. Only a
    text that states its answer in an ``<answer>`` tag (the decomposition trace) can be checked."""
    conflicts = {}
    for condition, text in texts.items():
        stated = stated_answers(text)
        if stated is not None and not names_stated_answers(shown, stated, question=question, facts=facts):
            conflicts[condition] = stated
    return conflicts


def _subset(problem: Problem) -> str:
    return problem.subset


def draw_balanced(
    problems: Sequence[Drawn], n: int, seed: int = 0, subset_of: Callable[[Drawn], str] = _subset
) -> list[Drawn]:
    """``n`` problems (or model outputs) drawn at random (reproducibly, from ``seed``), as evenly over
    their relations or tasks (``subset_of``) as they allow: one from each in turn."""
    by_subset: dict[str, list[Drawn]] = defaultdict(list)
    for problem in sorted(problems, key=lambda p: p.pk):
        by_subset[subset_of(problem)].append(problem)
    rng = random.Random(seed)
    for group in by_subset.values():
        rng.shuffle(group)
    drawn: list[Drawn] = []
    while len(drawn) < n and any(by_subset.values()):
        for subset in sorted(by_subset):
            if by_subset[subset] and len(drawn) < n:
                drawn.append(by_subset[subset].pop())
    return drawn


def condition_texts(
    problem: Problem, chosen: dict[str, dict[int, ReferenceTrace]], conditions: Sequence[ConditionLike]
) -> dict[str, tuple[str, ReferenceTrace | None]]:
    """Condition code -> (the text its participants read for the problem, the reference trace it is,
    None for a decomposition trace built by the paper's rule); imported conditions are not made here."""
    texts: dict[str, tuple[str, ReferenceTrace | None]] = {
        c.code: (chosen[c.code][problem.pk].text, chosen[c.code][problem.pk]) for c in traced(conditions)
    }
    for condition in conditions:
        if condition.trace_kind == TraceKind.DECOMPOSITION:
            texts[condition.code] = (sft.assistant_content("decomposition_correct", problem.as_plain()), None)
    return texts


def answer_grades(problem: Problem, trace: ReferenceTrace) -> dict:
    """The ground truth of the answer a stimulus shows, from the trace it is taken from: by the strict
    check of the short answer shown, and by the paper's metric of the model's whole answer. A reference
    trace's steps are not graded (only a decomposition output's are)."""
    return {
        "answer_strict": shown_answer_right(problem, trace.answer),
        "answer_published": score_answer(trace.answer, problem.as_plain()).exact_match,
        "source": f"reference trace #{trace.pk}: {trace.model_name or 'model'} ({trace.source}), its answer "
                  "graded by the project's answer checks",
    }


def provenance(trace: ReferenceTrace) -> dict:
    """Where a condition's text came from, as the exports and the admin show it."""
    return {
        "trace_id": trace.pk, "kind": trace.kind, "source": trace.source, "job": trace.job_id,
        "model": trace.model_name, "prompt": trace.prompt,
        "based_on": trace.based_on_id, "problem": f"{trace.problem.dataset}:{trace.problem.source_id}",
    }


@transaction.atomic
def build_stimuli(
    study: Study, problems: Sequence[Problem], sources: dict[str, str] | None = None
) -> BuildResult:
    """Make (or complete) one stimulus per problem with every condition's trace; BuildError, and no
    change, when a problem lacks one."""
    sources = sources or {}
    if not problems:
        raise BuildError("Choose at least one problem.")
    conditions = list(study.conditions.all())
    chosen = chosen_traces(problems, sources, conditions)
    ready = {p.pk for p in eligible(problems, sources, conditions)}
    lacking = [p.source_id for p in problems if p.pk not in ready]
    if lacking:
        named = ", ".join(lacking[:10]) + (", ..." if len(lacking) > 10 else "")
        needed = ", ".join(c.label for c in traced(conditions))
        raise BuildError(
            f"{len(lacking)} of the {len(problems)} problems lack a trace with an answer for one of the "
            f"conditions ({needed}) from the chosen sources ({named}); nothing was built. Make them with "
            "trace jobs or choose other problems."
        )
    result = BuildResult([], [], [])
    for problem in problems:
        r1 = chosen[answering(conditions)][problem.pk]
        stimulus, created = Stimulus.objects.get_or_create(
            study=study, code=problem.source_id,
            defaults={
                "source": f"{problem.dataset} {problem.subset} (problem #{problem.pk}); answer of "
                          f"{r1.model_name} ({r1.source})",
                "context_facts": list(problem.facts), "question": problem.question,
                "gold_answers": list(problem.gold_answers), "model_answer": short_answer(r1.answer),
                "model_answer_original": r1.answer, "grades": answer_grades(problem, r1),
            },
        )
        if not created and answered(stimulus):
            result.skipped_rated.append(stimulus.code)
            continue
        (result.created if created else result.completed).append(stimulus.code)
        for condition, (text, trace) in condition_texts(problem, chosen, conditions).items():
            StimulusTrace.objects.update_or_create(
                stimulus=stimulus, condition=condition,
                defaults={
                    "text": text, "reference_trace": trace,
                    "provenance": provenance(trace) if trace else {
                        "kind": "decomposition", "source": DECOMPOSITION_SOURCE,
                        "problem": f"{problem.dataset}:{problem.source_id}",
                    },
                },
            )
    return result
