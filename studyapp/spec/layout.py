"""Where each of a study's settings sits in the study file: the one table the writer, the reader and the
importer share."""

import json
from functools import cache
from pathlib import Path

FORMAT = "trace-study/1"
SCHEMA_PATH = Path(__file__).with_name("study.schema.json")
#: The paper's study as a study file (written by the exporter from the demo study; a test keeps it current).
EXAMPLE_PATH = Path(__file__).with_name("examples") / "paper-study.json"

#: The groups of study settings: group -> (key in the file, Study field), in the file's order.
STUDY_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "design": (
        ("assignment", "design"), ("target_per_condition", "target_per_condition"),
        ("trials_per_participant", "trials_per_participant"),
        *((name, name) for name in (
            "trial_task", "truth_definition", "confidence_anchors", "simulation_feedback", "step_rating",
        )),
    ),
    "participation": tuple((name, name) for name in (
        "time_limit_minutes", "consent_hold_minutes", "answer_position", "protect_problem_text",
        "return_countdown_seconds", "attention_checks", "attention_fail_limit", "practice_trial", "languages",
    )),
    "prolific": tuple(
        (name, name) for name in ("completion_code", "no_consent_code", "failed_attention_code")
    ),
    "consent": tuple((name, name) for name in (
        "consent_text", "researchers", "institution", "ethics_approval", "contact", "estimated_minutes",
        "withdrawal_text", "debriefing_text",
    )),
}
#: Study field -> where it is in the file
STUDY_FIELD_PATHS: dict[str, tuple[str, ...]] = {
    "slug": ("slug",), "title": ("title",), "translations": ("translations",),
    **{field: (group, key) for group, pairs in STUDY_GROUPS.items() for key, field in pairs},
}
CONDITION_FIELDS = ("code", "label", "trace_heading", "trace_kind", "text_source")
ITEM_FIELDS = (
    "code", "construct", "scope", "text", "scale_points", "anchors", "reverse_keyed", "expected_value",
    "source",
)
STIMULUS_FIELDS = (
    "code", "source", "context_facts", "question", "gold_answers", "model_answer", "model_answer_original",
    "grades", "answer_candidates",
)
TEXT_FIELDS = ("masked_text", "mask_note")  # a text's besides its text and provenance
#: The key of a row's texts in the study's other languages (the study's at the top of the file, each
#: condition's, item's, problem's and text's in it), written only where there are some.
TRANSLATIONS = "translations"


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
