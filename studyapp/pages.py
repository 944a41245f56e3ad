"""The pages a participant goes through, by key: consent, instructions, the practice problem, one page per
trial (in a simulation study a prediction page before each), the end questionnaire, and done. Plain
naming, read by the participant's way through the study (services) and by the monitor."""

from .models import Participant, TrialTask

CONSENT = "consent"
INSTRUCTIONS = "instructions"
PRACTICE = "practice"
QUESTIONNAIRE = "questionnaire"
DONE = "done"
TRIAL_PREFIX = "trial-"
PREDICT_PREFIX = "predict-"  # simulation: the prediction page before each trial's page
PRACTICE_PREDICT = "predict-practice"


def page_keys(participant: Participant) -> list[str]:
    """The pages in order: consent, instructions, the practice problem if any, one per trial, the end
    questionnaire. In a simulation study each trial (and the practice problem) has its prediction page
    first (predict-N, then trial-N revealing the model's answer)."""
    n_trials = len(participant.stimulus_sequence)
    if participant.study.trial_task == TrialTask.SIMULATION:
        trials = [key for n in range(1, n_trials + 1)
                  for key in (f"{PREDICT_PREFIX}{n}", f"{TRIAL_PREFIX}{n}")]
        practice = [PRACTICE_PREDICT, PRACTICE] if participant.practice_stimulus_id else []
    else:
        trials = [f"{TRIAL_PREFIX}{n}" for n in range(1, n_trials + 1)]
        practice = [PRACTICE] if participant.practice_stimulus_id else []
    return [CONSENT, INSTRUCTIONS, *practice, *trials, QUESTIONNAIRE]


def trial_number(page: str) -> int | None:
    """1-based trial number of a trial page key, else None."""
    if page.startswith(TRIAL_PREFIX) and page[len(TRIAL_PREFIX):].isdigit():
        return int(page[len(TRIAL_PREFIX):])
    return None


def predict_number(page: str) -> int | None:
    """1-based trial number of a simulation trial's prediction page key, else None."""
    if page.startswith(PREDICT_PREFIX) and page[len(PREDICT_PREFIX):].isdigit():
        return int(page[len(PREDICT_PREFIX):])
    return None


def is_prediction(page: str) -> bool:
    """A simulation prediction page (of a trial or of the practice problem)."""
    return page == PRACTICE_PREDICT or predict_number(page) is not None


def is_problem_page(page: str) -> bool:
    """A page showing a problem and its text: a trial, the practice problem, or a prediction page."""
    return page == PRACTICE or trial_number(page) is not None or is_prediction(page)


def trial_of(page: str) -> int | None:
    """The trial a trial or prediction page belongs to."""
    return trial_number(page) or predict_number(page)
