"""Verification and simulation studies for tests: stimuli with graded answers (half right, half wrong
under the strict definition), answer candidates (the model's answer among them, except on every fourth,
where "none of these" is right) and masked texts in every condition."""

from studyapp.models import Condition, Item, Stimulus, StimulusTrace, Study, TraceKind, TrialTask
from studyapp.study_setup import add_defaults

#: Two conditions: (code, label, heading, kind of text).
TWO = [
    ("steps", "Step-by-step reasoning", "The model's reasoning", TraceKind.REASONING),
    ("plain", "The answer alone", "The model's note", TraceKind.IMPORTED),
]
HIDDEN = "[answer hidden]"


def answer(n: int) -> str:
    """The model's answer on stimulus n (never a part of another stimulus's names)."""
    return f"Name{n:02d}"


def judged_study(slug: str, task: str, *, n_stimuli: int = 8, trials: int = 4, target: int = 10,
                 items: bool = True, live: bool = True) -> Study:
    """A between-participants study of TWO with this trial task; with ``items`` the default per-trial and
    end questionnaire, else only its attention checks off (no per-trial items)."""
    study = Study.objects.create(
        slug=slug, title=f"Study {slug}", trial_task=task, target_per_condition=target,
        trials_per_participant=trials, completion_code="C-OK", no_consent_code="C-NO",
        failed_attention_code="C-ATTN", attention_checks=2 if items else 0,
    )
    for position, (code, label, heading, kind) in enumerate(TWO, start=1):
        Condition.objects.create(study=study, code=code, label=label, trace_heading=heading, trace_kind=kind,
                                 position=position)
    if items:
        add_defaults(study)
    else:
        Item.objects.create(study=study, code="effort_1", construct="effort", scope=Item.Scope.END,
                            text="The texts took effort to read.", anchors=["1", "2", "3", "4", "5"])
    for n in range(n_stimuli):
        candidates = [f"Other{n:02d}a", f"Other{n:02d}b"]
        if n % 4 != 3:
            candidates.insert(n % 3, f"  name{n:02d} ")  # the model's answer, in other case and spaces
        stimulus = Stimulus.objects.create(
            study=study, code=f"q{n:02d}", context_facts=[f"{c.strip()} was chair once." for c in candidates],
            question=f"Who was chair in 1995 ({n})?", gold_answers=[answer(n)], model_answer=answer(n),
            grades={"answer_strict": n % 2 == 0, "answer_published": n % 2 == 0 or n % 3 == 0,
                    "classification_strict": True, "retrieval_strict": n % 4 < 2, "source": "tests"},
            answer_candidates=candidates,
        )
        for code, *_ in TWO:
            StimulusTrace.objects.create(
                stimulus=stimulus, condition=code, text=f"{code} reasoning for q{n:02d}. So: {answer(n)}.",
                masked_text=f"{code} reasoning for q{n:02d}. So: {HIDDEN}.", mask_note="final answer masked",
            )
    if live:
        Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    study.refresh_from_db()
    return study


def verification_study(slug: str = "verify", **kwargs: object) -> Study:
    return judged_study(slug, TrialTask.VERIFICATION, **kwargs)


def simulation_study(slug: str = "simulate", **kwargs: object) -> Study:
    return judged_study(slug, TrialTask.SIMULATION, **kwargs)
