"""Internal consistency of a scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cronbach_alpha(matrix: Sequence[Sequence[float]]) -> dict:
    """Cronbach's alpha = k/(k - 1) · (1 - Σ var(item) / var(total)); rows are people, columns items."""
    x = np.asarray(matrix, dtype=float)
    out = {"alpha": None, "n": 0, "k": 0, "reason": None}
    if x.ndim != 2 or x.size == 0:
        out["reason"] = "no complete responses"
        return out
    n, k = x.shape
    out.update(n=n, k=k)
    if k < 2:
        out["reason"] = "fewer than two items"
    elif n < 2:
        out["reason"] = f"only {n} participant with every item"
    else:
        total_var = x.sum(axis=1).var(ddof=1)
        if total_var == 0:
            out["reason"] = "no variance in the total score"
        else:
            out["alpha"] = float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var))
    return out
