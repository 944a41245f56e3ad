"""Internal consistency of a scale: Cronbach's alpha with its interval, and Spearman-Brown for two items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from .common import is_constant


def cronbach_alpha(matrix: Sequence[Sequence[float]], level: float = 0.95) -> dict:
    """Cronbach's alpha = k/(k - 1) · (1 - Σ var(item) / var(total)); rows are people, columns items.

    With Feldt's (1965) interval from the F distribution with n - 1 and (n - 1)(k - 1) df (as
    pingouin.cronbach_alpha and psych's alpha.ci). Refused, with the reason, when the total score
    does not vary."""
    x = np.asarray(matrix, dtype=float)
    out = {"alpha": None, "ci_low": None, "ci_high": None, "n": 0, "k": 0, "reason": None}
    if x.ndim != 2 or x.size == 0:
        out["reason"] = "no complete responses"
        return out
    n, k = x.shape
    out.update(n=n, k=k)
    if k < 2:
        out["reason"] = "fewer than two items"
    elif n < 2:
        out["reason"] = f"only {n} participant with every item"
    elif is_constant(x.sum(axis=1)):
        out["reason"] = "no variance in the total score"
    else:
        alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
        df1, df2 = n - 1, (n - 1) * (k - 1)
        tail = (1 - level) / 2
        out.update(
            alpha=float(alpha),
            ci_low=float(1 - (1 - alpha) * sps.f.isf(tail, df1, df2)),
            ci_high=float(1 - (1 - alpha) * sps.f.isf(1 - tail, df1, df2)),
        )
    return out


def spearman_brown(matrix: Sequence[Sequence[float]]) -> dict:
    """The Spearman-Brown coefficient 2r / (1 + r) of a two-item scale, r the items' Pearson
    correlation: the reliability estimate Eisinga, te Grotenhuis & Pelzer (2013) recommend for
    two-item scales over Cronbach's alpha."""
    x = np.asarray(matrix, dtype=float)
    out = {"rho": None, "r": None, "n": 0, "reason": None}
    if x.ndim != 2 or x.shape[1] != 2:
        out["reason"] = "not a two-item scale"
        return out
    out["n"] = len(x)
    if len(x) < 3:
        out["reason"] = f"only {len(x)} participants with both items"
    elif is_constant(x[:, 0]) or is_constant(x[:, 1]):
        out["reason"] = "an item does not vary"
    else:
        r = float(np.corrcoef(x[:, 0], x[:, 1])[0, 1])
        out.update(r=r, rho=2 * r / (1 + r) if r > -1 else None)
    return out
