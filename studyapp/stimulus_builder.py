"""A study's stimuli assembled from the traces the ``traces`` app made or imported.

A problem can be a stimulus when it has a trace of every condition: a reasoning trace, a summary and a
post-hoc explanation from the sources chosen (a job here, an imported file), and a decomposition
trace, built by the paper's rule. The stimulus shows one short final answer in every condition: the
reasoning trace's answer, as the paper's study did. Every condition's text records where it came
from (the trace, its job, model and prompt), and keeps it in the exports. Rated stimuli are never
changed: the answers given would refer to a text nobody read.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from traces import reference_traces, sft
from traces.grading.outputs import score_answer
from traces.grading.parsing import short_answer
from traces.models import Problem, ReferenceTrace

from .models import ConditionCode, Response, Stimulus, StimulusTrace, Study

#: The conditions whose text is a reference trace, and the kind of trace.
TRACE_CONDITIONS = {
    ConditionCode.R1: "r1", ConditionCode.R1_SUMMARY: "r1_summary", ConditionCode.POSTHOC: "posthoc",
}
DECOMPOSITION_SOURCE = "rule-based decomposition (traces.sft, setting decomposition_correct)"


class BuildError(ValueError):
    """The stimuli cannot be built as asked; the message says why, and nothing was changed."""


@dataclass(frozen=True)
class BuildResult:
    created: list[str]  # stimulus codes made
    completed: list[str]  # existing stimuli whose traces were set
    skipped_rated: list[str]  # stimuli participants have rated: left as they were


def chosen_traces(
    problems: Sequence[Problem], sources: dict[str, str]
) -> dict[str, dict[int, ReferenceTrace]]:
    """Condition -> problem id -> its trace from the chosen source (``sources``: condition ->
    source label; a condition left out takes the only source there is)."""
    chosen = {}
    for condition, kind in TRACE_CONDITIONS.items():
        try:
            chosen[condition] = reference_traces.choose(problems, kind, sources.get(condition, ""))
        except reference_traces.AmbiguousTraces as error:
            raise BuildError(f"{ConditionCode(condition).label}: {error}") from None
    return chosen


def eligible(
    problems: Sequence[Problem], sources: dict[str, str], *, only_correct: bool = False
) -> list[Problem]:
    """The problems with a trace of every condition from the chosen sources and a reasoning answer
    (with ``only_correct``, a right one, as the paper's explanations were of R1's correct answers:
    the answer participants are shown, by the strict check; the paper's lenient metric also counts
    an answer whose justification merely names the gold answer, as R1's "None" on
    cotempqa-equal-62)."""
    chosen = chosen_traces(problems, sources)
    out = []
    for p in problems:
        if not all(p.pk in chosen[c] for c in TRACE_CONDITIONS):
            continue
        r1 = chosen[ConditionCode.R1][p.pk]
        if r1.answer.strip() and (not only_correct or shown_answer_right(p, r1.answer)):
            out.append(p)
    return out


def shown_answer_right(problem: Problem, answer: str) -> bool:
    """Whether the short answer a stimulus shows is right by the strict answer check."""
    return score_answer(short_answer(answer), problem.as_plain(), as_published=False).exact_match


def draw_balanced(problems: Sequence[Problem], n: int, seed: int = 0) -> list[Problem]:
    """``n`` problems drawn at random (reproducibly, from ``seed``), as evenly over their relations or
    tasks (``subset``) as they allow: one from each in turn."""
    by_subset: dict[str, list[Problem]] = defaultdict(list)
    for problem in sorted(problems, key=lambda p: p.pk):
        by_subset[problem.subset].append(problem)
    rng = random.Random(seed)
    for group in by_subset.values():
        rng.shuffle(group)
    drawn: list[Problem] = []
    while len(drawn) < n and any(by_subset.values()):
        for subset in sorted(by_subset):
            if by_subset[subset] and len(drawn) < n:
                drawn.append(by_subset[subset].pop())
    return drawn


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
    chosen = chosen_traces(problems, sources)
    ready = {p.pk for p in eligible(problems, sources)}
    lacking = [p.source_id for p in problems if p.pk not in ready]
    if lacking:
        named = ", ".join(lacking[:10]) + (", ..." if len(lacking) > 10 else "")
        raise BuildError(
            f"{len(lacking)} of the {len(problems)} problems lack a reasoning trace with an answer, a "
            f"summary or an explanation from the chosen sources ({named}); nothing was built. Make them "
            "with trace jobs or choose other problems."
        )
    result = BuildResult([], [], [])
    for problem in problems:
        r1 = chosen[ConditionCode.R1][problem.pk]
        stimulus, created = Stimulus.objects.get_or_create(
            study=study, code=problem.source_id,
            defaults={
                "source": f"{problem.dataset} {problem.subset} (problem #{problem.pk}); answer of "
                          f"{r1.model_name} ({r1.source})",
                "context_facts": list(problem.facts), "question": problem.question,
                "gold_answers": list(problem.gold_answers), "model_answer": short_answer(r1.answer),
                "model_answer_original": r1.answer,
            },
        )
        if not created and Response.objects.filter(stimulus=stimulus).exists():
            result.skipped_rated.append(stimulus.code)
            continue
        (result.created if created else result.completed).append(stimulus.code)
        texts = {
            condition: (chosen[condition][problem.pk].text, chosen[condition][problem.pk])
            for condition in TRACE_CONDITIONS
        }
        decomposition = sft.assistant_content("decomposition_correct", problem.as_plain())
        texts[ConditionCode.DECOMPOSITION] = (decomposition, None)
        for condition, (text, trace) in texts.items():
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
