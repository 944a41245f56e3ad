"""What every statistic shares: JSON-ready values, group handling, multiple comparisons."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

Groups = Mapping[str, Sequence[float]]

# Scores are means of 1-5 answers: two that differ at all differ by far more than this (1/1000 for a
# mean of a thousand answers), while sums taken in another order differ by about 1e-16.
TOLERANCE = 1e-9


def is_constant(values: ArrayLike) -> bool:
    """Whether the values are all the same, up to floating-point noise (TOLERANCE)."""
    x = np.asarray(values, dtype=float)
    return x.size == 0 or float(np.ptp(x)) <= TOLERANCE


def clean(value):
    """Python numbers only, None for NaN / infinity, recursively through dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def scalar(value: ArrayLike) -> float:
    """One number of a scipy or statsmodels result as a Python float.

    Their results follow the shape of what they were given, and not always as documented: scipy
    1.17's r x c ``fisher_exact`` with a ``MonteCarloMethod`` returns its p-value as an array of shape
    (1,) when the table has more cells than observations (its statistic then takes the one table for
    a batch of them), which ``float()`` refuses under NumPy 2. More than one number is an error."""
    return float(np.asarray(value).item())


def _arrays(groups: Groups) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=float) for k, v in groups.items()}


def _left_out(sizes: Mapping[str, int]) -> str | None:
    """The note naming the groups under two participants, which every test leaves out: one value
    says nothing about its group's spread, and a rank test on it would report a result regardless."""
    small = [f"{k} (n = {n})" for k, n in sizes.items() if n < 2]
    return f"left out for fewer than two participants: {', '.join(small)}" if small else None


def _refusal(note: str | None) -> str:
    return "fewer than two groups with at least two participants" + (f"; {note}" if note else "")


def _pair_gap(g: dict[str, np.ndarray], a: str, b: str) -> str | None:
    """Why a pairwise comparison is left out, naming the groups under two; None if both have two."""
    small = [k for k in (a, b) if len(g[k]) < 2]
    return f"fewer than two participants in {' and '.join(small)}" if small else None


# --- multiple comparisons -------------------------------------------------------------------


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's (1979) step-down adjustment, as R's ``p.adjust(p, "holm")``; None entries are skipped.

    Hand-written (a dozen lines) rather than statsmodels' multipletests, which runs a full garbage
    collection on every call: 20-80 ms each, three seconds of a report that adjusts dozens of families."""
    present = [(i, p) for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(present, key=lambda ip: ip[1])):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def rate(k: int, n: int) -> float | None:
    return k / n if n else None
