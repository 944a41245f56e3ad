"""The rows the report's sections read, one per trial, as analysis.data gathers them from the database.

Plain records, apart from the statistics (which need numpy and scipy): the web process gathers a
study's data without importing them, and they are imported where a report is built.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Judgement:
    """One trial's judgement, as stored, with the ground truth of its stimulus."""

    participant: int
    stimulus: int
    condition: str
    task: str  # "verification" or "simulation"
    correct: bool
    confidence: int  # 1..5
    options: int  # answers there were to choose from: 2 (yes, no), or the candidates and "none of these"
    server_ms: int | None  # the page shown to its answers sent
    choice_ms: int | None  # in the browser: the trace shown to the choice (None without JavaScript)
    said_yes: bool | None = None  # verification: "yes, the model's answer is correct"
    answer_correct: bool | None = None  # the model's answer is right (the study's definition)
    trace_correct: bool | None = None  # both steps of the decomposition trace are right


@dataclass(frozen=True)
class StepMark:
    """One trial's mark, as stored: the step marked as the first wrong one, and where the graded steps
    say it is (None: the trace is not graded step by step, so the mark cannot be scored)."""

    participant: int
    stimulus: int
    condition: str  # the trial's condition
    steps_shown: int
    mark: int  # from 1; studyapp.step_rating.NO_WRONG_STEP for "none is wrong"
    truth: int | None  # from 1; NO_WRONG_STEP when every step is right
    correct: bool | None  # mark == truth, as scored when the mark was stored; None without a truth
