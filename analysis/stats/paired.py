"""Tests for repeated measures: every participant gives a score in every condition (a within-participants
design), so the conditions are compared within participants, each participant a block.

The columns of a ``table`` are aligned: row i of every condition is participant i. scipy gives the
Friedman and Wilcoxon signed-rank tests, statsmodels the paired t interval and the paired two one-sided
tests of equivalence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from scipy import stats as sps

from .common import holm, is_constant, scalar

N_BOOT = 2000
LEVEL = 0.95


def _columns(table: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    columns = {k: np.asarray(v, dtype=float) for k, v in table.items()}
    if len({len(v) for v in columns.values()}) > 1:
        raise ValueError("the conditions' columns must be aligned: one row per participant in each")
    return columns


def friedman(table: Mapping[str, Sequence[float]]) -> dict:
    """Friedman's test of k ≥ 3 conditions with participants as blocks (tie-corrected, as scipy's
    friedmanchisquare and R's friedman.test), df = k - 1, and Kendall's W = χ² / (n(k - 1)).

    Two conditions are compared by the Wilcoxon signed-rank test instead (Friedman's is then the sign
    test): refused here, with that reason."""
    columns = _columns(table)
    n = len(next(iter(columns.values()), []))
    out = {"chi2": None, "df": None, "p": None, "kendall_w": None, "n": n, "k": len(columns), "reason": None}
    if len(columns) < 3:
        out["reason"] = "two conditions: the Wilcoxon signed-rank test compares them"
    elif n < 2:
        out["reason"] = f"only {n} participant with a score in every condition"
    elif is_constant(np.concatenate(list(columns.values()))):
        out["reason"] = "no variance: every value is the same"
    elif all(is_constant(row) for row in np.column_stack(list(columns.values()))):
        out["reason"] = "no participant's scores differ between conditions"
    else:
        chi2, p = sps.friedmanchisquare(*columns.values())
        chi2 = scalar(chi2)
        out.update(chi2=chi2, df=len(columns) - 1, p=scalar(p), kendall_w=chi2 / (n * (len(columns) - 1)))
    return out


def _rank_biserial(d: np.ndarray) -> np.ndarray:
    """The matched-pairs rank-biserial r = (T+ - T-) / (T+ + T-) (Kerby 2014) of each row of differences,
    zeros dropped as in the signed-rank test: the ranks of |d| among the nonzero ones are their ranks
    among all less the number of zeros (which rank lowest)."""
    d = np.atleast_2d(d)
    zeros = (d == 0).sum(axis=-1, keepdims=True)
    ranks = sps.rankdata(np.abs(d), axis=-1) - zeros
    m = d.shape[-1] - zeros[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.sign(d) * ranks).sum(axis=-1) / (m * (m + 1) / 2)


def wilcoxon_signed_rank(x: Sequence[float], y: Sequence[float], seed: int = 0) -> dict:
    """Two-sided Wilcoxon signed-rank test of the pairs (x_i, y_i) (scipy's wilcoxon: zero differences
    dropped, exact without ties below 50 pairs, else the normal approximation with the continuity
    correction, as R's wilcox.test(paired = TRUE)); V, the sum of the ranks of the positive differences
    x - y, as R reports it; and the matched-pairs rank-biserial r (positive when x tends to be larger)
    with its percentile bootstrap interval (N_BOOT resamples of the participants, seeded)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape:
        raise ValueError("x and y must be pairs: one value of each per participant")
    d = a - b
    out = {"V": None, "p": None, "r_rb": None, "r_ci_low": None, "r_ci_high": None, "n": len(d),
           "n_nonzero": int((d != 0).sum()), "reason": None}
    if len(d) < 2:
        out["reason"] = "fewer than two participants with both scores"
    elif not np.any(d):
        out["reason"] = "no differences: every participant scored both conditions alike"
    else:
        nonzero = d[d != 0]
        ranks = sps.rankdata(np.abs(nonzero))
        p = sps.wilcoxon(a, b, zero_method="wilcox", correction=True, alternative="two-sided").pvalue
        rows = np.random.default_rng(seed).integers(0, len(d), size=(N_BOOT, len(d)))
        resampled = _rank_biserial(d[rows])
        resampled = resampled[np.isfinite(resampled)]
        low, high = (np.quantile(resampled, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
                     if len(resampled) >= N_BOOT / 2 else (None, None))
        out.update(V=float(ranks[nonzero > 0].sum()), p=scalar(p), r_rb=float(_rank_biserial(d)[0]),
                   r_ci_low=None if low is None else float(low),
                   r_ci_high=None if high is None else float(high))
    return out


def pairwise_wilcoxon(table: Mapping[str, Sequence[float]], seed: int = 0) -> list[dict]:
    """The Wilcoxon signed-rank test of every pair of conditions, Holm-adjusted over the pairs."""
    columns = _columns(table)
    rows = [{"a": a, "b": b, **wilcoxon_signed_rank(columns[a], columns[b], seed=seed + i)}
            for i, (a, b) in enumerate(combinations(columns, 2))]
    for row, adjusted in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = adjusted
    return rows


def paired_difference(x: Sequence[float], y: Sequence[float], margin: float) -> dict:
    """The mean of the differences x - y with the paired t 95% interval (as R's t.test(paired = TRUE)),
    and the paired two one-sided t tests of |mean difference| < margin (Schuirmann 1987; Lakens 2017;
    statsmodels' ttost_paired): equivalent at level alpha when p, the larger one-sided p, is under it."""
    from statsmodels.stats.weightstats import DescrStatsW, ttost_paired
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    d = a - b
    difference = {"diff": None, "ci_low": None, "ci_high": None}
    equivalence = {"margin": margin, "p": None, "p_lower": None, "p_upper": None, "df": None, "reason": None}
    if len(d) < 2:
        equivalence["reason"] = "fewer than two participants with both scores"
        return {"mean_difference": difference, "equivalence": equivalence}
    difference["diff"] = float(d.mean())
    if is_constant(d):
        equivalence["reason"] = "the differences do not vary"
    elif margin <= 0:
        equivalence["reason"] = "the equivalence margin must be above 0"
    else:
        low, high = DescrStatsW(d).tconfint_mean(alpha=1 - LEVEL)
        difference.update(ci_low=scalar(low), ci_high=scalar(high))
        p, lower, upper = ttost_paired(a, b, -margin, margin)
        equivalence.update(p=scalar(p), p_lower=scalar(lower[1]), p_upper=scalar(upper[1]),
                           df=scalar(lower[2]))
    return {"mean_difference": difference, "equivalence": equivalence}
