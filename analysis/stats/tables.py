"""Tests of independence in contingency tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special
from scipy import stats as sps


def independence_test(table: Sequence[Sequence[int]], *, seed: int = 0, n_resamples: int = 9999) -> dict:
    """χ² test of independence (no continuity correction), or Fisher's exact test where an expected
    count is under 5: exact for 2 x 2, Monte Carlo (seeded, ``n_resamples``) for larger tables.
    All-zero rows and columns are dropped first."""
    t = np.asarray(table, dtype=float)
    out = {"test": None, "statistic": None, "df": None, "p": None, "min_expected": None, "reason": None}
    if t.ndim != 2 or t.size == 0:
        out["reason"] = "empty table"
        return out
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if t.shape[0] < 2 or t.shape[1] < 2:
        out["reason"] = "fewer than two non-empty rows or columns"
        return out
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()
    out["min_expected"] = float(expected.min())
    if expected.min() >= 5:
        res = sps.chi2_contingency(t, correction=False)
        out.update(test="chi2", statistic=float(res.statistic), df=int(res.dof), p=float(res.pvalue))
    elif t.shape == (2, 2):
        res = sps.fisher_exact(t.astype(int))
        out.update(test="fisher", statistic=float(res.statistic), p=float(res.pvalue))
    else:
        out.update(test="fisher_monte_carlo", p=_fisher_monte_carlo(t.astype(int), seed, n_resamples))
    return out


def _fisher_monte_carlo(table: np.ndarray, seed: int, n_resamples: int) -> float:
    """Fisher's exact test for an r x c table by Monte Carlo, as R's fisher.test(simulate.p.value =
    TRUE): tables with the observed margins are drawn at random; p = (1 + #{P(table) <= P(observed)})
    / (B + 1). A table's probability is proportional to 1 / prod(n_ij!), so compare sum(log n_ij!)."""
    dist = sps.random_table(table.sum(axis=1), table.sum(axis=0), seed=np.random.default_rng(seed))
    draws = dist.rvs(size=n_resamples)
    observed = special.gammaln(table + 1).sum()
    simulated = special.gammaln(draws + 1).sum(axis=(1, 2))
    return float((1 + np.count_nonzero(simulated >= observed * (1 - 1e-7))) / (n_resamples + 1))
