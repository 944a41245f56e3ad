"""Turning model outputs into study stimuli for one condition of a study."""

from dataclasses import dataclass

from django.db import transaction

from studyapp.models import Response, Stimulus, StimulusTrace, Study

from .grading.parsing import short_answer
from .models import ModelOutput


@dataclass(frozen=True)
class StimuliResult:
    created: int
    updated: int
    skipped_shown: list[str]  # stimuli participants have already answered about: left unchanged


@transaction.atomic
def traces_to_stimuli(traces: list[ModelOutput], study: Study, condition: str) -> StimuliResult:
    """Make (or complete) one stimulus per problem with the trace as that condition's text.

    A stimulus that participants have already rated keeps its text: changing it would make their
    answers refer to something they never read.
    """
    created = updated = 0
    skipped = []
    for trace in traces:
        problem = trace.problem
        stimulus, _ = Stimulus.objects.get_or_create(
            study=study, code=problem.source_id,
            defaults={
                "source": f"{problem.dataset} {problem.subset}; output of {trace.evaluation.model_name} "
                          f"(evaluation #{trace.evaluation_id})",
                "context_facts": problem.facts, "question": problem.question,
                "gold_answers": problem.gold_answers, "model_answer": short_answer(trace.raw_text),
                "model_answer_original": trace.answer or trace.raw_text,
            },
        )
        if Response.objects.filter(stimulus=stimulus).exists():
            skipped.append(stimulus.code)
            continue
        _, was_created = StimulusTrace.objects.update_or_create(
            stimulus=stimulus, condition=condition, defaults={"text": trace.raw_text}
        )
        created += was_created
        updated += not was_created
    return StimuliResult(created, updated, skipped)
