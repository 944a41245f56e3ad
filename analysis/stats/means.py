"""Tests of means that allow unequal variances: Welch's ANOVA and Games-Howell."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import stats as sps

from .common import Groups, _arrays, _left_out, _pair_gap, _refusal


def welch_anova(groups: Groups) -> dict:
    """Welch's (1951) heteroscedastic one-way ANOVA, as R's oneway.test(var.equal = FALSE).

    Groups under two participants are left out (named in ``reason``); a group without variance
    makes it undefined (its weight n/s² is infinite).
    """
    g = _arrays(groups)
    out = {"F": None, "df1": None, "df2": None, "p": None, "reason": None}
    note = _left_out({k: len(v) for k, v in g.items()})
    g = {k: v for k, v in g.items() if len(v) >= 2}
    if len(g) < 2:
        out["reason"] = _refusal(note)
        return out
    flat = [k for k, v in g.items() if v.var(ddof=1) == 0]
    if flat:
        out["reason"] = "; ".join(filter(None, [f"no variance within {', '.join(flat)}", note]))
        return out
    n = np.array([len(v) for v in g.values()], dtype=float)
    m = np.array([v.mean() for v in g.values()])
    w = n / np.array([v.var(ddof=1) for v in g.values()])
    k = len(g)
    grand = (w * m).sum() / w.sum()
    lam = (((1 - w / w.sum()) ** 2) / (n - 1)).sum()
    f = ((w * (m - grand) ** 2).sum() / (k - 1)) / (1 + 2 * (k - 2) * lam / (k**2 - 1))
    df2 = (k**2 - 1) / (3 * lam)
    out.update(F=float(f), df1=k - 1, df2=float(df2), p=float(sps.f.sf(f, k - 1, df2)), reason=note)
    return out


def games_howell(groups: Groups) -> list[dict]:
    """Games-Howell (1976) pairwise comparisons: Welch t with Welch-Satterthwaite df, p from the
    studentized range for the k groups compared (as pingouin.pairwise_gameshowell).

    k counts every group of at least two participants, whatever its variance: a flat group is still
    one of the means compared. Groups under two are left out; a pair is undefined only when its SE
    is 0 (neither group varies)."""
    g = _arrays(groups)
    k = sum(len(v) >= 2 for v in g.values())
    rows = []
    for a, b in combinations(g, 2):
        row = {"a": a, "b": b, "diff": None, "se": None, "t": None, "df": None, "p": None,
               "reason": _pair_gap(g, a, b)}
        if not row["reason"]:
            va, vb = g[a].var(ddof=1) / len(g[a]), g[b].var(ddof=1) / len(g[b])
            if va + vb == 0:
                row["reason"] = f"neither {a} nor {b} varies: the standard error is 0"
            else:
                se = math.sqrt(va + vb)
                diff = g[a].mean() - g[b].mean()
                t = diff / se
                df = (va + vb) ** 2 / (va**2 / (len(g[a]) - 1) + vb**2 / (len(g[b]) - 1))
                p = sps.studentized_range.sf(abs(t) * math.sqrt(2), k, df)
                row.update(diff=float(diff), se=float(se), t=float(t), df=float(df), p=float(min(1.0, p)))
        rows.append(row)
    return rows
