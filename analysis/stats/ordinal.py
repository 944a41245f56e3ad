"""The proportional-odds (cumulative-logit) model of ordinal responses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special
from scipy import stats as sps

from .common import _left_out, _refusal, holm


def _po_loglik(
    theta: np.ndarray, beta: np.ndarray, data: tuple[np.ndarray, np.ndarray, np.ndarray], *,
    information: bool = False,
) -> tuple[float, np.ndarray, np.ndarray | None, np.ndarray]:
    """Log-likelihood of the cumulative-logit model, its gradient in (θ, β), on request the observed
    information, and each row's score (unweighted), all analytic: no differencing error in the
    estimates or the SEs.

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
        return loglik, grad, None, score
    curv_u = -dens_u * np.tanh(upper / 2) * w / prob
    curv_l = -dens_l * np.tanh(lower / 2) * w / prob
    hess = (d_upper.T * curv_u) @ d_upper - (d_lower.T * curv_l) @ d_lower - (score.T * w) @ score
    return loglik, grad, -hess, score


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
        loglik, grad, _, _ = _po_loglik(thresholds(alpha), params[k1:], data)
        jac = steps * np.concatenate([[1.0], np.exp(alpha[1:])])
        return -loglik, -np.concatenate([jac.T @ grad[:k1], grad[k1:]])

    theta0 = special.logit(np.cumsum(marg)[:-1] / marg.sum())
    start = np.concatenate([theta0[:1], np.log(np.maximum(np.diff(theta0), 1e-3)), np.zeros(p)])
    with np.errstate(over="ignore", invalid="ignore"):
        fit = optimize.minimize(objective, start, jac=True, method="BFGS", options={"gtol": 1e-8})
    theta, beta = thresholds(fit.x[:k1]), fit.x[k1:]
    loglik, _, info, _ = _po_loglik(theta, beta, data, information=True)
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


