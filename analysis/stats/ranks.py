"""Rank-based tests across conditions and between pairs of them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
from scipy import stats as sps

from .common import TOLERANCE, Groups, _arrays, _left_out, _pair_gap, _refusal, holm, is_constant, scalar


def kruskal_wallis(groups: Groups) -> dict:
    """Kruskal-Wallis H (tie-corrected, as scipy and R), df = k - 1, and
    ε² = H / ((n² - 1)/(n + 1)) (Tomczak & Tomczak 2014), i.e. H / (n - 1).

    Groups under two participants are left out and named in ``reason``."""
    g = _arrays(groups)
    out = {"H": None, "df": None, "p": None, "epsilon_squared": None, "n": 0, "reason": None}
    note = _left_out({k: len(v) for k, v in g.items()})
    g = {k: v for k, v in g.items() if len(v) >= 2}
    n = sum(len(v) for v in g.values())
    out["n"] = n
    if len(g) < 2:
        out["reason"] = _refusal(note)
        return out
    allv = np.concatenate(list(g.values()))
    if is_constant(allv):
        out["reason"] = "no variance: every value is the same"
        return out
    h, p = sps.kruskal(*g.values())
    h = scalar(h)
    out.update(H=h, df=len(g) - 1, p=scalar(p), epsilon_squared=h / ((n**2 - 1) / (n + 1)),
               reason=note)
    return out


def dunn(groups: Groups) -> list[dict]:
    """Dunn's (1964) pairwise z tests on the pooled ranks with the tie correction, two-sided,
    Holm-adjusted over all pairs (as R's dunn.test(…, method = "holm", altp = TRUE)).

    As in ``kruskal_wallis``, groups under two participants are left out of the ranks and their pairs."""
    g = _arrays(groups)
    present = [k for k, v in g.items() if len(v) >= 2]
    results = []
    var, mean_rank = 0.0, {}
    if len(present) >= 2:
        allv = np.concatenate([g[k] for k in present])
        ranks = sps.rankdata(allv)
        n = len(allv)
        _, ties = np.unique(allv, return_counts=True)
        var = n * (n + 1) / 12 - (ties**3 - ties).sum() / (12 * (n - 1))
        start = 0
        for k in present:
            mean_rank[k] = ranks[start:start + len(g[k])].mean()
            start += len(g[k])
    for a, b in combinations(g, 2):
        row = {"a": a, "b": b, "z": None, "p": None, "p_holm": None, "reason": _pair_gap(g, a, b)}
        if row["reason"] is None and var <= TOLERANCE:
            row["reason"] = "no variance: every value is the same"
        elif row["reason"] is None:
            z = (mean_rank[a] - mean_rank[b]) / math.sqrt(var * (1 / len(g[a]) + 1 / len(g[b])))
            row.update(z=float(z), p=float(2 * sps.norm.sf(abs(z))))
        results.append(row)
    for row, adj in zip(results, holm([r["p"] for r in results]), strict=True):
        row["p_holm"] = adj
    return results


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> dict:
    """Two-sided Mann-Whitney U (U of the first sample; scipy's 'auto' method) and the rank-biserial
    correlation r = 2U/(n₁n₂) - 1 (Wendt 1972; Kerby 2014): positive when x tends to be larger.
    Refused for a sample under two, as the other tests leave such groups out."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = {"U": None, "p": None, "r_rb": None, "n1": len(x), "n2": len(y), "reason": None}
    if len(x) < 2 or len(y) < 2:
        out["reason"] = "fewer than two participants in a group"
    elif is_constant(np.concatenate([x, y])):
        out["reason"] = "no variance: every value is the same"
    else:
        u, p = sps.mannwhitneyu(x, y, alternative="two-sided")
        u = scalar(u)
        out.update(U=u, p=scalar(p), r_rb=2 * u / (len(x) * len(y)) - 1)
    return out


def pairwise_mann_whitney(groups: Groups) -> list[dict]:
    """Mann-Whitney U for every pair, Holm-adjusted over the pairs; a refused pair names its small group."""
    g = _arrays(groups)
    rows = []
    for a, b in combinations(g, 2):
        row = {"a": a, "b": b, **mann_whitney(g[a], g[b])}
        row["reason"] = _pair_gap(g, a, b) or row["reason"]
        rows.append(row)
    for row, adj in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = adj
    return rows
