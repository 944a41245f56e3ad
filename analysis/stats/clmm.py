"""The cumulative link mixed model (CLMM): the proportional-odds model of ``ordinal.py`` with random
intercepts for one factor or two crossed ones, fitted by the Laplace approximation as R's
ordinal::clmm does (Christensen 2019, R package ordinal; the Laplace step as in lme4, Bates,
Mächler, Bolker & Walker 2015, J. Stat. Softw. 67(1)).

Model: logit P(Y_i ≤ j) = θ_j - η_i, η_i = x_iβ + Σ_r sd_r u_(r, g_r(i)), u ~ N(0, I), with one SD
sd_r per factor. With A = ZΛ (row i holds sd_r at the column of its level of factor r) and
lp_i = log P(y_i | η_i), the Laplace log-likelihood (nAGQ = 1 in R) is

    L(θ, β, sd) = Σ w_i lp_i(η(û)) - ½ ûᵀû - ½ log det H,    H = I + Aᵀ diag(w_i W_i) A,

û the conditional mode and W_i = -∂²lp_i/∂η_i² (≥ 0: the logit model is log-concave in η).
Its gradient is analytic: the envelope theorem removes û from the first two terms, and the
log-determinant's derivative tr(H⁻¹ dH) needs ∂W/∂η (third derivatives of lp) and dû =
H⁻¹ ∂(Aᵀ w ∂lp/∂η), both cheap, since only the entries of H⁻¹ at each response's own levels enter.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from .ordinal import _wald_se

_MODE_TOL = 1e-10  # largest Newton step on û at which the conditional modes count as found
_BOUNDARY = 1e-4  # a standard deviation below this is reported as 0, a variance at its boundary
_BLOCK = 8192  # rows computed at a time (see _Laplace)
_STEP = 1e-4  # relative central-difference step of the Hessian; the gradient is exact to ~1e-10
PILOT_ROWS = 20_000  # rows from which a fit starts from a pilot fit (see _pilot)
PILOT_SHARE = 16  # the pilot's share of the larger factor's levels: one in PILOT_SHARE, drawn seeded


def _cut_terms(theta: np.ndarray, eta: np.ndarray, y: np.ndarray) -> tuple:
    """Per response, log P(y | η), 1/P and (f, f', tanh(c/2)) of the logistic density at the upper cut
    θ_y - η and at the lower cut θ_(y-1) - η (f, f' zero where a cut is infinite): every derivative of
    log P in η and θ up to the third is built from these (f'' by ``_third``, only where it is needed).

    One exp per cut: with the tail probability s = 1/(1 + e^|c|) and a = sign(c), F(c) = (1 + a)/2 - as,
    f = s(1 - s), tanh(c/2) = a(1 - 2s), f' = -f·tanh(c/2), f'' = f·(tanh²(c/2) - 2f). P = F(u) - F(l)
    is summed from the two tails, so it keeps its digits where both cuts lie in the same tail."""
    cuts = np.concatenate([[-np.inf], theta, [np.inf]])
    out = []
    for c in (cuts[y + 1] - eta, cuts[y] - eta):
        e = np.exp(-np.abs(c))
        s = e / (1 + e)
        a, f = np.copysign(1.0, c), s * (1 - s)
        t = a * (1 - 2 * s)
        out.append((a, s, (f, -f * t, t)))
    (a_u, s_u, upper), (a_l, s_l, lower) = out
    prob = np.clip((a_u - a_l) / 2 + a_l * s_l - a_u * s_u, 1e-300, None)
    return np.log(prob), 1 / prob, upper, lower


def _third(cut: tuple) -> np.ndarray:
    """f'' of the logistic density at a cut from ``_cut_terms``' (f, f', tanh(c/2))."""
    f, _, t = cut
    return f * (t * t - 2 * f)


class _InnerHessian:
    """H = I + Aᵀ diag(wW) A, the negative Hessian of the log-density of (y, u) in u.

    Each response lies in one level of each factor, so each factor's own block of H is diagonal:
    H = [[D, C], [Cᵀ, E]] with D (larger factor) and E diagonal and C dense (q₁ x q₂). It is solved,
    and its log-determinant taken, through the Schur complement S = E - CᵀD⁻¹C on the smaller factor
    (q₂ x q₂, inverted outright): O(n + q₁q₂²) per Newton step, never a dense q x q factorisation.
    One factor: H = D."""

    def __init__(self, ww: np.ndarray, groups: list[np.ndarray], sizes: list[int], sd: np.ndarray):
        self.d = 1 + sd[0] ** 2 * np.bincount(groups[0], ww, sizes[0])
        self.logdet = float(np.log(self.d).sum())
        self.crossed = len(groups) == 2
        if self.crossed:
            q1, q2 = sizes
            e = 1 + sd[1] ** 2 * np.bincount(groups[1], ww, q2)
            self.c = sd[0] * sd[1] * np.bincount(groups[0] * q2 + groups[1], ww, q1 * q2).reshape(q1, q2)
            self.k = self.c / self.d[:, None]
            schur = np.diag(e) - self.c.T @ self.k  # ⪰ I as H is, so its inverse is well conditioned
            self.s_inv = np.linalg.inv(schur)
            self.logdet += float(np.linalg.slogdet(schur)[1])

    def solve(self, g: np.ndarray) -> np.ndarray:
        if not self.crossed:
            return g / self.d
        q1 = len(self.d)
        x2 = self.s_inv @ (g[q1:] - self.k.T @ g[:q1])
        return np.concatenate([(g[:q1] - self.c @ x2) / self.d, x2])

    @functools.cached_property
    def _inverse_parts(self) -> tuple:
        """H⁻¹'s diagonal per level of the larger factor, -D⁻¹CS⁻¹ (its off-diagonal block) and S⁻¹'s
        diagonal: the level-wise parts of ``entries``, computed once for all blocks of responses."""
        if not self.crossed:
            return 1 / self.d, None, None
        m = self.k @ self.s_inv  # D⁻¹CS⁻¹: H⁻¹ = [[D⁻¹ + m Cᵀ D⁻¹, -m], [-mᵀ, S⁻¹]]
        return 1 / self.d + (m * self.k).sum(axis=1), -m, self.s_inv.diagonal().copy()

    def entries(self, groups: list[np.ndarray]) -> np.ndarray:
        """(H⁻¹)_(g_r(i), g_s(i)) for every response i and factors r, s: shape (R, R, n)."""
        h11, h12, h22 = self._inverse_parts
        if not self.crossed:
            return h11[groups[0]][None, None]
        off = h12[groups[0], groups[1]]
        return np.array([[h11[groups[0]], off], [off, h22[groups[1]]]])


class _Laplace:
    """The Laplace log-likelihood of one data set and its analytic gradient in (θ, β, sd). The last
    evaluation's conditional modes are kept: the next one starts its Newton steps from them.

    The per-response terms are computed a block of rows at a time: every array of a block stays in the
    processor's cache and in the allocator's pool, where whole-length temporaries (tens of thousands of
    rows) were each fetched from and returned to the kernel, which made a response 3-4 times dearer."""

    def __init__(self, design: np.ndarray, y: np.ndarray, w: np.ndarray, groups: list[np.ndarray],
                 sizes: list[int]):
        self.design, self.y, self.w, self.groups, self.sizes = design, y, w, groups, sizes
        self.k1, self.p = int(y.max()), design.shape[1]
        self.starts = np.cumsum([0, *sizes[:-1]])
        self.blocks = [slice(i, i + _BLOCK) for i in range(0, len(y), _BLOCK)]
        self.u = np.zeros(sum(sizes))
        self.evaluations = 0

    def _at_responses(self, v: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """(R, n): each response's entry of a level vector v, per factor (of the responses in rows)."""
        return np.stack([v[s + g[rows]] for s, g in zip(self.starts, self.groups, strict=True)])

    def _level_sums(self, values: np.ndarray) -> np.ndarray:
        """Zᵀ values: the sum over each level's responses, factors one after the other."""
        return np.concatenate([np.bincount(g, values, q)
                               for g, q in zip(self.groups, self.sizes, strict=True)])

    def _state(self, theta, fixed, sd, u):
        h, ww, d1, terms = -u @ u / 2, [], [], []
        for rows in self.blocks:
            logp, r, up, lo = _cut_terms(theta, fixed[rows] + sd @ self._at_responses(u, rows), self.y[rows])
            g1, g2 = (up[0] - lo[0]) * r, (up[1] - lo[1]) * r  # -∂lp/∂η, (∂²P/∂η²) / P
            w = self.w[rows]
            h += w @ logp
            ww.append(w * np.clip(g1 * g1 - g2, 0, None))
            d1.append(g1)
            terms.append((r, up, lo, g1, g2))
        ww, d1 = np.concatenate(ww), np.concatenate(d1)
        grad = np.repeat(sd, self.sizes) * self._level_sums(-self.w * d1) - u
        return float(h), grad, ww, (d1, terms)

    def _mode(self, theta, beta, sd):
        """û by Newton's method on the concave log-density, halving a step that would lower it."""
        fixed, u = self.design @ beta, self.u
        h, grad, ww, terms = self._state(theta, fixed, sd, u)
        for _ in range(100):
            hess = _InnerHessian(ww, self.groups, self.sizes, sd)
            step = hess.solve(grad)
            if not np.abs(step).max() > _MODE_TOL:  # also stops on NaN
                break
            for _ in range(50):
                new = self._state(theta, fixed, sd, u + step)
                if new[0] >= h - 1e-12 * abs(h):
                    break
                step = step / 2
            u = u + step
            h, grad, ww, terms = new
        self.u = u
        return u, h, ww, hess, terms

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """L and its gradient at params = (θ, β, sd); see the module docstring for the terms."""
        self.evaluations += 1
        k1, p = self.k1, self.p
        theta, beta, sd = params[:k1], params[k1:k1 + p], params[k1 + p:]
        u, h, ww, hess, (d1, terms) = self._mode(theta, beta, sd)
        lev, v, thirds, own_ww = [], [], [], np.zeros(len(sd))
        for rows, (r, up, lo, g1, g2) in zip(self.blocks, terms, strict=True):
            thirds.append((_third(up), _third(lo)))
            d3 = (thirds[-1][0] - thirds[-1][1]) * r
            own = np.einsum("rsi,s->ri", hess.entries([g[rows] for g in self.groups]), sd)  # (H⁻¹ a_i) at
            lev.append(sd @ own)  # i's own levels; a_iᵀ H⁻¹ a_i = ∂ log det H / ∂(w_i W_i)
            v.append(lev[-1] * self.w[rows] * (d3 - 3 * g1 * g2 + 2 * g1**3))  # lev·w·∂W/∂η
            own_ww += own @ ww[rows]
        lev, v = np.concatenate(lev), np.concatenate(v)
        z = hess.solve(np.repeat(sd, self.sizes) * self._level_sums(v))
        score = -self.w * d1  # w ∂lp/∂η
        t = self._level_sums(score)
        g_theta, u_shift, scores = np.zeros(k1), np.zeros(len(sd)), []
        for rows, (r, up, lo, g1, g2), (up2, lo2) in zip(self.blocks, terms, thirds, strict=True):
            az = sd @ self._at_responses(z, rows)
            shift = v[rows] - az * ww[rows]  # ∂ log det H / ∂η_i, through W directly and through û
            scores.append(score[rows] - shift / 2)
            u_shift += self._at_responses(u, rows) @ shift
            wr, half_lev, half_az, curve = self.w[rows] * r, lev[rows] / 2, az / 2, 2 * g1 * g1 - g2
            for sign, (f, f1, _), f2, index in ((1, up, up2, slice(None, k1)), (-1, lo, lo2, slice(1, None))):
                # the threshold at this cut: ∂lp/∂θ, ∂²lp/∂η∂θ and ∂³lp/∂η²∂θ are sign/P times f, f·g1 - f',
                # f'' + f(2g1² - g2) - 2f'g1, all 0 where the cut is infinite (y = K - 1 above, y = 0 below)
                part = wr * (f + half_lev * (f2 + f * curve - 2 * f1 * g1) - half_az * (f * g1 - f1))
                g_theta += sign * np.bincount(self.y[rows], part, k1 + 1)[index]
        self.response_scores = np.concatenate(scores)  # ∂L/∂η_i: a new covariate x scores xᵀ this
        g_beta = self.design.T @ self.response_scores
        g_sd = np.add.reduceat((u - z / 2) * t, self.starts) - own_ww - u_shift / 2
        loglik = h - hess.logdet / 2
        return loglik, np.concatenate([g_theta, g_beta, g_sd])


def _natural(x: np.ndarray, k1: int) -> np.ndarray:
    """(θ, β, sd) from the optimiser's coordinates: θ_1, then the logs of the thresholds' gaps."""
    return np.concatenate([np.cumsum(np.concatenate([x[:1], np.exp(x[1:k1])])), x[k1:]])


def _maximise(model: _Laplace, k1: int, start: np.ndarray, hess_inv0: np.ndarray | None = None,
              gtol: float = 1e-7):
    """BFGS on -L in the optimiser's coordinates (see ``clmm``), from ``start``, its first inverse
    Hessian ``hess_inv0`` (None: the identity, scipy's default), to a gradient of ``gtol`` per unit of
    weight."""
    steps = np.tril(np.ones((k1, k1)))

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        loglik, grad = model(_natural(x, k1))
        jac = steps * np.concatenate([[1.0], np.exp(x[1:k1])])
        return -loglik, -np.concatenate([jac.T @ grad[:k1], grad[k1:]])

    # gtol scales as the gradient does, with the responses' weight: ~1e-4 for a thousand, far below
    # what moves an estimate by a thousandth of its SE
    options = {"gtol": gtol * model.w.sum()}
    if hess_inv0 is not None:
        options["hess_inv0"] = hess_inv0
    return optimize.minimize(objective, start, jac=True, method="BFGS", options=options)


def _pilot(model: _Laplace, k1: int, start: np.ndarray) -> np.ndarray | None:
    """Where a large fit should start: the fit on one in PILOT_SHARE levels of the larger factor, drawn
    seeded (their responses alone), and BFGS's inverse Hessian there, scaled to the whole data. From
    the identity, BFGS spent most of its evaluations learning the curvature, whose scale grows with the
    responses; the pilot learns it at a sixteenth of the cost, and the whole fit then converges in a few
    iterations (at 10,000 participants, 6-12 instead of 14-40). ``start`` is moved to the pilot's
    estimate in place where that is finite and within ±15 (as ``clmm`` calls stable). None below
    PILOT_ROWS rows, where the pilot's data cannot be fitted, or where its curvature is not positive
    definite."""
    if len(model.y) < PILOT_ROWS:
        return None
    picked = (np.random.default_rng(0).random(model.sizes[0]) * PILOT_SHARE < 1)[model.groups[0]]
    kept = [np.unique(g[picked], return_inverse=True) for g in model.groups]
    if any(len(levels) < 2 for levels, _ in kept) or len(np.unique(model.y[picked])) <= k1:
        return None
    sub = _Laplace(model.design[picked], model.y[picked], model.w[picked],
                   [codes.ravel() for _, codes in kept], [len(levels) for levels, _ in kept])
    fit = _maximise(sub, k1, start)
    if not np.all(np.abs(fit.x) < 15):  # not finite, or the pilot's few participants separate
        return None
    start[:] = fit.x
    inverse = (fit.hess_inv + fit.hess_inv.T) / 2 * (sub.w.sum() / model.w.sum())
    values = np.linalg.eigvalsh(inverse)  # BFGS keeps it positive definite up to rounding
    return None if values.min() <= 1e-12 * values.max() else inverse


def _hessian(model: _Laplace, point: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Hessian of L in the free parameters by central differences of the analytic gradient, each
    step relative to its parameter's size; symmetrised."""
    idx = np.flatnonzero(free)
    out = np.empty((len(idx), len(idx)))
    for row, j in enumerate(idx):
        step = _STEP * max(1.0, abs(point[j]))
        grads = []
        for sign in (1, -1):
            x = point.copy()
            x[j] += sign * step
            grads.append(model(x)[1][idx])
        out[row] = (grads[0] - grads[1]) / (2 * step)
    return (out + out.T) / 2


def _identified(info: np.ndarray) -> bool:
    """Whether the information is positive definite beyond the differencing noise (~1e-7): smallest
    eigenvalue in correlation scale over 1e-6. A coefficient collinear with others or with the
    thresholds leaves it singular but for that noise, which would invert to huge, meaningless SEs."""
    diag = np.diag(info)
    return bool(np.all(diag > 0) and np.linalg.eigvalsh(info / np.sqrt(np.outer(diag, diag))).min() > 1e-6)


def _collapsed(y: np.ndarray, design: np.ndarray, groups: list[np.ndarray], w: np.ndarray) -> tuple:
    """Responses alike in category, fixed-effects row and levels merged into one row weighing their
    total: L, its gradient and the modes are sums over responses, so the fit is the same, and at 10,000
    participants x 6 stimuli a trial's several items mostly repeat an answer (a composite of 6 items
    halves the rows). Returns the first row of each kind, each kind's weight, and each response's
    kind. The columns are coded as one integer each, in order, and the kinds found as unique integers
    of those digits (as np.unique over rows would, in the same order, at a tenth of its cost)."""
    columns = [y, *groups, *(np.unique(column, return_inverse=True)[1].ravel() for column in design.T)]
    sizes = [int(column.max(initial=0)) + 1 for column in columns]
    if math.prod(sizes) < 2**62:
        key, radix = np.zeros(len(y), dtype=np.int64), 1
        for column, size in zip(reversed(columns), reversed(sizes), strict=True):
            key += radix * column
            radix *= size
    else:  # too many digits for one integer: the rows as they are
        key = np.column_stack(columns)
    _, rows, kind = np.unique(key, axis=0, return_index=True, return_inverse=True)
    kind = kind.ravel()
    return rows, np.bincount(kind, w, len(rows)), kind


def _refused(reason: str, n: int, levels: list[int]) -> dict:
    return {
        "thresholds": None, "threshold_se": None, "coefficients": None, "coefficient_se": None,
        "coefficient_cov": None, "fixed_cov": None, "sds": None, "variances": None, "modes": None,
        "loglik": None, "response_scores": None,
        "converged": False, "n": n, "levels": levels, "iterations": 0, "evaluations": 0, "reason": reason,
    }


def clmm(y: ArrayLike, design: ArrayLike, factors: Sequence[ArrayLike], *,
         weights: ArrayLike | None = None, standard_errors: bool = True) -> dict:
    """Cumulative link mixed model with random intercepts, by the Laplace approximation (as R's
    ``ordinal::clmm(y ~ x + (1|f1) + (1|f2))``, logit link, nAGQ = 1):
    logit P(Y ≤ j) = θ_j - xβ - Σ_r b_r, b_r ~ N(0, sd_r²), so a positive β moves answers up.

    ``y``: category index 0..K-1 per response (every category must carry weight); ``design``: n x p
    fixed effects without an intercept; ``factors``: one or two label arrays (n,), the level of each
    response in each random factor (two may be crossed); ``weights``: the count each row stands for.

    The outer maximisation (BFGS, analytic gradient) runs on θ_1 and log(θ_j - θ_(j-1)), which keeps
    the thresholds increasing, on β, and on each sd_r over the whole line: L is even in sd_r, so a
    variance at the boundary is an ordinary maximum at sd_r = 0, reached at the quadratic rate (log sd
    would only creep towards -∞), and no bound sd ≥ 0 can hold the optimiser at sd_r = 0, where the
    gradient in sd_r always vanishes, when that is a saddle. |sd_r| < 1e-4 is reported as 0. From
    20,000 rows on, it starts from a pilot fit on a sixteenth of the larger factor's levels (``_pilot``)
    and stops at a ten times smaller gradient.
    SEs invert the Hessian of L in (θ, β, sd), from central differences of its analytic gradient, as
    R's clmm does; an SD at the boundary is left out of it, so the SEs are conditional on it (said in
    ``reason``).

    Returns ``thresholds``, ``threshold_se``, ``coefficients``, ``coefficient_se``, ``coefficient_cov``
    (p x p, for Wald tests), ``fixed_cov`` (that of thresholds and coefficients together, (K-1+p) square,
    for contrasts that involve a threshold, such as the intercept of a binary model), ``sds`` and
    ``variances`` (per factor, in the order given), ``modes`` (per factor, the conditional modes b = sd·û
    of its levels in sorted label order, R's ``ranef``), ``loglik`` (Laplace, as R's ``logLik``),
    ``converged``, ``n`` (responses), ``levels`` (per factor), ``iterations``, ``evaluations`` (of L and
    its gradient on the whole data, the Hessian's included; a pilot's not counted), ``response_scores``
    (per response, ∂L/∂η_i at the estimate: the score of any covariate left out of the model is its
    inner product with these, what a score or permutation test of that covariate needs; 0 for rows of
    weight 0) and ``reason`` (None, or what went wrong in words). ``standard_errors=False`` skips the
    Hessian (the SEs and covariances are None): a null model fitted only for its scores. All
    responses in one category, or a factor with one level, give None estimates with a reason; malformed
    input raises ValueError.
    """
    y = np.asarray(y, dtype=int)
    design = np.asarray(design, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    labels = [np.asarray(f) for f in factors]
    if y.ndim != 1 or design.ndim != 2 or design.shape[0] != len(y) or w.shape != y.shape:
        raise ValueError("design must be n x p, with one category and one weight per response")
    if len(labels) not in (1, 2) or any(f.shape != y.shape for f in labels):
        raise ValueError("factors must be one or two arrays, one level per response")
    if len(y) and (y.min() < 0 or np.any(w < 0) or not np.all(np.isfinite(design))):
        raise ValueError("categories are indices from 0, weights are not negative, the design is finite")
    keep = w > 0
    y, design, w = y[keep], design[keep], w[keep]
    coded = [np.unique(f[keep], return_inverse=True) for f in labels]
    levels = [len(c) for c, _ in coded]
    marg = np.bincount(y, weights=w)
    if np.count_nonzero(marg) < 2:
        return _refused("no variance: every response is in the same category", len(y), levels)
    if np.any(marg == 0):
        raise ValueError(f"every category 0..{len(marg) - 1} needs weight; counts are {marg.tolist()}")
    if min(levels) < 2:
        return _refused("a random factor needs at least two levels", len(y), levels)
    order = sorted(range(len(levels)), key=lambda r: -levels[r])  # the larger factor is solved directly
    groups = [coded[r][1].ravel() for r in order]
    rows, counts, kind = _collapsed(y, design, groups, w)
    model = _Laplace(design[rows], y[rows], counts, [g[rows] for g in groups], [levels[r] for r in order])
    k1, p, n_sd = len(marg) - 1, design.shape[1], len(levels)
    theta0 = special.logit(np.cumsum(marg)[:-1] / marg.sum())
    start = np.concatenate([theta0[:1], np.log(np.maximum(np.diff(theta0), 1e-3)), np.zeros(p),
                            np.ones(n_sd)])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pilot = _pilot(model, k1, start)
        # from a pilot's start BFGS converges superlinearly: ten times closer costs an iteration or two
        fit = _maximise(model, k1, start, pilot, 1e-7 if pilot is None else 1e-8)
        point = _natural(fit.x, k1)
        sd = point[k1 + p:]
        sd[:] = np.where(np.abs(sd) < _BOUNDARY, 0.0, np.abs(sd))
        loglik, grad = model(point)
        modes = [sd[i] * model.u[s:s + q]
                 for i, (s, q) in enumerate(zip(model.starts, model.sizes, strict=True))]
        scores = np.zeros(len(keep))
        scores[keep] = (model.response_scores / counts)[kind] * w  # each response's share of its kind's score
        free = np.concatenate([np.ones(k1 + p, dtype=bool), sd > 0])
        info = -_hessian(model, point, free) if standard_errors else None
    ses = _wald_se(info) if info is not None and _identified(info) else None
    back = np.argsort(order)  # from the fitting order back to the order the factors were given
    sd_given = [float(sd[i]) for i in back]
    # converged: BFGS says so, or the Newton step left would raise L by under 1e-6
    converged = bool(fit.success) or (
        ses is not None and grad[free] @ np.linalg.solve(info, grad[free]) < 2e-6) or (
        info is None and np.abs(grad[free]).max() < 1e-5 * w.sum())
    zero = [str(r + 1) for r in range(n_sd) if sd_given[r] == 0]
    notes = []
    if zero:
        which = f"variance of factor {zero[0]} is" if len(zero) == 1 else "variances of factors 1 and 2 are"
        notes.append(f"the {which} estimated at 0 (the boundary); the SEs are conditional on it")
    if not converged:
        notes.append(f"the optimiser did not converge: {fit.message}")
    if ses is None and standard_errors:
        notes.append("the Hessian is singular or not negative definite at the estimate, so there are no SEs "
                     "(a coefficient may not be identified: a collinear design or separation)")
    if np.any(np.abs(point) > 15):
        notes.append("estimates unstable (beyond ±15 on the logit scale): the answers may lie entirely at "
                     "one end of the scale for some value of a predictor or some level of a factor")
    cov = None if ses is None else np.linalg.inv(info)[:k1 + p, :k1 + p]
    return {
        "thresholds": [float(t) for t in point[:k1]],
        "threshold_se": None if ses is None else ses[:k1],
        "coefficients": [float(b) for b in point[k1:k1 + p]],
        "coefficient_se": None if ses is None else ses[k1:k1 + p],
        "coefficient_cov": None if cov is None else cov[k1:, k1:].tolist(),
        "fixed_cov": None if cov is None else cov.tolist(),
        "sds": sd_given,
        "variances": [s * s for s in sd_given],
        "modes": [[float(b) for b in modes[i]] for i in back],
        "loglik": float(loglik),
        "converged": converged,
        "n": len(y),
        "levels": levels,
        "iterations": int(fit.nit),
        "evaluations": model.evaluations,
        "response_scores": scores,
        "reason": "; ".join(notes) or None,
    }
