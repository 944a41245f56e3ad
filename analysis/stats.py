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
from numpy.typing import ArrayLike
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
    if np.ptp(allv) == 0:
        out["reason"] = "no variance: every value is the same"
        return out
    h, p = sps.kruskal(*g.values())
    out.update(H=float(h), df=len(g) - 1, p=float(p), epsilon_squared=float(h / ((n**2 - 1) / (n + 1))),
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
        if row["reason"] is None and var <= 0:
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
    elif np.ptp(np.concatenate([x, y])) == 0:
        out["reason"] = "no variance: every value is the same"
    else:
        u, p = sps.mannwhitneyu(x, y, alternative="two-sided")
        out.update(U=float(u), p=float(p), r_rb=float(2 * u / (len(x) * len(y)) - 1))
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


# --- Welch's ANOVA and Games-Howell ---------------------------------------------------------


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


# --- proportional-odds model ----------------------------------------------------------------


def _po_loglik(
    theta: np.ndarray, beta: np.ndarray, data: tuple[np.ndarray, np.ndarray, np.ndarray], *,
    information: bool = False,
) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Log-likelihood of the cumulative-logit model, its gradient in (θ, β) and, on request, the
    observed information, all analytic: no differencing error in the estimates or the SEs.

    Per row, with the cuts u = θ_y - xβ and l = θ_(y-1) - xβ (±∞ at the ends), P = F(u) - F(l),
    so ∂P = f(u)∂u - f(l)∂l and ∂²P = f'(u)∂u∂uᵀ - f'(l)∂l∂lᵀ with f' = -f·tanh(z/2); then
    ∂² log P = ∂²P / P - ∂ log P ∂ log Pᵀ (model: McCullagh 1980, JRSS B 42, 109-142).
    """
    design, y, w = data
    n, k1 = len(y), len(theta)
    cuts = np.concatenate([[-np.inf], theta, [np.inf]])
    eta = design @ beta
    upper, lower = cuts[y + 1] - eta, cuts[y] - eta
    # In the upper tail F(u) - F(l) loses its digits; (1 - F(l)) - (1 - F(u)) keeps them.
    prob = np.where(lower > 0, special.expit(-lower) - special.expit(-upper),
                    special.expit(upper) - special.expit(lower))
    prob = np.clip(prob, 1e-300, None)
    dens_u = special.expit(upper) * special.expit(-upper)
    dens_l = special.expit(lower) * special.expit(-lower)
    d_upper = np.hstack([np.zeros((n, k1)), -design])
    d_lower = d_upper.copy()
    rows = np.arange(n)
    d_upper[rows[y < k1], y[y < k1]] = 1.0
    d_lower[rows[y > 0], y[y > 0] - 1] = 1.0
    score = (dens_u[:, None] * d_upper - dens_l[:, None] * d_lower) / prob[:, None]
    loglik, grad = float(w @ np.log(prob)), score.T @ w
    if not information:
        return loglik, grad, None
    curv_u = -dens_u * np.tanh(upper / 2) * w / prob
    curv_l = -dens_l * np.tanh(lower / 2) * w / prob
    hess = (d_upper.T * curv_u) @ d_upper - (d_lower.T * curv_l) @ d_lower - (score.T * w) @ score
    return loglik, grad, -hess


def cumulative_logit(design: ArrayLike, y: ArrayLike, weights: ArrayLike) -> dict:
    """Proportional-odds (cumulative-logit) model by maximum likelihood, parametrised as R's
    MASS::polr: logit P(Y ≤ j | x) = θ_j - xβ, so a positive β moves answers up the scale.

    ``design`` is n x p without an intercept column, ``y`` the category index 0..K-1 of each row
    (K = max(y) + 1; every category must carry weight) and ``weights`` the count each row stands
    for. BFGS with the analytic gradient runs on θ_1 and log(θ_j - θ_(j-1)), which keeps the
    thresholds increasing; the Wald SEs invert the analytic observed information at the estimate.
    Raises ValueError on malformed input; callers check their data first.
    """
    design = np.asarray(design, dtype=float)
    y = np.asarray(y, dtype=int)
    w = np.asarray(weights, dtype=float)
    if design.ndim != 2 or design.shape[0] != len(y) or len(w) != len(y):
        raise ValueError("design must be n x p, with one category and one weight per row")
    if len(y) and (y.min() < 0 or np.any(w < 0)):
        raise ValueError("categories are indices from 0 and weights are counts, neither negative")
    keep = w > 0
    design, y, w = design[keep], y[keep], w[keep]
    marg = np.bincount(y, weights=w)
    k1, p = len(marg) - 1, design.shape[1]
    if k1 < 1 or np.any(marg == 0):
        raise ValueError(f"every category 0..{len(marg) - 1} needs weight; counts are {marg.tolist()}")
    data = (design, y, w)
    steps = np.tril(np.ones((k1, k1)))

    def thresholds(alpha: np.ndarray) -> np.ndarray:
        return np.cumsum(np.concatenate([alpha[:1], np.exp(alpha[1:])]))

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        alpha = params[:k1]
        loglik, grad, _ = _po_loglik(thresholds(alpha), params[k1:], data)
        jac = steps * np.concatenate([[1.0], np.exp(alpha[1:])])
        return -loglik, -np.concatenate([jac.T @ grad[:k1], grad[k1:]])

    theta0 = special.logit(np.cumsum(marg)[:-1] / marg.sum())
    start = np.concatenate([theta0[:1], np.log(np.maximum(np.diff(theta0), 1e-3)), np.zeros(p)])
    with np.errstate(over="ignore", invalid="ignore"):
        fit = optimize.minimize(objective, start, jac=True, method="BFGS", options={"gtol": 1e-8})
    theta, beta = thresholds(fit.x[:k1]), fit.x[k1:]
    loglik, _, info = _po_loglik(theta, beta, data, information=True)
    ses = _wald_se(info)
    return {
        "thresholds": [float(t) for t in theta],
        "coefficients": [float(b) for b in beta],
        "threshold_se": None if ses is None else ses[:k1],
        "coefficient_se": None if ses is None else ses[k1:],
        "loglik": loglik,
        "deviance": -2 * loglik,
        "converged": bool(fit.success or np.abs(fit.jac).max() < 1e-4),
    }


def proportional_odds(
    counts: Mapping[str, Sequence[int]], participants: Mapping[str, int] | None = None
) -> dict:
    """Cumulative-logit (proportional-odds) model of an ordinal response on group, fitted by maximum
    likelihood on the group x category counts: logit P(Y ≤ j) = θ_j - β_group, β of the first group
    = 0 (as R's MASS::polr). Positive β: higher categories than the reference group.

    A thin wrapper: dummy-codes the groups and calls ``cumulative_logit``. Returns the coefficients
    with Wald SEs and the likelihood-ratio test against the thresholds-only model (χ², df = groups
    - 1). Categories nobody used are dropped. ``participants`` is how many people gave each group's
    responses (default: one per response); as in the other tests, groups under two are left out,
    since the responses of one person stand for their group no better than a single value.
    """
    sizes = {
        k: sum(v) if participants is None else min(participants.get(k, 0), sum(v)) for k, v in counts.items()
    }
    labels = [k for k, n in sizes.items() if n >= 2]
    note = _left_out(sizes)
    out = {
        "reference": labels[0] if labels else None, "coefficients": [], "thresholds": None,
        "lr_chi2": None, "df": None, "p": None, "n": 0, "reason": None,
    }
    if len(labels) < 2:
        out["reason"] = _refusal(note)
        return out
    table = np.asarray([counts[k] for k in labels], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    out["n"] = int(table.sum())
    if table.shape[1] < 2:
        out["reason"] = "no variance: every response is the same"
        return out
    g = len(labels)
    group, category = np.nonzero(table)
    fit = cumulative_logit(np.eye(g)[group][:, 1:], category, table[group, category])
    marg = table.sum(axis=0)
    ll_null = float((marg * np.log(marg / marg.sum())).sum())
    lr = max(0.0, 2 * (fit["loglik"] - ll_null))
    out.update(thresholds=fit["thresholds"], lr_chi2=float(lr), df=g - 1, p=float(sps.chi2.sf(lr, g - 1)))
    ses, beta = fit["coefficient_se"], fit["coefficients"]
    unstable = not fit["converged"] or any(abs(b) > 15 for b in beta) or ses is None
    for i, (label, b) in enumerate(zip(labels[1:], beta, strict=True)):
        se = None if ses is None else ses[i]
        out["coefficients"].append({
            "group": label, "beta": b, "se": se, "odds_ratio": float(math.exp(b)) if abs(b) < 700 else None,
            "z": b / se if se else None, "p": float(2 * sps.norm.sf(abs(b / se))) if se else None,
        })
    unstable_note = "estimates unstable, as a group may lie entirely at one end of the scale"
    out["reason"] = "; ".join(filter(None, [note, unstable_note if unstable else None])) or None
    return out


def _wald_se(information: np.ndarray) -> list[float] | None:
    """Standard errors from the inverse of the observed information; None if it is singular."""
    try:
        cov = np.linalg.inv(information)
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
