"""Setting a study up and checking it is ready before participants arrive."""

from django.db import transaction

from .models import Condition, ConditionCode, Construct, Item, Study
from .questionnaire import DEFAULT_ITEMS


@transaction.atomic
def add_defaults(study: Study) -> None:
    """Give a study the four conditions and the default questionnaire, keeping whatever it has."""
    for code in ConditionCode.values:
        Condition.objects.get_or_create(study=study, code=code)
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


def readiness_problems(study: Study) -> list[str]:
    """What stops the study from running, in words a researcher can act on; empty when ready."""
    problems = []
    conditions = list(study.conditions.values_list("code", flat=True))
    if not conditions:
        problems.append("The study has no conditions.")
    n_trials = study.trials_per_participant
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
    if not trial_items.exists():
        problems.append("The study has no per-trial questionnaire items.")
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
    return problems