def proportional_odds(responses: Mapping[str, Sequence[Sequence[int]]]) -> dict:
    """Cumulative-logit (proportional-odds) model of ordinal answers on group, by maximum likelihood:
    logit P(Y ≤ j) = θ_j - β_group, β of the first group = 0 (as R's MASS::polr). Positive β: higher
    categories than the reference group.

    ``responses[group]`` lists the group's participants, each as the list of their answers (ordered
    categories, e.g. 1-5). A participant's answers are not independent, so the standard errors,
    the odds ratios' intervals and the Wald test of all groups are cluster-robust (sandwich, clusters
    = participants, with the small-sample factor G/(G - 1) as Stata's vce(cluster)). The naive
    likelihood-ratio test, which treats every answer as independent, is kept for comparison. The
    proportional-odds assumption is checked with the participants as clusters
    (``proportional_odds_check``).

    Groups under two participants are left out, as in the other tests; categories nobody used are
    dropped.
    """
    sizes = {k: len(v) for k, v in responses.items()}
    labels = [k for k, n in sizes.items() if n >= 2]
    note = _left_out(sizes)
    out = {
        "reference": labels[0] if labels else None, "coefficients": [], "thresholds": None,
        "wald_chi2": None, "df": None, "p": None, "lr_chi2": None, "lr_p": None, "po_test": None,
        "coefficient_cov": None, "n": 0, "clusters": 0, "reason": None,
    }
    if len(labels) < 2:
        out["reason"] = _refusal(note)
        return out
    people = [(g, np.asarray(answers, dtype=int)) for g, label in enumerate(labels)
              for answers in responses[label] if len(answers)]
    categories = np.unique(np.concatenate([a for _, a in people]))
    out.update(n=int(sum(len(a) for _, a in people)), clusters=len(people))
    if len(categories) < 2:
        out["reason"] = "no variance: every response is the same"
        return out
    g, k = len(labels), len(categories)
    # per participant, how many answers fell in each category; the fit needs only the group sums
    per_person = np.array([np.bincount(np.searchsorted(categories, a), minlength=k) for _, a in people])
    group_of = np.array([grp for grp, _ in people])
    table = np.array([per_person[group_of == grp].sum(axis=0) for grp in range(g)], dtype=float)
    group, category = np.nonzero(table)
    design = np.eye(g)[group][:, 1:]
    fit = cumulative_logit(design, category, table[group, category])
    theta, beta = np.array(fit["thresholds"]), np.array(fit["coefficients"])
    # every group x category cell: its score per answer, and the information over all answers
    cell_design, cell_category = np.eye(g)[np.repeat(np.arange(g), k)][:, 1:], np.tile(np.arange(k), g)
    cell_scores = _po_loglik(theta, beta, (cell_design, cell_category, np.ones(g * k)))[3]
    info = _po_loglik(theta, beta, (cell_design, cell_category, table.reshape(-1)), information=True)[2]
    # a participant's score: their answers' cell scores summed
    person_scores = np.einsum("pk,pkj->pj", per_person, cell_scores.reshape(g, k, -1)[group_of])
    robust = _sandwich(info, person_scores)
    marg = table.sum(axis=0)
    ll_null = float((marg * np.log(marg / marg.sum())).sum())
    lr = max(0.0, 2 * (fit["loglik"] - ll_null))
    out.update(
        thresholds=fit["thresholds"], df=g - 1, lr_chi2=float(lr), lr_p=float(sps.chi2.sf(lr, g - 1)),
        po_test=proportional_odds_check(per_person, group_of),
    )
    unstable = not fit["converged"] or np.any(np.abs(beta) > 15) or robust is None
    naive = fit["coefficient_se"]
    if robust is not None:
        cov = robust[k - 1:, k - 1:]
        ses = np.sqrt(np.diag(cov))
        try:
            wald = float(beta @ np.linalg.solve(cov, beta))
            out.update(wald_chi2=wald, p=float(sps.chi2.sf(wald, g - 1)), coefficient_cov=cov.tolist())
        except np.linalg.LinAlgError:
            robust = None
    z975 = sps.norm.isf((1 - 0.95) / 2)
    for i, (label, b) in enumerate(zip(labels[1:], beta, strict=True)):
        se = float(ses[i]) if robust is not None else None
        row = {"group": label, "beta": float(b), "se": se, "se_naive": None if naive is None else naive[i],
               "z": None, "p": None, "odds_ratio": None, "or_ci_low": None, "or_ci_high": None}
        if abs(b) < 700:
            row["odds_ratio"] = math.exp(b)
        if se:
            row.update(z=float(b / se), p=float(2 * sps.norm.sf(abs(b / se))))
            if abs(b) + z975 * se < 700:
                row.update(or_ci_low=math.exp(b - z975 * se), or_ci_high=math.exp(b + z975 * se))
        out["coefficients"].append(row)
    unstable_note = "estimates unstable, as a group may lie entirely at one end of the scale"
    out["reason"] = "; ".join(filter(None, [note, unstable_note if unstable else None])) or None
    return out


