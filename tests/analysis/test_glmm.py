"""analysis.stats.glmm: the mixed logistic regression against R's lme4::glmer on the cbpp data, and with
crossed participants and stimuli against a known truth and under the null by simulation; pure, no database."""

from pathlib import Path

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps

from analysis.stats.glmm import mixed_logistic
from analysis.stats.ordinal import cumulative_logit

approx = pytest.approx
CBPP = np.loadtxt(Path(__file__).parent / "data" / "cbpp.csv", delimiter=",", skiprows=1, dtype=int)


def _cbpp_trials():
    """cbpp's binomial counts as one 0/1 row per animal and period (842 rows), as glmer's cbind(incidence,
    size - incidence) sees them; and the log of the binomial coefficients that glmer's logLik adds."""
    herd, incidence, size, period = CBPP.T
    rows = np.repeat(np.arange(len(CBPP)), size)
    sick = np.concatenate([np.arange(n) < k for k, n in zip(incidence, size, strict=True)])
    constant = np.sum(special.gammaln(size + 1) - special.gammaln(incidence + 1)
                      - special.gammaln(size - incidence + 1))
    return sick, period[rows].astype(str), herd[rows], constant


def test_mixed_logistic_matches_glmer_on_cbpp():
    # R: glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp)
    # (Laplace, nAGQ = 1). Reference values of lme4 1.1.38 run with tolPwrss = 1e-13, frozen by
    # pawlenartowicz/glmm in validation/goldens/cbpp_agq_k1.json (commit
    # ab5e2b8e5393e39734c686555a41aac41d803e21): fixed effects, SEs from the Hessian (glmer's default
    # vcov), herd SD and logLik, matched to 1e-4, 1e-5, 1e-4 and 1e-5 (found: 2e-5, 2e-6, 1e-5, 1e-7).
    sick, period, herd, constant = _cbpp_trials()
    res = mixed_logistic(sick, period, {"herd": herd})
    assert res["converged"] and res["reason"] is None
    assert res["n_trials"] == 842 and res["n_levels"] == {"herd": 15}
    assert res["terms"] == ["(Intercept)", "condition[2]", "condition[3]", "condition[4]"]
    assert list(res["coefficients"].values()) == approx(
        [-1.39853204368263, -0.992315880328946, -1.12866414695346, -1.58031559790095], abs=1e-4)
    assert list(res["se"].values()) == approx(
        [0.232473254781808, 0.306641326429934, 0.326637242566145, 0.427437244644503], abs=1e-5)
    assert res["random_sd"]["herd"] == approx(0.642269888687578, abs=1e-4)
    assert res["loglik"] + constant == approx(-92.0262818745091, abs=1e-5)  # 0/1 rows: no binomial constant
    # lme4's help page for glmer (default tolerances) prints (Intercept) -1.3983, period2 -0.9919, period3
    # -1.1282, period4 -1.5797, SEs 0.2312 0.3032 0.3228 0.4220, herd SD 0.6421, logLik -92.0: its estimates
    # agree to 1e-3 (6e-4 found), its SEs only to 1.5% (1.3% found): lme4 takes its Hessian by
    # finite differences of a deviance computed at its default PIRLS tolerance (1e-7), whose noise the
    # differences amplify; with tolPwrss = 1e-13 (the run above) lme4's SEs agree with these to 1e-5.
    assert list(res["coefficients"].values()) == approx([-1.3983, -0.9919, -1.1282, -1.5797], abs=1e-3)
    assert list(res["se"].values()) == approx([0.2312, 0.3032, 0.3228, 0.4220], rel=0.015)
    # Wald z and p as summary() computes them, odds ratios with Wald intervals
    b, se = res["coefficients"]["condition[2]"], res["se"]["condition[2]"]
    assert res["z"]["condition[2]"] == approx(b / se)
    assert res["p"]["condition[2]"] == approx(2 * sps.norm.sf(abs(b / se)))
    ratio = res["odds_ratios"]["condition[2]"]
    assert ratio["odds_ratio"] == approx(np.exp(b))
    assert [ratio["low"], ratio["high"]] == approx(np.exp([b - 1.959964 * se, b + 1.959964 * se]), rel=1e-6)
    assert "(Intercept)" not in res["odds_ratios"]
    # The modelled probability per condition for a typical herd: expit of the intercept (plus the effect)
    b0, se0 = res["coefficients"]["(Intercept)"], res["se"]["(Intercept)"]
    first = res["probabilities"]["1"]
    assert list(first.values()) == approx(special.expit([b0, b0 - 1.959964 * se0, b0 + 1.959964 * se0]),
                                          rel=1e-6)
    assert res["probabilities"]["2"]["probability"] == approx(special.expit(b0 + b))
    # The joint Wald test uses the coefficients' covariance; its diagonal gives the SEs
    cov = np.array(res["cov"])
    assert np.sqrt(np.diag(cov)) == approx(list(res["se"].values()), rel=1e-12)
    beta = np.array(list(res["coefficients"].values())[1:])
    wald = res["wald"]["condition"]
    assert wald["df"] == 3 and wald["chi2"] == approx(beta @ np.linalg.solve(cov[1:, 1:], beta))
    # Likelihood-ratio test against glmer(... ~ 1 + (1 | herd)): both Laplace log-likelihoods of the same rows
    lr = res["lr"]
    assert lr["df"] == 3 and lr["chi2"] == approx(2 * (res["loglik"] - lr["loglik_without"]))
    assert lr["p"] < 1e-4 and wald["p"] < 1e-4  # period matters, by both tests


