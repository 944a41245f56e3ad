"""The demo study: the 16 CoTempQA pilot problems with the paper authors' traces, four conditions.

The R1 trace, its summary and the post-hoc explanation come from ``traces/data/cotempqa_pilot`` (see its
README for provenance); the decomposition trace is built by the paper's rule in ``traces``.
Seeding is idempotent: what exists is kept as it is, including a researcher's edits.
"""

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from traces.decomposition import build_trace
from traces.grading.parsing import short_answer
from traces.importing import PILOT_FILE

from .models import ConditionCode, Stimulus, StimulusTrace, Study
from .study_setup import add_defaults

DEMO_SLUG = "demo"

_PILOT_TRACE_KEYS = {
    ConditionCode.R1: "r1",
    ConditionCode.R1_SUMMARY: "r1_summary",
    ConditionCode.POSTHOC: "posthoc_explanation",
}


@dataclass(frozen=True)
class SeedResult:
    study: Study
    study_created: bool
    stimuli_created: int
    traces_created: int


def load_pilot(path: Path = PILOT_FILE) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def pilot_traces(row: dict) -> dict[str, str]:
    """Condition code → the trace a participant in that condition reads for this problem."""
    traces = {code: row["traces"][key] for code, key in _PILOT_TRACE_KEYS.items()}
    traces[ConditionCode.DECOMPOSITION] = build_trace(
        row["question"], row["facts"], row["gold_answers"], row["relation"], correct=True
    )
    return traces


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
    stimuli_created = traces_created = 0
    for row in load_pilot():
        stimulus, created = Stimulus.objects.get_or_create(
            study=study,
            code=row["id"],
            defaults={
                "source": row["source"],
                "context_facts": row["facts"],
                "question": row["question"],
                "gold_answers": row["gold_answers"],
                "model_answer": short_answer(row["model_answers"]["r1"]),
                "model_answer_original": row["model_answers"]["r1"],
            },
        )
        stimuli_created += created
        for condition, text in pilot_traces(row).items():
            _, created = StimulusTrace.objects.get_or_create(
                stimulus=stimulus, condition=condition, defaults={"text": text}
            )
            traces_created += created
    if study_created:  # live once its stimuli are in (a study is never live unless ready)
        study.status = Study.Status.LIVE
        study.save(update_fields=["status"])
    return SeedResult(study, study_created, stimuli_created, traces_created)


def participant_link(base_url: str, study: Study) -> str:
    """A Prolific-style link with a fresh made-up PROLIFIC_PID, to try the study as a participant."""
    return (
        f"{base_url}/study/{study.slug}/?PROLIFIC_PID={secrets.token_hex(12)}"
        f"&STUDY_ID={secrets.token_hex(12)}&SESSION_ID={secrets.token_hex(8)}"
    )
