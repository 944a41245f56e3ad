"""oTree settings of the benchmark's mirror of the demo study (bench/otree/compare.py starts it).

One session config, ``trace_study``: the demo study's pages, written as an oTree 6 researcher would.
The session's texts (stimuli, traces, consent) come from the JSON file that compare.py exports from
the seeded demo study; ``TRACE_STUDY_STIMULI`` names it.
"""

from os import environ

SESSION_CONFIGS = [
    dict(
        name="trace_study",
        display_name="How people read AI reasoning (demo, mirrored in oTree)",
        app_sequence=["trace_study"],
        num_demo_participants=4,
        # the demo study's Prolific codes (studyapp/demo.py)
        completion_code="DEMO-COMPLETE",
        no_consent_code="DEMO-NOCONSENT",
        failed_attention_code="DEMO-ATTENTION",
        attention_fail_limit=2,
        time_limit_minutes=60,  # 0: no time limit
    ),
]

SESSION_CONFIG_DEFAULTS = dict(real_world_currency_per_point=1.00, participation_fee=0.00, doc="")

# set per participant when the session is created (trace_study.creating_session), read on its pages
PARTICIPANT_FIELDS = ["condition", "stimuli", "check_rounds", "attention_failures", "expiry"]
SESSION_FIELDS = []

LANGUAGE_CODE = "en"
REAL_WORLD_CURRENCY_CODE = "GBP"
USE_POINTS = True

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = environ.get("OTREE_ADMIN_PASSWORD")

DEMO_PAGE_INTRO_HTML = ""

SECRET_KEY = environ.get("OTREE_SECRET_KEY", "bench-otree-not-a-secret")