def _study(rng, n_part=40, trials=10, n_stim=20, beta=(0.0, 0.0, 0.0, 0.0), intercept=0.5, sd_part=1.0,
           sd_stim=0.5):
    """A between-participants study of 4 conditions (a-d, participant i in condition i mod 4), each
    participant answering `trials` of `n_stim` stimuli; correct with logit probability intercept +
    beta[condition] + a participant's and a stimulus's random intercept."""
    part = np.repeat(np.arange(n_part), trials)
    cond = part % 4
    stim = np.concatenate([rng.choice(n_stim, trials, replace=False) for _ in range(n_part)])
    eta = (intercept + np.asarray(beta)[cond] + rng.normal(0, sd_part, n_part)[part]
           + rng.normal(0, sd_stim, n_stim)[stim])
    return rng.random(len(eta)) < special.expit(eta), np.array(list("abcd"))[cond], part, stim


def test_crossed_random_intercepts_recover_a_known_truth():
    # 25 studies of 60 participants x 20 trials of 40 stimuli, condition effects 0.6, -0.4, 1.0 on the logit
    # scale. The 95% Wald intervals of the three effects must cover the truth in a number of the 75 cases
    # within the central 99.9% of Binomial(75, .95) (64-75), the estimates' mean lie within 3 standard errors
    # of that mean of the truth, and the SEs agree with the estimates' spread across studies within 35%.
    # Seed 7: 70 covered; mean estimates 0.43, -0.36, 0.94, mean SEs 0.40-0.41, their spread 0.43-0.48.
    rng, reps, truth = np.random.default_rng(7), 25, np.array([0.6, -0.4, 1.0])
    estimates, ses, covered = [], [], 0
    for _ in range(reps):
        y, cond, part, stim = _study(rng, n_part=60, trials=20, n_stim=40, beta=(0.0, *truth))
        res = mixed_logistic(y, cond, {"participant": part, "stimulus": stim})
        assert res["converged"], res["reason"]
        b = np.array([res["coefficients"][f"condition[{c}]"] for c in "bcd"])
        s = np.array([res["se"][f"condition[{c}]"] for c in "bcd"])
        estimates.append(b)
        ses.append(s)
        covered += int(np.sum(np.abs(b - truth) < 1.959964 * s))
    estimates, ses = np.array(estimates), np.array(ses)
    low, _ = sps.binom.interval(0.999, 3 * reps, 0.95)
    assert covered >= low, covered
    assert np.all(np.abs(estimates.mean(axis=0) - truth) < 3 * ses.mean(axis=0) / np.sqrt(reps))
    assert ses.mean(axis=0) == approx(estimates.std(axis=0, ddof=1), rel=0.35)


