"""The report's step-marks section (step rating) on marks whose figures are computed by hand, and its test
of condition on simulated marks, between and within participants."""

import random

import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis import stats as st
from analysis.report.steps import StepMark, section


def mark(participant: int, stimulus: int, condition: str, mark: int, truth: int | None,
         steps: int = 3) -> StepMark:
    return StepMark(participant, stimulus, condition, steps, mark, truth,
                    None if truth is None else mark == truth)


#: condition a: two participants, seven marks, six scoreable; b: one participant, two marks, both right
MARKS = [
    mark(1, 1, "a", 2, 2),  # right
    mark(1, 2, "a", 0, 0),  # right: none is wrong
    mark(1, 3, "a", 0, 1),  # missed error
    mark(1, 4, "a", 1, None),  # not graded step by step: unscored
    mark(2, 1, "a", 1, 2),  # a step too early
    mark(2, 2, "a", 2, 0),  # false alarm
    mark(2, 3, "a", 3, 1),  # two steps too late
    mark(3, 1, "b", 2, 2),
    mark(3, 2, "b", 0, 0),
]


def test_the_figures_per_condition_are_the_hand_counted_ones():
    report = section(MARKS, ["b", "a"])
    rows = {r["condition"]: r for r in report["conditions"]}
    assert list(rows) == ["b", "a"]  # the study's order
    a, b = rows["a"], rows["b"]
    assert (a["n_participants"], a["n_marked"], a["n_none"], a["n_scoreable"]) == (2, 7, 2, 6)
    assert (a["correct"]["k"], a["correct"]["n"], a["correct"]["proportion"]) == (2, 6, pytest.approx(1 / 3))
    # a step was wrong on four scoreable trials, one marked "none": a missed error
    assert (a["missed"]["k"], a["missed"]["n"], a["missed"]["proportion"]) == (1, 4, 0.25)
    # every step was right on two, one marked a step: a false alarm
    assert (a["false_alarms"]["k"], a["false_alarms"]["n"], a["false_alarms"]["proportion"]) == (1, 2, 0.5)
    # wrong steps marked: 1 for 2 (-1) and 3 for 1 (+2): mean distance 1.5, on average half a step late
    assert a["wrong_step"] == {"n": 2, "mean_distance": 1.5, "mean_signed": 0.5}
    assert (b["n_marked"], b["n_scoreable"], b["correct"]["proportion"]) == (2, 2, 1.0)
    assert [(b[key]["k"], b[key]["n"]) for key in ("missed", "false_alarms")] == [(0, 1), (0, 1)]
    assert b["wrong_step"] == {"n": 0, "mean_distance": None, "mean_signed": None}
    # b's marks are all right: no finite odds ratio, and the section says so rather than guessing
    assert report["mixed_logistic"]["coefficients"] is None
    assert "every trial in condition b is right" in report["mixed_logistic"]["words"]


@pytest.mark.parametrize(("k", "n"), [(2, 6), (1, 4), (1, 2), (0, 1), (2, 2)])
def test_the_intervals_are_statsmodels_wilson_intervals(k, n):
    figures = {(s["k"], s["n"]): s for r in section(MARKS, ["a", "b"])["conditions"]
               for s in (r["correct"], r["missed"], r["false_alarms"])}
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert figures[(k, n)]["ci"] == [pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12)]


def test_without_marks_or_without_a_graded_trace_the_section_says_why():
    empty = section([], ["a", "b"])
    assert empty["conditions"] == [] and empty["reason"] == "no step marks from the participants analysed yet"
    prose = section([mark(1, 1, "a", 2, None), mark(2, 1, "b", 0, None)], ["a", "b"])
    assert [r["n_marked"] for r in prose["conditions"]] == [1, 1]
    assert [r["correct"]["proportion"] for r in prose["conditions"]] == [None, None]
    assert prose["mixed_logistic"] is None
    assert "none of the traces marked is graded step by step" in prose["reason"]
    assert prose["conditions"][0]["reason"] == "no trace shown in this condition is graded step by step"


def simulated(right: dict[str, float], within: bool, people: int = 40, trials: int = 8,
              seed: int = 5) -> list[StepMark]:
    """Marks right with the condition's probability (else another of none, step 1, step 2), over 16
    stimuli whose first wrong step is 0, 1 or 2; between participants each participant in one condition,
    within each in every condition in turn. A third condition's prose traces are marked, never scored."""
    rng = random.Random(seed)
    codes, out = list(right), []
    for person in range(people):
        for trial in range(trials):
            code = codes[(person + trial if within else person) % len(codes)]
            stimulus = rng.randrange(16)
            truth = stimulus % 3
            chosen = truth if rng.random() < right[code] else rng.choice([s for s in (0, 1, 2) if s != truth])
            out.append(mark(person, stimulus, code, chosen, truth, steps=2))
        out.append(mark(person, 99, "prose", 1, None, steps=4))
    return out


@pytest.mark.parametrize("within", [False, True], ids=["between", "within"])
def test_condition_is_tested_on_the_scoreable_marks_with_the_behaviour_sections_model(within):
    marks = simulated({"plain": 0.5, "steps": 0.85}, within)
    report = section(marks, ["plain", "steps", "prose"])
    rows = {r["condition"]: r for r in report["conditions"]}
    assert rows["prose"]["n_scoreable"] == 0 and rows["prose"]["n_marked"] == 40
    for code, p in {"plain": 0.5, "steps": 0.85}.items():
        low, high = rows[code]["correct"]["ci"]
        assert low <= p <= high, (code, rows[code])
    model = report["mixed_logistic"]
    scored = [m for m in marks if m.truth is not None]
    assert model["n_trials"] == len(scored) == 320 and model["reference"] == "plain"
    assert model["conditions"] == ["plain", "steps"]  # prose has nothing to score: not in the model
    ratio = model["odds_ratios"]["condition[steps]"]
    assert ratio["low"] > 1 and model["lr"]["p"] < 0.001
    assert "likelihood ratio" in model["words"] and model["odds_ratio_words"][0]["words"].startswith("OR = ")
    direct = st.mixed_logistic([m.correct for m in scored], [m.condition for m in scored],
                               {"participant": [m.participant for m in scored],
                                "stimulus": [m.stimulus for m in scored]}, conditions=["plain", "steps"])
    assert model["coefficients"] == direct["coefficients"]
