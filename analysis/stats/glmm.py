"""The mixed logistic regression of the behavioural tasks: is a trial answered correctly more often in one
condition than another, with participants and stimuli as crossed random intercepts? As R's
``lme4::glmer(correct ~ condition + (1|participant) + (1|stimulus), family = binomial)`` (Laplace,
nAGQ = 1; Bates, Mächler, Bolker & Walker 2015).

It is fitted by ``clmm``: a cumulative link model with two categories is the logistic model. With
Y = 0 (wrong) or 1 (right), clmm's logit P(Y ≤ 0) = θ - η gives logit P(right) = η - θ, so glmer's
intercept is -θ, its coefficients are clmm's β, and the Laplace log-likelihood is the same function
(0/1 rows carry no binomial constant). Their covariance comes from the same Hessian of the Laplace
log-likelihood in (θ, β, sd) that glmer uses for its standard errors (``use.hessian = TRUE``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import special
from scipy import stats as sps

from .clmm import clmm
from .common import is_constant

LEVEL = 0.95
INTERCEPT = "(Intercept)"


def _term(level: str) -> str:
    return f"condition[{level}]"


def _wald(b: np.ndarray, cov: np.ndarray, terms: list[str], names: list[str]) -> dict:
    """The joint Wald χ² = bᵀV⁻¹b of the named terms, df = their number."""
    idx = [names.index(t) for t in terms]
    sub_b, sub_v = b[idx], cov[np.ix_(idx, idx)]
    chi2 = float(sub_b @ np.linalg.solve(sub_v, sub_b))
    return {"terms": terms, "chi2": chi2, "df": len(idx), "p": float(sps.chi2.sf(chi2, len(idx)))}


def _empty(reason: str, n: int, conditions: list[str]) -> dict:
    return {
        "terms": None, "coefficients": None, "se": None, "z": None, "p": None, "cov": None,
        "odds_ratios": None, "probabilities": None, "wald": None, "lr": None, "random_sd": None,
        "loglik": None,
        "n_trials": n, "n_levels": None, "conditions": conditions, "reference": None, "moderators": [],
        "converged": False, "reason": reason,
    }


def mixed_logistic(correct: Sequence[bool], condition: Sequence[str],
                   factors: Mapping[str, Sequence[object]], *, conditions: Sequence[str] | None = None,
                   moderators: Mapping[str, Sequence[float | None]] | None = None,
                   level: float = LEVEL) -> dict:
    """Correctness (one entry per trial) on condition, with random intercepts for each of ``factors``
    (one or two, e.g. {"participant": ids, "stimulus": ids}; two are crossed), by the Laplace
    approximation. ``conditions`` orders the levels, the first the reference (default: sorted); levels
    without trials are left out (said in ``reason``). ``moderators`` (e.g. {"trace_correct": 0/1 per
    trial, "answer_correct": ...}) enter as main effects and in interaction with condition, each only
    where it varies and is known for every trial (otherwise left out, said in ``reason``); the
    interactions are dropped where a moderator does not vary within the conditions.

    Terms are named as R does with other labels: ``(Intercept)``, ``condition[b]`` (b against the
    reference), ``trace_correct``, ``condition[b]:trace_correct``. Returns ``terms`` (their order),
    ``coefficients``, ``se``, ``z`` and ``p`` (Wald, per term: R's summary), ``cov`` (their covariance, in
    term order), ``odds_ratios`` (per term but the intercept: exp(b) with the Wald interval exp(b ± z·se)
    as ``odds_ratio``, ``low``, ``high``), ``probabilities`` (per condition, the modelled probability of a
    right answer for a typical participant and stimulus, random intercepts 0 and any moderators 0, with
    the Wald interval of its logit mapped back: ``probability``, ``low``, ``high``), ``wald`` (joint χ²
    tests: ``condition``, every condition term, and ``condition:<moderator>`` per moderator), ``lr`` (the
    likelihood-ratio test of condition: the model refitted without any condition term, the same Laplace
    approximation, so the log-likelihoods compare; ``chi2``, ``df``, ``p``, ``loglik_without``),
    ``random_sd`` (per factor), ``loglik`` (as R's ``logLik``), ``n_trials``, ``n_levels`` (per factor),
    ``conditions``, ``reference``, ``moderators`` (those used), ``converged`` and ``reason`` (None, or in
    words what was left out, at a boundary or wrong).

    Refused (estimates None, ``reason`` saying why): fewer than two conditions with trials; a condition
    whose trials are all right or all wrong (its odds ratio is infinite: no finite estimate exists);
    a factor with a single level; a fit that fails (no standard errors, or no convergence)."""
    y = np.asarray(correct, dtype=bool)
    cond = np.asarray(condition, dtype=object)
    labels = {name: np.asarray(v, dtype=object) for name, v in factors.items()}
    mods = {name: list(v) for name, v in (moderators or {}).items()}
    if len(cond) != len(y) or any(len(v) != len(y) for v in [*labels.values(), *mods.values()]):
        raise ValueError("correct, condition, every factor and every moderator need one entry per trial")
    if len(labels) not in (1, 2):
        raise ValueError("one or two random factors")
    present = set(cond.tolist())
    order = list(conditions) if conditions is not None else sorted(present)
    notes = []
    absent = [c for c in order if c not in present]
    if absent:
        notes.append(f"conditions without trials left out: {', '.join(absent)}")
    order = [c for c in order if c in present]
    if present - set(order):
        raise ValueError(f"conditions not in the given order: {sorted(present - set(order))}")
    if len(order) < 2:
        return _empty("fewer than two conditions with trials: nothing to compare", len(y), order)
    for c in order:
        within = y[cond == c]
        if within.all() or not within.any():
            return _empty(f"every trial in condition {c} is {'right' if within.all() else 'wrong'}: its odds "
                          "ratio is infinite, so the model has no finite estimate", len(y), order)
    dummies = np.column_stack([(cond == c).astype(float) for c in order[1:]])
    columns, names = [dummies], [_term(c) for c in order[1:]]
    used = []
    for name, values in mods.items():
        if any(v is None for v in values):
            notes.append(f"moderator {name} left out: not known for every trial")
            continue
        m = np.asarray(values, dtype=float)
        if is_constant(m):
            notes.append(f"moderator {name} left out: it does not vary")
            continue
        used.append(name)
        columns.append(m[:, None])
        names.append(name)
    for name in used:
        m = np.asarray(mods[name], dtype=float)
        inter = dummies * m[:, None]
        if np.linalg.matrix_rank(np.column_stack([np.ones(len(y)), *columns, inter])) < (
                1 + sum(c.shape[1] for c in columns) + inter.shape[1]):
            notes.append(f"condition x {name} left out: {name} does not vary within every condition")
            continue
        columns.append(inter)
        names += [f"{_term(c)}:{name}" for c in order[1:]]
    design = np.column_stack(columns)
    codes = [np.unique(v.astype(str), return_inverse=True)[1] for v in labels.values()]
    n_levels = {name: int(c.max()) + 1 for name, c in zip(labels, codes, strict=True)}
    if min(n_levels.values()) < 2:
        return _empty("a random factor needs at least two levels", len(y), order) | {"n_levels": n_levels}
    fit = clmm(y.astype(int), design, codes)
    out = _empty("", len(y), order) | {"n_levels": n_levels, "reference": order[0], "moderators": used}
    if fit["fixed_cov"] is None or not fit["converged"]:
        out["reason"] = "; ".join([*notes, f"the model could not be fitted: {fit['reason']}"])
        return out
    terms = [INTERCEPT, *names]
    b = np.array([-fit["thresholds"][0], *fit["coefficients"]])
    flip = np.ones(len(b))
    flip[0] = -1
    cov = np.array(fit["fixed_cov"]) * np.outer(flip, flip)  # cov(-θ, β) = -cov(θ, β)
    se = np.sqrt(np.diag(cov))
    z = b / se
    q = sps.norm.ppf(0.5 + level / 2)
    condition_terms = [t for t in names if t.startswith("condition[")]
    wald = {"condition": _wald(b, cov, condition_terms, terms)}
    for name in used:
        inter = [t for t in names if t.endswith(f":{name}")]
        if inter:
            wald[f"condition:{name}"] = _wald(b, cov, inter, terms)
    probabilities = {}
    for c in order:  # L b on the logit scale, its variance L cov Lᵀ, the interval mapped back
        contrast = np.array([1.0] + [float(t == _term(c)) for t in names])
        eta, half = contrast @ b, q * np.sqrt(contrast @ cov @ contrast)
        probabilities[c] = dict(zip(("probability", "low", "high"),
                                    special.expit([eta, eta - half, eta + half]).tolist(), strict=True))
    keep = [i for i, t in enumerate(names) if not t.startswith("condition[")]
    null = clmm(y.astype(int), design[:, keep], codes)
    if null["loglik"] is None or not null["converged"]:
        lr = {"chi2": None, "df": len(condition_terms), "p": None, "loglik_without": None,
              "reason": f"the model without condition could not be fitted: {null['reason']}"}
    else:
        chi2 = max(0.0, 2 * (fit["loglik"] - null["loglik"]))
        lr = {"chi2": chi2, "df": len(condition_terms), "p": float(sps.chi2.sf(chi2, len(condition_terms))),
              "loglik_without": null["loglik"], "reason": None}
    out.update(
        terms=terms,
        coefficients=dict(zip(terms, b.tolist(), strict=True)),
        se=dict(zip(terms, se.tolist(), strict=True)),
        z=dict(zip(terms, z.tolist(), strict=True)),
        p=dict(zip(terms, (2 * sps.norm.sf(np.abs(z))).tolist(), strict=True)),
        cov=cov.tolist(),
        odds_ratios={t: {"odds_ratio": float(np.exp(b[i])), "low": float(np.exp(b[i] - q * se[i])),
                         "high": float(np.exp(b[i] + q * se[i]))} for i, t in enumerate(terms) if i},
        wald=wald, lr=lr, probabilities=probabilities,
        random_sd=dict(zip(labels, fit["sds"], strict=True)),
        loglik=fit["loglik"], converged=True,
        reason="; ".join([*notes, *([fit["reason"]] if fit["reason"] else [])]) or None,
    )
    return out

