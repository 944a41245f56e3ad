"""The report's behaviour section on simulated judgements whose accuracies are set per condition."""

import random

import pytest

from analysis.report.behaviour import Judgement, section


def simulated(task: str, accuracy: dict[str, float], people: int = 40, trials: int = 12,
              seed: int = 2) -> list[Judgement]:
    """Participants (between: each in one condition) answering right with the condition's probability;
    half the model answers right, verification's yes/no following from correctness."""
    rng = random.Random(seed)
    out = []
    codes = list(accuracy)
    for person in range(people):
        code = codes[person % len(codes)]
        for _ in range(trials):
            stimulus = rng.randrange(24)
            answer_correct = stimulus % 2 == 0
            correct = rng.random() < accuracy[code]
            said_yes = answer_correct == correct if task == "verification" else None
            out.append(Judgement(
                participant=person, stimulus=stimulus, condition=code, task=task, correct=correct,
                confidence=rng.randint(1, 5), options=2 if task == "verification" else 5,
                server_ms=rng.randint(4000, 30000), choice_ms=rng.choice([None, rng.randint(2000, 20000)]),
                said_yes=said_yes, answer_correct=answer_correct, trace_correct=stimulus % 4 < 2,
            ))
    return out


@pytest.mark.parametrize("task", ["verification", "simulation"])
def test_the_set_accuracies_are_recovered_within_their_intervals(task):
    judgements = simulated(task, {"steps": 0.9, "plain": 0.6})
    report = section(judgements, ["plain", "steps"])
    rows = {row["condition"]: row for row in report["conditions"]}
    assert list(rows) == ["plain", "steps"]  # the study's order
    for code, set_accuracy in {"steps": 0.9, "plain": 0.6}.items():
        low, high = rows[code]["accuracy_ci"]
        assert low <= set_accuracy <= high, (code, rows[code])
        assert rows[code]["n_participants"] == 20 and rows[code]["n_trials"] == 240
    model = report["mixed_logistic"]
    assert model["reference"] == "plain" and model["terms"][:2] == ["(Intercept)", "condition[steps]"]
    ratio = model["odds_ratios"]["condition[steps]"]
    true_ratio = (0.9 / 0.1) / (0.6 / 0.4)  # 6
    assert ratio["low"] <= true_ratio <= ratio["high"] and ratio["low"] > 1
    assert model["lr"]["p"] < 0.001 and model["wald"]["condition"]["p"] < 0.001
    assert model["moderators"] == []
    moderation = report["moderation"]  # correctness does not depend on the moderators here
    assert moderation["moderators"] == ["trace_correct", "answer_correct"]
    for term in ("trace_correct", "answer_correct"):
        low, high = moderation["odds_ratios"][term]["low"], moderation["odds_ratios"][term]["high"]
        assert low < 1 < high, term
    if task == "verification":
        # correct 90% on right and wrong answers alike: d' = 2 z(.9) = 2.56, no bias
        assert rows["steps"]["d_prime"] == pytest.approx(2.56, abs=0.5)
        assert abs(rows["steps"]["criterion"]) < 0.4
    else:
        assert "d_prime" not in rows["steps"] or rows["steps"]["d_prime"] is None


def test_ratings_are_set_against_accuracy_per_condition_and_missing_data_say_why():
    judgements = simulated("simulation", {"a": 0.8, "b": 0.5}, people=12, trials=6)
    accuracy = {}
    for j in judgements:
        accuracy.setdefault((j.participant, j.condition), []).append(j.correct)
    # a rating that follows accuracy exactly: r = 1 in every condition
    ratings = {(p, c, "predictability"): 1 + 4 * sum(v) / len(v) for (p, c), v in accuracy.items()}
    report = section(judgements, ["a", "b"], ratings)
    assert report["subjective"]["construct"] == "predictability"
    for row in report["subjective"]["by_condition"]:
        assert row["n"] == 6 and row["pearson_r"] == pytest.approx(1.0)
    empty = section([], ["a", "b"])
    assert empty["mixed_logistic"] is None and "no judgements" in empty["reason"]
