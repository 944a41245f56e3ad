"""Participants' scores, computed exactly: a construct score is a mean of integer answers, kept as a
fraction until it is ranked or averaged, so that equal scores are equal (in floating point,
(1.0 + 1.2 + 1.1) / 3 and (1.2 + 1.1 + 1.0) / 3 differ, and ranks, ties and tests with them)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

#: The paper's constructs keep their labels; any other construct is labelled from its slug.
LABELS = {
    "predictability": "Predictability",
    "understandability": "Understandability",
    "faithfulness": "Faithfulness",
    "cognitive_load": "Cognitive load",
    "interpretability": "Interpretability (composite)",
}
COMPOSITE = "interpretability"
COMPOSITE_OF = ("predictability", "understandability", "faithfulness")
#: The group of every participant of a within-participants study in the exclusion, device and attrition
#: tables: they all read every condition.
WITHIN_GROUP = "all"


def label(key: str) -> str:
    """"cognitive_load" -> "Cognitive load"."""
    return LABELS.get(key) or key.replace("_", " ").replace("-", " ").capitalize()


def scored(item, value: int) -> int:
    """The answer as the construct counts it: points + 1 - value for a reverse-keyed item."""
    return item.scale_points + 1 - value if item.reverse_keyed else value


@dataclass(frozen=True)
class Plan:
    """The outcomes a study's items make: (key, label, points) in the items' order, the composite last
    where the study has its three constructs, and the constructs that cannot be scored, with why."""

    outcomes: list[tuple[str, str, int]]
    refused: list[dict]

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.outcomes]


def outcome_plan(items: list) -> Plan:
    """The study's outcomes: each construct of its per-trial items, and the composite. A construct whose
    items mix 5- and 7-point scales is refused rather than pooled: a 4 of 5 and a 4 of 7 are not the same
    answer, and any rescaling would be an analysis choice the plan did not register."""
    scales: dict[str, set[int]] = {}
    for item in items:
        if item.scope == "trial":
            scales.setdefault(item.construct, set()).add(item.scale_points)
    outcomes, refused = [], []
    for key, points in scales.items():
        if len(points) > 1:
            refused.append({"key": key, "label": label(key), "reason": (
                f"its items mix {' and '.join(f'{p}-point' for p in sorted(points))} scales; they are not "
                "pooled into one score (analyse its items separately, or give them one scale)")})
        else:
            outcomes.append((key, label(key), next(iter(points))))
    if COMPOSITE not in scales and all(k in scales for k in COMPOSITE_OF):
        points = set().union(*(scales[k] for k in COMPOSITE_OF))
        if len(points) == 1:
            outcomes.append((COMPOSITE, label(COMPOSITE), next(iter(points))))
        else:
            refused.append({"key": COMPOSITE, "label": label(COMPOSITE), "reason": (
                "the constructs it averages are not on one scale")})
    return Plan(outcomes, refused)


@dataclass
class Outcome:
    """One outcome's data, per condition: participants' scores, their answers, and the answers as
    rows (condition, participant, stimulus, value) for the mixed model. Answers are scored (reverse-keyed
    items turned round); within participants a participant has a score in every condition they read."""

    key: str
    label: str
    items: list[str]
    scores: dict[str, list[float]] = field(default_factory=dict)
    answers: dict[str, list[list[int]]] = field(default_factory=dict)
    rows: list[tuple[str, int, int, int]] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=dict)
    # (participant, condition, item, scored answer): for reliability
    item_answers: list[tuple[int, str, str, int]] = field(default_factory=list)
    points: int = 5
    # participant -> condition -> score (the paired tests of a within-participants study)
    by_person: dict[int, dict[str, float]] = field(default_factory=dict)


def outcomes(people: list, items: list, codes: list[str]) -> dict[str, Outcome]:
    """Every outcome of ``outcome_plan``, from the analysed participants' per-trial answers: each answer
    scored and counted in its trial's condition, a participant's score in a condition the exact mean of
    their scored answers there (the composite: the mean of its constructs' scores)."""
    plan = outcome_plan(items)
    item_of = {i.code: i for i in items if i.scope == "trial"}

    def belongs(construct: str, key: str) -> bool:
        return construct == key or (key == COMPOSITE and construct in COMPOSITE_OF)

    out = {
        key: Outcome(key, name, sorted(c for c, i in item_of.items() if belongs(i.construct, key)),
                     {c: [] for c in codes}, {c: [] for c in codes}, counts={c: [0] * points for c in codes},
                     points=points)
        for key, name, points in plan.outcomes
    }
    known = set(codes)
    for person in people:
        # (construct, condition) -> (stimulus, item, scored answer)
        found: dict[tuple[str, str], list[tuple[int, str, int]]] = defaultdict(list)
        for (stimulus, code), value in person.answers.items():
            condition = person.condition_of(stimulus)
            if stimulus is None or code not in item_of or condition not in known:
                continue
            found[(item_of[code].construct, condition)].append((stimulus, code, scored(item_of[code], value)))
        for condition in codes:
            per = {k: found[(k, condition)] for k in out if (k, condition) in found}
            exact = {k: Fraction(sum(v for *_, v in rows), len(rows)) for k, rows in per.items()}
            if COMPOSITE in out and all(k in exact for k in COMPOSITE_OF):
                exact[COMPOSITE] = sum((exact[k] for k in COMPOSITE_OF), Fraction(0)) / len(COMPOSITE_OF)
                per[COMPOSITE] = [r for k in COMPOSITE_OF for r in per[k]]
            for key, score in exact.items():
                outcome = out[key]
                outcome.scores[condition].append(float(score))
                outcome.by_person.setdefault(person.pk, {})[condition] = float(score)
                answers = [v for *_, v in per[key]]
                outcome.answers[condition].append(answers)
                outcome.rows += [(condition, person.pk, stimulus, v) for stimulus, _, v in per[key]]
                outcome.item_answers += [(person.pk, condition, code, v) for _, code, v in per[key]]
                for v in answers:
                    outcome.counts[condition][v - 1] += 1
    return out


def trace_model_means(
    outcome: Outcome, trace_models: dict[tuple[int, str], str], codes: list[str]
) -> list[dict]:
    """Per condition and model that wrote the text read (``trace_models``: (stimulus, condition) ->
    model), the mean answer, the answers and the participants they came from."""
    cells: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, set()])
    for condition, person, stimulus, value in outcome.rows:
        cell = cells[(condition, trace_models.get((stimulus, condition)) or "unknown")]
        cell[0] += value
        cell[1] += 1
        cell[2].add(person)
    order = {c: i for i, c in enumerate(codes)}
    return [
        {"condition": c, "model": m, "n": total[1], "participants": len(total[2]),
         "mean": total[0] / total[1]}
        for (c, m), total in sorted(cells.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1]))
    ]


def stimulus_means(outcome: Outcome, stimuli: dict[int, str], codes: list[str]) -> list[dict]:
    """Per stimulus, the mean answer and the number of answers in each condition."""
    sums: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for condition, _person, stimulus, value in outcome.rows:
        cell = sums[(stimulus, condition)]
        cell[0] += value
        cell[1] += 1
    shown = sorted({s for s, _ in sums}, key=lambda s: stimuli.get(s, str(s)))
    return [
        {
            "stimulus": stimuli.get(s, str(s)),
            "cells": [
                {"condition": c, "n": sums[(s, c)][1],
                 "mean": sums[(s, c)][0] / sums[(s, c)][1] if sums[(s, c)][1] else None}
                for c in codes
            ],
        }
        for s in shown
    ]
