"""The proportional-odds (cumulative-logit) model of ordinal responses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special
from scipy import stats as sps

from .common import _left_out, _refusal


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
