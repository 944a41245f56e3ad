"""Setting a study up and checking it is ready before participants arrive."""

from collections import Counter

from django.db import transaction
from django.db.models import Prefetch
from django.dispatch import receiver

from . import content, counterbalancing, languages
from .conditions import PAPER_CONDITIONS
from .models import (
    Condition,
    Construct,
    Item,
    Participant,
    Stimulus,
    StimulusTrace,
    Study,
    TraceKind,
    TrialTask,
    several_candidates,
    study_going_live,
)
from .questionnaire import DEFAULT_ITEMS
from .stimulus_builder import answer_conflicts


@transaction.atomic
def add_defaults(study: Study) -> None:
    """Give a study without conditions the paper's four, and the default questionnaire, keeping whatever
    items it has."""
    if not study.conditions.exists():
        for position, template in enumerate(PAPER_CONDITIONS, start=1):
            Condition.objects.create(
                study=study, code=template.code, label=template.label, trace_kind=template.trace_kind,
                trace_heading=template.trace_heading, position=position,
            )
    for position, spec in enumerate(DEFAULT_ITEMS, start=1):
        Item.objects.get_or_create(
            study=study,
            code=spec.code,
            defaults={
                "construct": spec.construct,
                "scope": spec.scope,
                "text": spec.text,
                "anchors": list(spec.anchors),
                "source": spec.source,
                "expected_value": spec.expected_value,
                "position": position,
            },
        )


@receiver(study_going_live, sender=Study)
def _refuse_going_live(study: Study, **_: object) -> list[str]:
    return readiness_problems(study)


def readiness_problems(study: Study) -> list[str]:
    """What stops the study from running, in words a researcher can act on; empty when ready."""
    problems = []
    conditions = list(study.conditions.values_list("code", flat=True))
    n_trials = study.trials_per_participant
    within = study.design == Study.Design.WITHIN
    in_every = content.for_study(study).stimuli_in_every_condition
    problems += counterbalancing.design_problems(
        study.design, len(conditions), n_trials, len(in_every) if within else None
    )
    for code in conditions:
        with_trace = study.stimuli.filter(traces__condition=code, is_practice=False).distinct().count()
        if with_trace < n_trials:
            problems.append(
                f"Condition '{code}' has traces for {with_trace} stimuli; "
                f"each participant needs {n_trials}."
            )
        practice = study.stimuli.filter(traces__condition=code, is_practice=True)
        if study.practice_trial and not practice.exists():
            problems.append(f"The practice trial is on, but no practice stimulus has a '{code}' trace.")
    trial_items = study.items.filter(scope=Item.Scope.TRIAL).exclude(construct=Construct.ATTENTION_CHECK)
    if not trial_items.exists() and not study.judged:
        problems.append("The study has no per-trial questionnaire items.")
    answer_only = study.conditions.filter(trace_kind=TraceKind.ANSWER_ONLY).values_list("code", flat=True)
    if answer_only and trial_items.exists():
        problems.append(
            f"Condition {_named([repr(c) for c in answer_only])} shows the model's answer alone, but the "
            "study has per-trial items, which rate the text shown; make them end-of-study items or give the "
            "condition a kind of text."
        )
    if study.attention_checks:
        if not study.items.filter(construct=Construct.ATTENTION_CHECK).exists():
            problems.append(
                f"The study asks for {study.attention_checks} attention checks but has no attention-check "
                "item."
            )
        if study.attention_fail_limit > min(study.attention_checks, n_trials):
            problems.append(
                f"A participant fails the attention checks after {study.attention_fail_limit}, but sees only "
                f"{min(study.attention_checks, n_trials)}."
            )
    codes = (study.completion_code, study.no_consent_code, study.failed_attention_code)
    if not all(code.strip() for code in codes):
        problems.append("Every Prolific completion code must be filled in.")
    return problems + task_problems(study) + missing_texts(study) + languages.missing_translations(study)


def _named(codes: list[str], limit: int = 10) -> str:
    more = f" and {len(codes) - limit} more" if len(codes) > limit else ""
    return ", ".join(codes[:limit]) + more


