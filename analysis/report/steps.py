"""The report's ``steps`` section (step rating): where participants marked a trace's first wrong step,
per condition, scored against the graded steps where the stimulus has them, and the test of condition
on whether the mark is right.

Plain data in (one ``StepMark`` per trial), a JSON-ready dict out; the statistics are
``analysis.stats.binary.wilson`` and ``analysis.stats.glmm.mixed_logistic``, worded as the behaviour
section words them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from studyapp.step_rating import NO_WRONG_STEP as NONE_WRONG

from .. import stats as st
from .behaviour import worded
from .records import StepMark


def section(marks: Sequence[StepMark], codes: Sequence[str]) -> dict:
    """Per condition (in ``codes``' order) the marks' figures (``_figures``), and the mixed logistic
    regression of a scoreable mark's correctness on condition with participants and stimuli crossed
    (the behaviour section's model: between participants condition varies between them, within
    participants within them; the random intercepts are the same). Where no mark can be scored, the
    counts are given and ``reason`` says why there is nothing more."""
    if not marks:
        return {"conditions": [], "mixed_logistic": None,
                "reason": "no step marks from the participants analysed yet"}
    by_condition: dict[str, list[StepMark]] = defaultdict(list)
    for mark in marks:
        by_condition[mark.condition].append(mark)
    conditions = [{"condition": code, **_figures(by_condition[code])} for code in codes
                  if by_condition.get(code)]
    scoreable = [m for m in marks if m.correct is not None]
    if not scoreable:
        return {"conditions": conditions, "mixed_logistic": None,
                "reason": "no mark can be scored: none of the traces marked is graded step by step (only "
                          "decomposition traces made from graded model outputs are)"}
    model = st.mixed_logistic(
        [m.correct for m in scoreable], [m.condition for m in scoreable],
        {"participant": [m.participant for m in scoreable], "stimulus": [m.stimulus for m in scoreable]},
        conditions=[c for c in codes if any(m.condition == c for m in scoreable)],
    )
    return {"conditions": conditions, "mixed_logistic": worded(model), "reason": None}


def _share(k: int, n: int) -> dict:
    """k of n with the proportion and its Wilson interval (None where n is 0)."""
    w = st.wilson(k, n)
    return {"k": w["k"], "n": w["n"], "proportion": w["proportion"],
            "ci": None if w["low"] is None else [w["low"], w["high"]]}


def _figures(marks: list[StepMark]) -> dict:
    """One condition's figures: ``n_participants``; ``n_marked`` (trials with a mark) and ``n_none``
    (marked "none is wrong"); ``n_scoreable`` (the truth known); ``correct`` (marks that are the graded
    first wrong step, of the scoreable); ``missed`` ("none is wrong" where a step was wrong, of those
    with a wrong step); ``false_alarms`` (a step marked where every step was right, of those with none
    wrong); each k of n with its proportion and Wilson 95% interval; and ``wrong_step``: of the marks
    that name a step where another step is the first wrong one, how many (``n``), how far from it on
    average (``mean_distance``, in steps) and in which direction (``mean_signed``: positive = marked
    later than the truth, negative = earlier)."""
    scored = [m for m in marks if m.truth is not None]
    erroneous = [m for m in scored if m.truth != NONE_WRONG]
    sound = [m for m in scored if m.truth == NONE_WRONG]
    misplaced = [m.mark - m.truth for m in erroneous if m.mark not in (NONE_WRONG, m.truth)]
    reason = None if scored else "no trace shown in this condition is graded step by step"
    return {
        "n_participants": len({m.participant for m in marks}),
        "n_marked": len(marks),
        "n_none": sum(m.mark == NONE_WRONG for m in marks),
        "n_scoreable": len(scored),
        "correct": _share(sum(bool(m.correct) for m in scored), len(scored)),
        "missed": _share(sum(m.mark == NONE_WRONG for m in erroneous), len(erroneous)),
        "false_alarms": _share(sum(m.mark != NONE_WRONG for m in sound), len(sound)),
        "wrong_step": {
            "n": len(misplaced),
            "mean_distance": sum(abs(d) for d in misplaced) / len(misplaced) if misplaced else None,
            "mean_signed": sum(misplaced) / len(misplaced) if misplaced else None,
        },
        "reason": reason,
    }
