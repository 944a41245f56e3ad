"""Participants' scores, computed exactly: a construct score is a mean of integer answers, kept as a
fraction until it is ranked or averaged, so that equal scores are equal (in floating point,
(1.0 + 1.2 + 1.1) / 3 and (1.2 + 1.1 + 1.0) / 3 differ, and ranks, ties and tests with them)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

CONSTRUCTS = [
    ("predictability", "Predictability"),
    ("understandability", "Understandability"),
    ("faithfulness", "Faithfulness"),
    ("cognitive_load", "Cognitive load"),
    ("interpretability", "Interpretability (composite)"),
]
COMPOSITE = "interpretability"
COMPOSITE_OF = ("predictability", "understandability", "faithfulness")


@dataclass
class Outcome:
    """One outcome's data, per condition: participants' scores, their answers, and the answers as
    rows (condition, participant, stimulus, value) for the mixed model."""

    key: str
    label: str
    items: list[str]
    scores: dict[str, list[float]] = field(default_factory=dict)
    answers: dict[str, list[list[int]]] = field(default_factory=dict)
    rows: list[tuple[str, int, int, int]] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=dict)
    # per participant: condition and each item's mean over the trials (for reliability)
    item_means: list[tuple[str, dict[str, float]]] = field(default_factory=list)


def outcomes(people: list, items: list, codes: list[str]) -> dict[str, Outcome]:
    """Every construct and the composite, from the analysed participants' per-trial answers."""
    construct_of = {i.code: i.construct for i in items if i.scope == "trial"}
    def belongs(construct: str, key: str) -> bool:
        return construct == key or (key == COMPOSITE and construct in COMPOSITE_OF)

    members = {key: sorted(c for c, k in construct_of.items() if belongs(k, key)) for key, _ in CONSTRUCTS}
    out = {
        key: Outcome(key, label, members[key], {c: [] for c in codes}, {c: [] for c in codes},
                     counts={c: [0] * 5 for c in codes})
        for key, label in CONSTRUCTS
    }
    for person in people:
        per_construct: dict[str, list[tuple[int, int]]] = defaultdict(list)  # (stimulus, value)
        per_item: dict[str, list[int]] = defaultdict(list)
        for (stimulus, code), value in person.answers.items():
            if stimulus is None or code not in construct_of:
                continue
            per_construct[construct_of[code]].append((stimulus, value))
            per_item[code].append(value)
        exact = {k: Fraction(sum(v for _, v in pairs), len(pairs)) for k, pairs in per_construct.items()}
        if all(k in exact for k in COMPOSITE_OF):
            exact[COMPOSITE] = sum((exact[k] for k in COMPOSITE_OF), Fraction(0)) / len(COMPOSITE_OF)
            per_construct[COMPOSITE] = [p for k in COMPOSITE_OF for p in per_construct[k]]
        item_means = {code: float(Fraction(sum(v), len(v))) for code, v in per_item.items()}
        for key, score in exact.items():
            outcome = out[key]
            outcome.scores[person.condition].append(float(score))
            answers = [v for _, v in per_construct[key]]
            outcome.answers[person.condition].append(answers)
            outcome.rows += [(person.condition, person.pk, stimulus, v) for stimulus, v in per_construct[key]]
            for v in answers:
                outcome.counts[person.condition][v - 1] += 1
            outcome.item_means.append(
                (person.condition, {c: item_means[c] for c in outcome.items if c in item_means})
            )
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
