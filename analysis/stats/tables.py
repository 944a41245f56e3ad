"""Tests of independence in contingency tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from .common import scalar

# Tables drawn for the Monte Carlo Fisher test: the p-value's standard error is at most 0.005
FISHER_RESAMPLES = 9999


def independence_test(
    table: Sequence[Sequence[int]], *, seed: int = 0, n_resamples: int = FISHER_RESAMPLES
) -> dict:
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
        out.update(test="chi2", statistic=scalar(res.statistic), df=int(res.dof), p=scalar(res.pvalue))
    elif t.shape == (2, 2):
        res = sps.fisher_exact(t.astype(int))
        out.update(test="fisher", statistic=scalar(res.statistic), p=scalar(res.pvalue))
    else:
        # scipy's r x c Fisher test, Monte Carlo over tables with the observed margins (as R's
        # fisher.test(simulate.p.value = TRUE)), seeded
        method = sps.MonteCarloMethod(n_resamples=n_resamples, rng=np.random.default_rng(seed))
        out.update(test="fisher_monte_carlo", p=scalar(sps.fisher_exact(t.astype(int), method=method).pvalue))
    return out
