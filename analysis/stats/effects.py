"""Effect sizes with their intervals, and equivalence tests, for conditions and pairs of them.

statsmodels gives Welch's interval of a difference in means and the two one-sided tests of
equivalence. The rank-based effect sizes get percentile bootstrap intervals, resampling within each
condition; the resamples are drawn as counts over the distinct scores, which makes 2,000 resamples
of 10,000 participants cost what 2,000 of a hundred do (scipy's bootstrap resamples every value:
about a minute for such a report). Their statistics are checked against scipy's kruskal and
mannwhitneyu.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
from scipy import stats as sps

from .common import Groups, _arrays, _pair_gap, is_constant, scalar

N_BOOT = 2000
LEVEL = 0.95


def _percentile(values: np.ndarray) -> tuple[float | None, float | None]:
    """The percentile interval of a bootstrap distribution; None where it is undefined."""
    values = values[np.isfinite(values)]
    if len(values) < N_BOOT / 2:
        return None, None
    low, high = np.quantile(values, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return float(low), float(high)


def _resampled(samples: list[np.ndarray], seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """N_BOOT resamples of each sample (drawn with replacement, within the sample), each as counts
    over the distinct values of all samples: the same distribution as resampling the values one by
    one, at a cost in the number of distinct values, not of participants (scores are means of a few
    1-5 answers, so there are few)."""
    rng = np.random.default_rng(seed)
    distinct = np.unique(np.concatenate(samples))
    draws = []
    for sample in samples:
        counts = np.bincount(np.searchsorted(distinct, sample), minlength=len(distinct))
        draws.append(rng.multinomial(len(sample), counts / len(sample), size=N_BOOT).astype(float))
    return draws, distinct


def _midranks(pooled: np.ndarray) -> np.ndarray:
    """The (average) rank of each distinct value, given how many of each the pooled sample holds."""
    above = np.cumsum(pooled, axis=-1)
    return above - (pooled - 1) / 2


def kruskal_from_counts(counts: list[np.ndarray]) -> np.ndarray:
    """Kruskal-Wallis H with the tie correction (as scipy's kruskal) from each group's counts over
    the distinct values (last axis)."""
    pooled = sum(counts)
    n = pooled.sum(axis=-1)
    ranks = _midranks(pooled)
    h = sum((c * ranks).sum(axis=-1) ** 2 / c.sum(axis=-1) for c in counts)
    h = 12 / (n * (n + 1)) * h - 3 * (n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return h / (1 - (pooled**3 - pooled).sum(axis=-1) / (n**3 - n))


def u_from_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mann-Whitney U of the first sample (as scipy's mannwhitneyu) from counts over the distinct
    values: each x counts the y below it, and half the y equal to it."""
    below = np.cumsum(b, axis=-1) - b
    return (a * (below + b / 2)).sum(axis=-1)


def epsilon_squared_interval(groups: Groups, seed: int = 0) -> dict:
    """The percentile bootstrap interval (N_BOOT resamples within each group, seeded) of
    Kruskal-Wallis ε² = H / (n - 1) (Tomczak & Tomczak 2014), over the groups of at least two."""
    g = [v for v in _arrays(groups).values() if len(v) >= 2]
    out = {"ci_low": None, "ci_high": None, "reason": None}
    if len(g) < 2 or is_constant(np.concatenate(g)):
        out["reason"] = "not computed: fewer than two groups of two, or no variance"
        return out
    n = sum(len(v) for v in g)
    draws, _ = _resampled(g, seed)
    out["ci_low"], out["ci_high"] = _percentile(kruskal_from_counts(draws) / (n - 1))
    return out


def rank_biserial_interval(x: Sequence[float], y: Sequence[float], seed: int = 0) -> dict:
    """The rank-biserial correlation r = 2U/(n₁n₂) - 1 (as mann_whitney) with its bootstrap interval."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = {"r_rb": None, "ci_low": None, "ci_high": None}
    if len(a) < 2 or len(b) < 2 or is_constant(np.concatenate([a, b])):
        return out
    out["r_rb"] = 2 * scalar(sps.mannwhitneyu(a, b).statistic) / (len(a) * len(b)) - 1

    (x, y), _ = _resampled([a, b], seed)
    out["ci_low"], out["ci_high"] = _percentile(2 * u_from_counts(x, y) / (len(a) * len(b)) - 1)
    return out


def mean_difference(x: Sequence[float], y: Sequence[float]) -> dict:
    """Difference in means x - y with Welch's 95% interval (as R's t.test(var.equal = FALSE))."""
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = {"diff": None, "ci_low": None, "ci_high": None}
    if len(a) < 2 or len(b) < 2:
        return out
    out["diff"] = float(a.mean() - b.mean())
    if not (is_constant(a) and is_constant(b)):
        low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(
            alpha=1 - LEVEL, usevar="unequal"
        )
        out.update(ci_low=scalar(low), ci_high=scalar(high))
    return out


def equivalence(x: Sequence[float], y: Sequence[float], margin: float) -> dict:
    """Two one-sided Welch t tests (Schuirmann 1987; Lakens 2017) of |mean(x) - mean(y)| < margin,
    with statsmodels' ttost_ind: equivalent at level alpha when p, the larger one-sided p, is under it."""
    from statsmodels.stats.weightstats import ttost_ind
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = {"margin": margin, "p": None, "p_lower": None, "p_upper": None, "df": None, "reason": None}
    if len(a) < 2 or len(b) < 2:
        out["reason"] = "fewer than two participants in a group"
    elif is_constant(a) and is_constant(b):
        out["reason"] = "neither group varies"
    elif margin <= 0:
        out["reason"] = "the equivalence margin must be above 0"
    else:
        p, lower, upper = ttost_ind(a, b, -margin, margin, usevar="unequal")
        out.update(p=scalar(p), p_lower=scalar(lower[1]), p_upper=scalar(upper[1]), df=scalar(lower[2]))
    return out


def pairwise_effects(groups: Groups, margin: float, seed: int = 0) -> list[dict]:
    """For every pair: the difference in means with Welch's interval, the rank-biserial r with its
    bootstrap interval, and the equivalence test against ±margin."""
    g = _arrays(groups)
    rows = []
    for i, (a, b) in enumerate(combinations(g, 2)):
        gap = _pair_gap(g, a, b)
        rows.append({
            "a": a, "b": b, "reason": gap,
            "mean_difference": mean_difference(g[a], g[b]),
            "r_rb": rank_biserial_interval(g[a], g[b], seed=seed + i),
            "equivalence": equivalence(g[a], g[b], margin),
        })
    return rows