@pytest.mark.slow
def test_wald_and_likelihood_ratio_tests_keep_their_false_positive_rate():
    # 150 null studies (32 participants x 8 trials, 16 stimuli, no condition effect, participant SD 1,
    # stimulus SD 0.5): the joint Wald and the LR test of condition (3 df) must each reject at .05 a number of
    # times within the central 99.9% of Binomial(150, .05), 1-18; the same trials taken as independent (a
    # plain logistic regression's LR test) count a participant's 8 correlated trials as 8 people's and must
    # reject over 15% of the time. Seed 11 gives 16 (Wald), 14 (LR) and 41 (27%). Longer runs (another seed)
    # gave 9.0% and 7.8% of 400 such studies, and 7.3% and 6.7% of 300 studies of 80 participants x 10
    # trials: somewhat liberal with few participants per condition, as Wald and LR tests of GLMMs are.
    # 10-20 s on two shared cores.
    rng, reps = np.random.default_rng(11), 150
    low, high = sps.binom.interval(0.999, reps, 0.05)
    wald = lr = naive = 0
    for _ in range(reps):
        y, cond, part, stim = _study(rng, n_part=32, trials=8, n_stim=16)
        res = mixed_logistic(y, cond, {"participant": part, "stimulus": stim})
        wald += res["wald"]["condition"]["p"] < 0.05
        lr += res["lr"]["p"] < 0.05
        x = np.column_stack([cond == c for c in "bcd"]).astype(float)
        counts = np.bincount(y.astype(int))
        fixed = cumulative_logit(x, y.astype(int), np.ones(len(y)))["loglik"]
        chi2 = 2 * (fixed - counts @ np.log(counts / len(y)))
        naive += sps.chi2.sf(chi2, 3) < 0.05
    assert low <= wald <= high and low <= lr <= high, (wald, lr, naive)
    assert naive > 0.15 * reps, (wald, lr, naive)


def test_moderators_enter_with_their_interactions_where_they_vary():
    rng = np.random.default_rng(3)
    y, cond, part, stim = _study(rng, n_part=80, trials=10, n_stim=20)
    trace = (stim % 2).astype(float)  # a property of the stimulus
    answer = (stim // 2 % 2).astype(float)
    res = mixed_logistic(y, cond, {"participant": part, "stimulus": stim},
                         moderators={"trace_correct": trace, "answer_correct": answer,
                                     "unknown": [None] + [1.0] * (len(y) - 1), "constant": np.ones(len(y))})
    assert res["converged"] and res["moderators"] == ["trace_correct", "answer_correct"]
    assert res["terms"] == ["(Intercept)", "condition[b]", "condition[c]", "condition[d]", "trace_correct",
                            "answer_correct", "condition[b]:trace_correct", "condition[c]:trace_correct",
                            "condition[d]:trace_correct", "condition[b]:answer_correct",
                            "condition[c]:answer_correct", "condition[d]:answer_correct"]
    assert set(res["wald"]) == {"condition", "condition:trace_correct", "condition:answer_correct"}
    assert res["wald"]["condition"]["df"] == 9 and res["lr"]["df"] == 9  # every term with condition in it
    assert "unknown left out: not known for every trial" in res["reason"]
    assert "constant left out: it does not vary" in res["reason"]
    # A moderator that never varies within condition a: its interactions cannot be estimated, so they are
    # left out and its main effect kept
    within = np.where(cond == "a", 1.0, trace)
    res = mixed_logistic(y, cond, {"participant": part, "stimulus": stim},
                         moderators={"trace_correct": within})
    assert "condition[b]:trace_correct" not in res["terms"] and "trace_correct" in res["terms"]
    assert "does not vary within every condition" in res["reason"]


def test_mixed_logistic_refuses_what_it_cannot_estimate():
    rng = np.random.default_rng(5)
    y, cond, part, stim = _study(rng)
    factors = {"participant": part, "stimulus": stim}
    res = mixed_logistic(y, np.full(len(y), "a"), factors)
    assert res["coefficients"] is None and "fewer than two conditions" in res["reason"]
    perfect = np.where(cond == "b", True, y)
    res = mixed_logistic(perfect, cond, factors)
    assert res["coefficients"] is None and "every trial in condition b is right" in res["reason"]
    res = mixed_logistic(y, cond, {"participant": part, "stimulus": np.zeros(len(y))})
    assert res["coefficients"] is None and "two levels" in res["reason"]
    res = mixed_logistic(y, cond, factors, conditions=["d", "c", "b", "a", "e"])
    assert res["reference"] == "d" and "without trials left out: e" in res["reason"]
    assert res["terms"][1:] == ["condition[c]", "condition[b]", "condition[a]"]
    with pytest.raises(ValueError):
        mixed_logistic(y, cond, factors, conditions=["a", "b"])  # c and d not in the order given
    with pytest.raises(ValueError):
        mixed_logistic(y[:-1], cond, factors)