def proportional_odds_check(per_person: ArrayLike, group_of: ArrayLike) -> dict:
    """The proportional-odds assumption tested with participants as clusters: whether the groups'
    cumulative log odds differ by the same amount at every cut of the scale.

    Per group g and cut j, the empirical cumulative logit L_gj = log((C + ½) / (M - C + ½)) of the C of
    its M answers at or below the cut (Haldane's ½ keeps an empty tail finite); its covariance over the
    cuts is the jackknife's over participants, each left out in turn with all their answers
    ((G - 1)/G Σ (L_(-p) - mean)², as CR3 cluster-robust errors; the delta-method sandwich was too small
    with 25 participants per group). Proportional odds says each group's L_g - L_ref is constant
    across the cuts: (g - 1)(K - 2) contrasts, tested jointly by
    Wald's statistic W, referred as Hotelling's T² to F(q, nu - q + 1) after scaling by
    (nu - q + 1)/(nu q), nu = the participants less the groups. The likelihood-ratio test against a
    separate distribution per group (R's ``ordinal::nominal_test``) counts a participant's correlated
    answers as independent and so rejects a true assumption too often (see ``bench/calibration.py``).

    ``per_person``: participants x categories answer counts; ``group_of``: each participant's group
    index (0 the reference). Returns ``statistic`` (W), ``df1``, ``df2``, ``F``, ``p`` and ``reason``."""
    counts, group_of = np.asarray(per_person, dtype=float), np.asarray(group_of, dtype=int)
    g, k = int(group_of.max()) + 1, counts.shape[1]
    q, nu = (g - 1) * (k - 2), len(counts) - g
    out = {"statistic": None, "df1": q, "df2": None, "F": None, "p": None, "reason": None}
    if k < 3:
        out["reason"] = "two answer categories: nothing to check"
        return out
    if nu - q + 1 < 1:
        out["reason"] = f"{len(counts)} participants are too few for its {q} contrasts"
        return out
    below = np.cumsum(counts, axis=1)[:, :-1]
    answers = counts.sum(axis=1)
    logits, covs = [], []
    for grp in range(g):
        rows = group_of == grp
        c, m, clusters = below[rows].sum(axis=0), answers[rows].sum(), int(rows.sum())
        logits.append(np.log((c + 0.5) / (m - c + 0.5)))
        left = below[rows]  # each participant left out in turn: the jackknife
        leave = np.log((c - left + 0.5) / (m - answers[rows][:, None] - c + left + 0.5))
        spread = leave - leave.mean(axis=0)
        covs.append(spread.T @ spread * (clusters - 1) / clusters)
    diff = np.eye(k - 1)[:-1] - np.eye(k - 1)[1:]  # successive cuts' differences
    delta = np.concatenate([diff @ (logits[grp] - logits[0]) for grp in range(1, g)])
    ref = diff @ covs[0] @ diff.T
    cov = np.kron(np.ones((g - 1, g - 1)), ref)  # the reference group's part is shared by every contrast
    for grp in range(1, g):
        block = slice((grp - 1) * (k - 2), grp * (k - 2))
        cov[block, block] += diff @ covs[grp] @ diff.T
    try:
        w = float(delta @ np.linalg.solve(cov, delta))
    except np.linalg.LinAlgError:
        out["reason"] = "the cumulative logits' covariance is singular (a category no participant varies on)"
        return out
    f = w * (nu - q + 1) / (nu * q)
    out.update(statistic=w, df2=nu - q + 1, F=f, p=float(sps.f.sf(f, q, nu - q + 1)))
    return out


def contrasts(labels: Sequence[str], coefficients: Sequence[float], cov: ArrayLike) -> list[dict]:
    """Every pair of groups from a model's coefficients against the first group (which is 0) and
    their covariance: the log odds ratio a vs b, Wald z, two-sided p, Holm across the pairs, and
    the odds ratio with its 95% interval."""
    beta = np.concatenate([[0.0], np.asarray(coefficients, dtype=float)])
    full = np.zeros((len(labels), len(labels)))
    full[1:, 1:] = np.asarray(cov, dtype=float)
    z975 = sps.norm.isf(0.025)
    rows = []
    for a, b in combinations(range(len(labels)), 2):
        diff = float(beta[a] - beta[b])
        se = math.sqrt(max(0.0, full[a, a] + full[b, b] - 2 * full[a, b]))
        row = {"a": labels[a], "b": labels[b], "log_odds": diff, "se": se, "z": None, "p": None,
               "odds_ratio": math.exp(diff) if abs(diff) < 700 else None, "or_ci_low": None,
               "or_ci_high": None, "reason": None if se > 0 else "no variance"}
        if se > 0 and abs(diff) + z975 * se < 700:
            row.update(z=diff / se, p=float(2 * sps.norm.sf(abs(diff / se))),
                       or_ci_low=math.exp(diff - z975 * se), or_ci_high=math.exp(diff + z975 * se))
        rows.append(row)
    for row, adjusted in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = adjusted
    return rows


def _sandwich(information: np.ndarray, cluster_scores: np.ndarray) -> np.ndarray | None:
    """Cluster-robust covariance I⁻¹ (G/(G - 1) Σ_c s_c s_cᵀ) I⁻¹; None if I is singular."""
    try:
        bread = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        return None
    clusters = len(cluster_scores)
    if clusters < 2:
        return None
    meat = cluster_scores.T @ cluster_scores * clusters / (clusters - 1)
    cov = bread @ meat @ bread
    return cov if np.all(np.isfinite(cov)) and np.all(np.diag(cov) > 0) else None


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
