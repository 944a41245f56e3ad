"""The study's statistics as pure functions over plain sequences; nothing here knows about Django.

Every function returns plain dicts (JSON-ready). A statistic that cannot be computed (a group under
two, no variance, a missing group) is ``None`` with a ``reason`` string in words, never NaN, and no
function raises on such data. Groups are given as a mapping from a label to a sequence of numbers;
the mapping's order is kept in the results.

References for the formulas are named beside each function; the tests check each one against
published example values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from scipy import optimize, special
from scipy import stats as sps

Groups = Mapping[str, Sequence[float]]


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


def _arrays(groups: Groups) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=float) for k, v in groups.items()}


def _unusable(groups: dict[str, np.ndarray], minimum: int) -> list[str]:
    return [f"{k} (n = {len(v)})" for k, v in groups.items() if len(v) < minimum]


# --- multiple comparisons -------------------------------------------------------------------


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's (1979) step-down adjustment, as R's ``p.adjust(p, "holm")``; None entries are skipped."""
    present = [(i, p) for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(present, key=lambda ip: ip[1])):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


# --- description --------------------------------------------------------------------------


def bootstrap_mean_ci(
    values: Sequence[float], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of the mean, seeded.

    Resampling n values with replacement is drawn as multinomial counts over the distinct values,
    which has the same distribution and costs O(distinct values) per resample instead of O(n).
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return None, None
    distinct, counts = np.unique(x, return_counts=True)
    rng = np.random.default_rng(seed)
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


# --- reliability ----------------------------------------------------------------------------


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


# --- rank-based tests -----------------------------------------------------------------------


def kruskal_wallis(groups: Groups) -> dict:
    """Kruskal-Wallis H (tie-corrected, as scipy and R), df = k - 1, and
    ε² = H / ((n² - 1)/(n + 1)) (Tomczak & Tomczak 2014), i.e. H / (n - 1)."""
    g = _arrays(groups)
    out = {"H": None, "df": None, "p": None, "epsilon_squared": None, "n": 0, "reason": None}
    empty = [k for k, v in g.items() if len(v) == 0]
    g = {k: v for k, v in g.items() if len(v)}
    n = sum(len(v) for v in g.values())
    out["n"] = n
    if len(g) < 2:
        none_in = f" (none in {', '.join(empty)})" if empty else ""
        out["reason"] = "fewer than two groups with data" + none_in
        return out
    allv = np.concatenate(list(g.values()))
    if np.ptp(allv) == 0:
        out["reason"] = "no variance: every value is the same"
        return out
    h, p = sps.kruskal(*g.values())
    out.update(H=float(h), df=len(g) - 1, p=float(p), epsilon_squared=float(h / ((n**2 - 1) / (n + 1))))
    if empty:
        out["reason"] = f"groups without data left out: {', '.join(empty)}"
    return out


def dunn(groups: Groups) -> list[dict]:
    """Dunn's (1964) pairwise z tests on the pooled ranks with the tie correction, two-sided,
    Holm-adjusted over all pairs (as R's dunn.test(…, method = "holm", altp = TRUE))."""
    g = {k: v for k, v in _arrays(groups).items()}
    labels = list(g)
    present = [k for k in labels if len(g[k])]
    results = []
    var, mean_rank = 0.0, {}
    if len(present) >= 2:
        allv = np.concatenate([g[k] for k in present])
        ranks = sps.rankdata(allv)
        n = len(allv)
        _, ties = np.unique(allv, return_counts=True)
        var = n * (n + 1) / 12 - (ties**3 - ties).sum() / (12 * (n - 1)) if n > 1 else 0.0
        start = 0
        for k in present:
            mean_rank[k] = ranks[start:start + len(g[k])].mean()
            start += len(g[k])
    for a, b in combinations(labels, 2):
        row = {"a": a, "b": b, "z": None, "p": None, "p_holm": None, "reason": None}
        if not len(g[a]) or not len(g[b]):
            row["reason"] = "a group has no data"
        elif var <= 0:
            row["reason"] = "no variance: every value is the same"
        else:
            z = (mean_rank[a] - mean_rank[b]) / math.sqrt(var * (1 / len(g[a]) + 1 / len(g[b])))
            row.update(z=float(z), p=float(2 * sps.norm.sf(abs(z))))
        results.append(row)
    for row, adj in zip(results, holm([r["p"] for r in results]), strict=True):
        row["p_holm"] = adj
    return results


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> dict:
    """Two-sided Mann-Whitney U (U of the first sample; scipy's 'auto' method) and the rank-biserial
    correlation r = 2U/(n₁n₂) - 1 (Wendt 1972; Kerby 2014): positive when x tends to be larger."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = {"U": None, "p": None, "r_rb": None, "n1": len(x), "n2": len(y), "reason": None}
    if not len(x) or not len(y):
        out["reason"] = "a group has no data"
    elif np.ptp(np.concatenate([x, y])) == 0:
        out["reason"] = "no variance: every value is the same"
    else:
        u, p = sps.mannwhitneyu(x, y, alternative="two-sided")
        out.update(U=float(u), p=float(p), r_rb=float(2 * u / (len(x) * len(y)) - 1))
    return out


def pairwise_mann_whitney(groups: Groups) -> list[dict]:
    """Mann-Whitney U for every pair, Holm-adjusted over the pairs."""
    g = _arrays(groups)
    rows = [{"a": a, "b": b, **mann_whitney(g[a], g[b])} for a, b in combinations(g, 2)]
    for row, adj in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = adj
    return rows


# --- Welch's ANOVA and Games-Howell ---------------------------------------------------------


def welch_anova(groups: Groups) -> dict:
    """Welch's (1951) heteroscedastic one-way ANOVA, as R's oneway.test(var.equal = FALSE).

    Groups under two are left out (named in ``reason``); a group without variance makes it undefined.
    """
    g = _arrays(groups)
    out = {"F": None, "df1": None, "df2": None, "p": None, "reason": None}
    small = _unusable(g, 2)
    g = {k: v for k, v in g.items() if len(v) >= 2}
    if len(g) < 2:
        out["reason"] = "fewer than two groups with at least two participants"
        return out
    flat = [k for k, v in g.items() if v.var(ddof=1) == 0]
    if flat:
        out["reason"] = f"no variance within {', '.join(flat)}"
        return out
    n = np.array([len(v) for v in g.values()], dtype=float)
    m = np.array([v.mean() for v in g.values()])
    w = n / np.array([v.var(ddof=1) for v in g.values()])
    k = len(g)
    grand = (w * m).sum() / w.sum()
    lam = (((1 - w / w.sum()) ** 2) / (n - 1)).sum()
    f = ((w * (m - grand) ** 2).sum() / (k - 1)) / (1 + 2 * (k - 2) * lam / (k**2 - 1))
    df2 = (k**2 - 1) / (3 * lam)
    out.update(F=float(f), df1=k - 1, df2=float(df2), p=float(sps.f.sf(f, k - 1, df2)))
    if small:
        out["reason"] = f"left out for fewer than two participants: {', '.join(small)}"
    return out


def games_howell(groups: Groups) -> list[dict]:
    """Games-Howell (1976) pairwise comparisons: Welch t with Welch-Satterthwaite df, p from the
    studentized range for the k groups compared (as pingouin.pairwise_gameshowell)."""
    g = _arrays(groups)
    usable = [k for k, v in g.items() if len(v) >= 2 and v.var(ddof=1) > 0]
    rows = []
    for a, b in combinations(g, 2):
        row = {"a": a, "b": b, "diff": None, "se": None, "t": None, "df": None, "p": None, "reason": None}
        if a not in usable or b not in usable:
            row["reason"] = "a group has fewer than two participants or no variance"
        else:
            va, vb = g[a].var(ddof=1) / len(g[a]), g[b].var(ddof=1) / len(g[b])
            se = math.sqrt(va + vb)
            diff = g[a].mean() - g[b].mean()
            t = diff / se
            df = (va + vb) ** 2 / (va**2 / (len(g[a]) - 1) + vb**2 / (len(g[b]) - 1))
            p = sps.studentized_range.sf(abs(t) * math.sqrt(2), len(usable), df)
            row.update(diff=float(diff), se=float(se), t=float(t), df=float(df), p=float(min(1.0, p)))
        rows.append(row)
    return rows


# --- proportional-odds model ----------------------------------------------------------------


def _po_negloglik(theta: np.ndarray, beta: np.ndarray, counts: np.ndarray) -> float:
    """counts: groups x categories. P(Y ≤ j | g) = expit(θ_j - β_g)."""
    cum = special.expit(theta[None, :] - beta[:, None])
    ones = np.ones((len(beta), 1))
    probs = np.diff(np.hstack([0 * ones, cum, ones]), axis=1)
    with np.errstate(divide="ignore"):
        logp = np.log(np.clip(probs, 1e-300, None))
    return float(-(counts * logp).sum())


def proportional_odds(counts: Mapping[str, Sequence[int]]) -> dict:
    """Cumulative-logit (proportional-odds) model of an ordinal response on group, fitted by maximum
    likelihood on the group x category counts: logit P(Y ≤ j) = θ_j - β_group, β of the first group
    = 0 (as R's MASS::polr). Positive β: higher categories than the reference group.

    Returns the coefficients with Wald SEs (from the numerical Hessian) and the likelihood-ratio test
    against the thresholds-only model (χ², df = groups - 1). Categories nobody used are dropped.
    """
    labels = [k for k, v in counts.items() if sum(v) > 0]
    missing = [k for k, v in counts.items() if sum(v) == 0]
    out = {
        "reference": labels[0] if labels else None, "coefficients": [], "thresholds": None,
        "lr_chi2": None, "df": None, "p": None, "n": 0, "reason": None,
    }
    if len(labels) < 2:
        out["reason"] = "fewer than two groups with responses"
        return out
    table = np.asarray([counts[k] for k in labels], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    out["n"] = int(table.sum())
    n_cat = table.shape[1]
    if n_cat < 2:
        out["reason"] = "no variance: every response is the same"
        return out
    g = len(labels)

    def unpack(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.cumsum(np.concatenate([params[:1], np.exp(params[1:n_cat - 1])]))
        return theta, np.concatenate([[0.0], params[n_cat - 1:]])

    cum = np.cumsum(table.sum(axis=0))[:-1] / table.sum()
    theta0 = special.logit(cum)
    start = np.concatenate([theta0[:1], np.log(np.maximum(np.diff(theta0), 1e-3)), np.zeros(g - 1)])
    fit = optimize.minimize(
        lambda p: _po_negloglik(*unpack(p), table), start, method="BFGS", options={"gtol": 1e-8}
    )
    theta, beta = unpack(fit.x)
    ll_full = -fit.fun
    marg = table.sum(axis=0)
    ll_null = float((marg * np.log(marg / marg.sum())).sum())
    lr = max(0.0, 2 * (ll_full - ll_null))
    natural = np.concatenate([theta, beta[1:]])

    def nll_natural(v: np.ndarray) -> float:
        return _po_negloglik(v[:n_cat - 1], np.concatenate([[0.0], v[n_cat - 1:]]), table)

    ses = _wald_se(nll_natural, natural)
    out.update(thresholds=[float(t) for t in theta], lr_chi2=float(lr), df=g - 1,
               p=float(sps.chi2.sf(lr, g - 1)))
    converged = fit.success or float(np.abs(fit.jac).max()) < 1e-4
    unstable = not converged or bool(np.any(np.abs(beta) > 15)) or ses is None
    for i, label in enumerate(labels[1:]):
        se = None if ses is None else ses[n_cat - 1 + i]
        b = float(beta[i + 1])
        out["coefficients"].append({
            "group": label, "beta": b, "se": se, "odds_ratio": float(math.exp(b)) if abs(b) < 700 else None,
            "z": b / se if se else None, "p": float(2 * sps.norm.sf(abs(b / se))) if se else None,
        })
    notes = []
    if missing:
        notes.append(f"groups without responses left out: {', '.join(missing)}")
    if unstable:
        notes.append("estimates unstable (a group may lie entirely at one end of the scale)")
    out["reason"] = "; ".join(notes) or None
    return out


def _wald_se(f, x: np.ndarray, h: float = 1e-4) -> list[float | None] | None:
    """Standard errors from the inverse of a central-difference Hessian; None if it is singular."""
    k = len(x)
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            val = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) / (4 * h * h)
            hess[i, j] = hess[j, i] = val
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return None
    diag = np.diag(cov)
    if np.any(~np.isfinite(diag)) or np.any(diag <= 0):
        return None
    return [float(math.sqrt(d)) for d in diag]


# --- power ----------------------------------------------------------------------------------


def anova_power(f: float, k: int, n: float, alpha: float = 0.05) -> float:
    """Power of the one-way ANOVA F test for k groups of n (noncentral F, λ = f² · k · n; as R's
    pwr.anova.test and G*Power)."""
    df1, df2 = k - 1, k * n - k
    crit = sps.f.isf(alpha, df1, df2)
    return float(sps.ncf.sf(crit, df1, df2, f * f * k * n))


def sensitivity(k: int, n: float, alpha: float = 0.05, power: float = 0.80) -> dict:
    """Smallest Cohen's f detectable with the given power by a one-way ANOVA on k groups of n, and
    the same effect as η² = f² / (1 + f²) (comparable to ε² for a rank test)."""
    out = {"k": k, "n_per_group": n, "alpha": alpha, "power": power, "f": None, "eta_squared": None,
           "reason": None}
    if k < 2 or n < 2:
        out["reason"] = "needs at least two groups of at least two participants"
        return out
    f = optimize.brentq(lambda f: anova_power(f, k, n, alpha) - power, 1e-6, 100.0, xtol=1e-10)
    out.update(f=float(f), eta_squared=float(f * f / (1 + f * f)))
    return out


# --- contingency tables ---------------------------------------------------------------------


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


def rate(k: int, n: int) -> float | None:
    return k / n if n else None
