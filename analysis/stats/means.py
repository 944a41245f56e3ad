"""Tests of means that allow unequal variances: Welch's ANOVA and Games-Howell."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import stats as sps

from .common import Groups, _arrays, _left_out, _pair_gap, _refusal, is_constant, scalar


def welch_anova(groups: Groups) -> dict:
    """Welch's (1951) heteroscedastic one-way ANOVA (statsmodels' anova_oneway with unequal
    variances, as R's oneway.test(var.equal = FALSE)).

    Groups under two participants are left out (named in ``reason``); a group without variance
    makes it undefined (its weight n/s² is infinite).
    """
    from statsmodels.stats.oneway import anova_oneway
    g = _arrays(groups)
    out = {"F": None, "df1": None, "df2": None, "p": None, "reason": None}
    note = _left_out({k: len(v) for k, v in g.items()})
    g = {k: v for k, v in g.items() if len(v) >= 2}
    if len(g) < 2:
        out["reason"] = _refusal(note)
        return out
    flat = [k for k, v in g.items() if is_constant(v)]
    if flat:
        out["reason"] = "; ".join(filter(None, [f"no variance within {', '.join(flat)}", note]))
        return out
    res = anova_oneway(list(g.values()), use_var="unequal", welch_correction=True)
    out.update(F=scalar(res.statistic), df1=len(g) - 1, df2=scalar(res.df_denom), p=scalar(res.pvalue),
               reason=note)
    return out


def _variance(x: np.ndarray) -> float:
    """The sample variance, 0 for values equal up to floating-point noise."""
    return 0.0 if is_constant(x) else float(x.var(ddof=1))


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
            va, vb = _variance(g[a]) / len(g[a]), _variance(g[b]) / len(g[b])
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
