"""Descriptive statistics: the summary of one group with a bootstrap interval of its mean."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DIRECT_ROWS = 200  # resamples drawn value by value at a time (200 x 10,000 positions: 16 MB)


def bootstrap_mean_ci(
    values: Sequence[float], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of the mean, seeded.

    Resampling n values with replacement is drawn as multinomial counts over the distinct values,
    which has the same distribution and costs O(distinct values) per resample instead of O(n): scores
    that are means of a few answers on a 5-point scale take a few dozen values. Where more than a
    quarter of the values are distinct (reading times), the counts cost more than the values themselves
    (a binomial draw per value), so the values are drawn directly, DIRECT_ROWS resamples at a time.
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return None, None
    distinct, counts = np.unique(x, return_counts=True)
    rng = np.random.default_rng(seed)
    if 4 * len(distinct) > len(x):
        means = np.concatenate([
            x[rng.integers(0, len(x), (min(DIRECT_ROWS, n_boot - done), len(x)))].mean(axis=1)
            for done in range(0, n_boot, DIRECT_ROWS)
        ])
    else:
        draws = rng.multinomial(len(x), counts / len(x), size=n_boot)
        means = draws @ distinct / len(x)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def describe(values: Sequence[float], *, n_boot: int = 2000, seed: int = 0) -> dict:
    """n, mean, SD (n - 1), median, quartiles (R type 7), IQR and a seeded bootstrap 95% CI of the mean."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    out = {
        "n": n, "mean": None, "sd": None, "median": None, "q1": None, "q3": None, "iqr": None,
        "ci_low": None, "ci_high": None, "reason": None,
    }
    if n == 0:
        out["reason"] = "no participants"
        return out
    q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    out.update(mean=float(x.mean()), median=float(median), q1=float(q1), q3=float(q3), iqr=float(q3 - q1))
    if n < 2:
        out["reason"] = "only one participant: no SD or confidence interval"
        return out
    out["sd"] = float(x.std(ddof=1))
    out["ci_low"], out["ci_high"] = bootstrap_mean_ci(x, n_boot=n_boot, seed=seed)
    return out
