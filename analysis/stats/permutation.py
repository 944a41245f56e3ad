"""Permutation tests of condition on scores from a model fitted without it: the small-sample test of the
mixed model's conditions.

The cumulative link mixed model's Wald and likelihood-ratio tests refer their statistics to χ², which
holds only asymptotically; with 25 participants per condition they reject a true null too often. Here
the model is fitted once without condition (the null model, which does not depend on the condition
labels), and each response's score ∂L/∂η (``clmm``'s ``response_scores``) is summed per participant:
a condition's summed score is the score statistic of its coefficient at zero. Shuffling the conditions
over the units that were randomised (between participants: participants; within: the sets of trials a
participant read in each condition) gives the statistic's exact distribution under the null that
condition changes nobody's answers (Fisher's randomisation test; as in Edgington & Onghena 2007,
Randomization Tests, ch. 1 and 6, with the score statistic of the model as the test statistic), so the
test keeps its level whatever the number of participants. scipy's ``permutation_test`` draws the
permutations; its p-value counts the observed labelling among them ((b + 1) / (B + 1)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from scipy import stats as sps

#: Random permutations per test: the Monte-Carlo SE of a p-value near .0125 (the smallest level Holm
#: uses across four outcomes) is 0.0016.
PERMUTATIONS = 5000
#: Permutations drawn and scored at a time: scipy draws the same permutations in the same order whatever the
#: batch (so the p-values do not depend on it), and 100 rows of a few thousand participants stay in the cache,
#: where all 5,000 at once (300 MB at 8,000 participants) took three times as long.
BATCH = 100


def _between_statistic(*samples: np.ndarray, axis: int) -> np.ndarray:
    """Σ_k S_k² / n_k: the score statistic of k independent groups, up to a constant factor (the null
    model's scores sum to zero, since its thresholds are at their maximum)."""
    return sum(np.sum(s, axis=axis) ** 2 / s.shape[axis] for s in samples)


def _within_statistic(*samples: np.ndarray, axis: int) -> np.ndarray:
    """Σ_k S_k²: each participant's sums move between conditions, the conditions keep their sizes."""
    return sum(np.sum(s, axis=axis) ** 2 for s in samples)


def _difference(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def permutation_omnibus(groups: Mapping[str, Sequence[float]], *, paired: bool = False,
                        permutations: int = PERMUTATIONS, seed: int = 0) -> dict:
    """The joint test of every condition. ``groups[condition]``: between participants (``paired``
    False), the summed scores of that condition's participants; within (``paired``), each participant's
    summed score on their trials in that condition, the same participants in the same order in every
    condition. Returns ``statistic``, ``p``, ``permutations``, ``n`` (units) and ``reason``."""
    return permutation_omnibus_many([groups], paired=paired, permutations=permutations, seed=seed)[0]


def permutation_pairs(groups: Mapping[str, Sequence[float]], *, paired: bool = False,
                      permutations: int = PERMUTATIONS, seed: int = 0) -> list[dict]:
    """Each pair of conditions: the difference of their mean summed scores and its two-sided
    permutation p-value over the units of the two (unadjusted: the caller controls the family)."""
    return permutation_pairs_many([groups], paired=paired, permutations=permutations, seed=seed)[0]


def _stacked(tables: Sequence[Mapping[str, Sequence[float]]], conditions: list[str]) -> list[np.ndarray]:
    """Per condition, the tables' values as rows of one array: every table must hold the same units."""
    if any(list(t) != conditions or any(len(t[c]) != len(tables[0][c]) for c in conditions) for t in tables):
        raise ValueError("the tables must have the same conditions with the same number of units")
    return [np.array([np.asarray(t[c], dtype=float) for t in tables]).reshape(len(tables), -1)
            for c in conditions]


def permutation_omnibus_many(tables: Sequence[Mapping[str, Sequence[float]]], *, paired: bool = False,
                             permutations: int = PERMUTATIONS, seed: int = 0) -> list[dict]:
    """``permutation_omnibus`` of several outcomes measured on the same units (the same participants,
    in the same order, in each table): each outcome's p-value is the one ``permutation_omnibus`` gives
    it with this seed, since the same permutations of the units score every outcome; they are drawn
    once, which is most of a test's cost at thousands of participants."""
    samples = _stacked(tables, list(tables[0]))
    outs = [{"statistic": None, "p": None, "permutations": permutations, "n": 0, "reason": None}
            for _ in tables]
    if len(samples) < 2 or any(s.shape[1] < (1 if paired else 2) for s in samples):
        for out in outs:
            out["reason"] = "fewer than two conditions with enough participants"
        return outs
    result = sps.permutation_test(
        samples, _within_statistic if paired else _between_statistic, vectorized=True,
        permutation_type="samples" if paired else "independent", n_resamples=permutations,
        alternative="greater", rng=np.random.default_rng(seed), batch=BATCH, axis=-1)
    n = samples[0].shape[1] if paired else int(sum(s.shape[1] for s in samples))
    for out, statistic, p in zip(outs, np.atleast_1d(result.statistic), np.atleast_1d(result.pvalue),
                                 strict=True):
        out.update(statistic=float(statistic), p=float(p), n=n)
    return outs


def permutation_pairs_many(tables: Sequence[Mapping[str, Sequence[float]]], *, paired: bool = False,
                           permutations: int = PERMUTATIONS, seed: int = 0) -> list[list[dict]]:
    """``permutation_pairs`` of several outcomes on the same units, each pair's permutations drawn once
    for all of them (see ``permutation_omnibus_many``)."""
    conditions = list(tables[0])
    samples = dict(zip(conditions, _stacked(tables, conditions), strict=True))
    rows: list[list[dict]] = [[] for _ in tables]
    for j, (a, b) in enumerate(combinations(conditions, 2)):
        x, y = samples[a], samples[b]
        if x.shape[1] < (1 if paired else 2) or y.shape[1] < (1 if paired else 2):
            for out in rows:
                out.append({"a": a, "b": b, "difference": None, "p": None,
                            "reason": "fewer than two participants"})
            continue
        result = sps.permutation_test(
            (x, y), _difference, vectorized=True, n_resamples=permutations,
            permutation_type="samples" if paired else "independent",
            rng=np.random.default_rng(seed + 1 + j), batch=BATCH, axis=-1)
        for out, difference, p in zip(rows, np.atleast_1d(result.statistic), np.atleast_1d(result.pvalue),
                                      strict=True):
            out.append({"a": a, "b": b, "difference": float(difference), "p": float(min(1.0, p)),
                        "reason": None})
    return rows
