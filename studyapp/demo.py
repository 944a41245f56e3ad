"""The demo study: the CoTempQA pilot problems with the paper authors' traces, four conditions.

The problems and the R1 trace, its summary and the post-hoc explanation come from
``traces/data/cotempqa_pilot`` (see its README for provenance), stored in the traces app; the
stimuli are built from them as a researcher's are (``stimulus_builder``), with the decomposition
trace by the paper's rule, and only from problems whose shown answer is right by the strict check
and contradicted by no condition's trace (R1's "None" on cotempqa-equal-62 is left out).
Seeding is idempotent: what exists is kept as it is, including a researcher's edits.
"""

import secrets
from dataclasses import dataclass

from django.db import transaction

from traces.demo import import_pilot
from traces.importing import PILOT_SOURCE

from .models import StimulusTrace, Study
from .stimulus_builder import build_stimuli, eligible, traced
from .study_setup import add_defaults

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class SeedResult:
    study: Study
    study_created: bool
    stimuli_created: int
    traces_created: int
    left_out: list[str]  # pilot problems whose shown answer would be wrong or contradicted


@transaction.atomic
def seed_demo() -> SeedResult:
    study, study_created = Study.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={
            "title": "How people read AI reasoning (demo)",
            "completion_code": "DEMO-COMPLETE",
            "no_consent_code": "DEMO-NOCONSENT",
            "failed_attention_code": "DEMO-ATTENTION",
        },
    )
    if study_created:
        add_defaults(study)
    problems = import_pilot()
    conditions = list(study.conditions.all())
    sources = {condition.code: PILOT_SOURCE for condition in traced(conditions)}
    shown = eligible(problems, sources, conditions, only_correct=True)
    existing = set(study.stimuli.values_list("code", flat=True))
    new = [p for p in shown if p.source_id not in existing]
    created = build_stimuli(study, new, sources).created if new else []
    if study_created:  # live once its stimuli are in (a study is never live unless ready)
        study.status = Study.Status.LIVE
        study.save(update_fields=["status"])
    return SeedResult(
        study, study_created, len(created),
        StimulusTrace.objects.filter(stimulus__study=study, stimulus__code__in=created).count(),
        [p.source_id for p in problems if p not in shown],
    )


def participant_link(base_url: str, study: Study) -> str:
    """A Prolific-style link with a fresh made-up PROLIFIC_PID, to try the study as a participant."""
    return (
        f"{base_url}/study/{study.slug}/?PROLIFIC_PID={secrets.token_hex(12)}"
        f"&STUDY_ID={secrets.token_hex(12)}&SESSION_ID={secrets.token_hex(8)}"
    )
