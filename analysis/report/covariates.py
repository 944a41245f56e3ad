"""The covariate scales' sensitivity analysis: each primary outcome's ordinal mixed model again, with
the participants' covariate scores (the library scales of studyapp.scales among the study's end-of-study
items) as fixed effects beside condition, on the participants who have every score. A covariate is
standardised (per SD, over those participants), so its coefficient reads as the log-odds of a higher
answer per SD of the score. The planned tests stay the primary analysis; this shows whether the condition
effects hold with individual differences in, say, need for cognition or trust in automation held fixed."""

from __future__ import annotations

import numpy as np
import scipy.stats as sps

from studyapp.scales import participant_scores, scales_in

from .. import stats as st
from .outcome import MIXED_MAX_ANSWERS
from .scores import Outcome
from .words import fmt_p, not_computed, num, words_wald


def scale_scores(
    participants: list, end_item_codes: list[str]
) -> tuple[list[str], dict[int, list[float]]]:
    """The study's covariate score codes, and per participant who has all of them their scores in that
    order (a participant who left an item of a scale out has no score on it and is left out)."""
    names = [score.code for scale in scales_in(end_item_codes) for score in scale.scores]
    complete = {}
    for person in participants:
        answers = {code: value for (stimulus, code), value in person.answers.items() if stimulus is None}
        found = participant_scores(answers, end_item_codes)
        if names and all(found.get(name) is not None for name in names):
            complete[person.pk] = [found[name] for name in names]
    return names, complete


def adjusted_model(
    outcome: Outcome, codes: list[str], names: list[str], scores: dict[int, list[float]]
) -> dict:
    """The outcome's cumulative link mixed model (random intercepts for participants and stimuli) on
    condition and the standardised covariate scores, on the participants with every score."""
    out: dict = {"key": outcome.key, "label": outcome.label, "fitted": False, "reason": None, "terms": []}
    rows = [r for r in outcome.rows if r[1] in scores]
    people_in = {c: {r[1] for r in rows if r[0] == c} for c in codes}
    present = [c for c in codes if len(people_in[c]) >= 2]
    rows = [r for r in rows if r[0] in present]
    if len(present) < 2:
        out["reason"] = "fewer than two conditions with at least two participants who have every score"
        return out
    if len(rows) > MIXED_MAX_ANSWERS:
        out["reason"] = f"{len(rows):,} answers, over the {MIXED_MAX_ANSWERS:,} the report fits"
        return out
    values = np.array([r[3] for r in rows])
    if len(np.unique(values)) < 2:
        out["reason"] = "no variance: every answer is the same"
        return out
    covariates = np.array([scores[r[1]] for r in rows], dtype=float)
    spread = np.array([np.std([scores[p][k] for p in {r[1] for r in rows}]) for k in range(len(names))])
    if np.any(spread == 0):
        out["reason"] = "a covariate score is the same for everyone analysed"
        return out
    covariates = (covariates - covariates.mean(axis=0)) / spread
    condition = np.array([present.index(r[0]) for r in rows])
    design = np.hstack([np.eye(len(present))[condition][:, 1:], covariates])
    factors = [np.unique([r[1] for r in rows], return_inverse=True)[1],
               np.unique([r[2] for r in rows], return_inverse=True)[1]]
    fit = st.clmm(np.unique(values, return_inverse=True)[1], design, factors)
    out.update(n=len(rows), participants=len({r[1] for r in rows}), reference=present[0],
               reason=fit["reason"])
    if fit.get("coefficient_cov") is None:
        out["reason"] = fit["reason"] or "the model could not be fitted"
        return out
    beta, cov = np.asarray(fit["coefficients"]), np.asarray(fit["coefficient_cov"])
    k = len(present) - 1
    try:
        wald = float(beta[:k] @ np.linalg.solve(cov[:k, :k], beta[:k]))
    except np.linalg.LinAlgError:
        out["reason"] = "the coefficients' covariance is singular"
        return out
    labels = [f"{c} vs {present[0]}" for c in present[1:]] + [f"{name} (per SD)" for name in names]
    for label, b, variance in zip(labels, beta, np.diag(cov), strict=True):
        se = float(np.sqrt(variance)) if variance > 0 else None
        p = float(2 * sps.norm.sf(abs(b) / se)) if se else None
        words = f"log-odds {num(float(b))}, SE {num(se)}, {fmt_p(p)}" if se else not_computed("no SE")
        out["terms"].append({"term": label, "log_odds": float(b), "se": se, "p": p, "words": words})
    out.update(fitted=True, wald_chi2=wald, df=k, p=float(sps.chi2.sf(wald, k)))
    out["words"] = f"condition, adjusted: {words_wald(out)}"
    return out


def adjusted_models(sample, items: list, codes: list[str], keys: list[str]) -> dict | None:
    """Per primary outcome (``keys``), the model adjusted for the study's covariate scores; None where the
    study has no library scale among its end-of-study items."""
    end_codes = [item.code for item in items if item.scope == "end"]
    names, scores = scale_scores(sample.kept, end_codes)
    if not names:
        return None
    return {
        "covariates": names, "participants": len(scores),
        "outcomes": [adjusted_model(sample.outcomes[key], codes, names, scores) for key in keys],
    }