def task_problems(study: Study) -> list[str]:
    """What the study's trial task needs of its stimuli (the practice problem's included): verification,
    the ground truth of every answer under the study's definition, and both right and wrong answers among
    the trial stimuli (else the judgement measures nothing); simulation, answer candidates on every
    stimulus and a masked text in every condition (the text shown before the answer is revealed)."""
    stimuli = list(study.stimuli.prefetch_related("traces").order_by("code"))
    if study.trial_task == TrialTask.VERIFICATION:
        definition = study.truth_definition
        ungraded = [s.code for s in stimuli if s.answer_correct(definition) is None]
        if ungraded:
            return [f"A verification study needs the ground truth of every model answer: {len(ungraded)} "
                    f"stimuli have no '{definition}' answer grade (grades.answer_{definition}): "
                    f"{_named(ungraded)}."]
        graded = [s.answer_correct(definition) for s in stimuli if not s.is_practice]
        right, wrong = graded.count(True), graded.count(False)
        if not right or not wrong:
            return [f"A verification study needs both right and wrong model answers among its stimuli; it "
                    f"has {right} right and {wrong} wrong ({definition} grades)."]
    if study.trial_task == TrialTask.SIMULATION:
        problems = []
        without = [s.code for s in stimuli if not s.answer_candidates]
        if without:
            problems.append(f"A simulation study offers each stimulus's answer candidates: {len(without)} "
                            f"stimuli have none: {_named(without)}.")
        several = [f"{s.code} ({'; '.join(parts)})" for s in stimuli
                   if (parts := several_candidates(s.model_answer, s.answer_candidates))]
        if several:
            problems.append(f"A simulation trial is scored against the model's answer as one choice: "
                            f"{len(several)} stimuli have an answer that names several of their candidates, "
                            f"so no single choice is it; leave them out of a simulation study or correct "
                            f"their answer: {_named(several)}.")
        texts = study.conditions.exclude(trace_kind=TraceKind.ANSWER_ONLY)
        codes = list(texts.values_list("code", flat=True))
        unmasked = [
            f"{s.code} ({trace.condition}{': ' + trace.mask_note if trace.mask_note else ''})"
            for s in stimuli for trace in s.traces.all() if trace.condition in codes and not trace.masked_text
        ]
        if unmasked:
            problems.append(f"A simulation study shows each text with the model's answer withheld: "
                            f"{len(unmasked)} texts have no masked text: {_named(unmasked)}.")
        return problems
    return []


def contradicted_answer(stimulus: Stimulus) -> list[str]:
    """Why participants in a condition would read a trace that contradicts the answer the stimulus
    shows (``stimulus_builder.answer_conflicts``: a text that states its answer, as the decomposition
    trace does), one sentence per such condition; empty when none does. Reads ``stimulus.traces``,
    prefetched by the callers that list many."""
    texts = {trace.condition: trace.text for trace in stimulus.traces.all()}
    conflicts = answer_conflicts(
        stimulus.model_answer, texts, question=stimulus.question, facts=stimulus.context_facts
    )
    return [
        f"Stimulus {stimulus.code} shows the answer {stimulus.model_answer!r}, but its "
        f"'{condition}' trace answers {'; '.join(stated) or 'nothing'}."
        for condition, stated in conflicts.items()
    ]


def answer_warnings(study: Study) -> list[str]:
    """The study's stimuli whose shown answer a condition's trace contradicts (``contradicted_answer``):
    not a reason to turn participants away, as ``readiness_problems`` are, but the researcher should
    correct the answer or the trace, or take the stimulus out, before participants read it."""
    # only texts that state an answer in a tag can contradict it: the long free-text traces stay unread
    stating = StimulusTrace.objects.filter(text__icontains="<answer>")
    stimuli = study.stimuli.prefetch_related(Prefetch("traces", queryset=stating)).order_by("code")
    return [warning for stimulus in stimuli for warning in contradicted_answer(stimulus)]


def missing_texts(study: Study) -> list[str]:
    """Texts that active participants are still to read but that are gone (deleted past the guards):
    each stops those participants at that trial."""
    have = set(StimulusTrace.objects.filter(stimulus__study=study).values_list("stimulus_id", "condition"))
    waiting: Counter = Counter()
    active = Participant.objects.filter(study=study, status=Participant.Status.ACTIVE).values_list(
        "trial_conditions", "stimulus_sequence", "practice_stimulus_id"
    )
    for conditions, sequence, practice in active:
        practice_read = [(practice, conditions[0])] if practice and conditions else []
        for stimulus_id, condition in {*zip(sequence, conditions, strict=False), *practice_read}:
            if (stimulus_id, condition) not in have:
                waiting[(stimulus_id, condition)] += 1
    codes = dict(study.stimuli.filter(pk__in=[s for s, _ in waiting]).values_list("pk", "code"))
    return [
        f"Stimulus {codes.get(stimulus_id, f'#{stimulus_id}')} has no '{condition}' text, but {n} active "
        f"participants in '{condition}' are to read it: they cannot go past that trial."
        for (stimulus_id, condition), n in sorted(waiting.items())
    ]
