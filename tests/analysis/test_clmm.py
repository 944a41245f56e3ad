"""analysis.stats.clmm: the cumulative link mixed model against R's ordinal::clmm, its crossed-factor path
against a dense computation and a known truth; pure, no database.
"""

import numpy as np
import pytest
from scipy import optimize, special

from analysis.stats.clmm import _collapsed, _Laplace, clmm
from analysis.stats.ordinal import cumulative_logit

approx = pytest.approx

# Randall (1989), the `wine` data of R's ordinal package: bitterness of wine rated 1-5 by 9 judges, one
# line per judge, its 8 ratings in the (temp, contact, bottle) cells cold/no/1, cold/no/2, cold/yes/3,
# cold/yes/4, warm/no/5, warm/no/6, warm/yes/7, warm/yes/8.
WINE = """
2 3 3 4 4 4 5 5
1 2 1 3 2 3 5 4
2 3 3 2 5 5 4 4
3 2 3 2 3 2 5 3
2 3 4 3 3 3 3 3
3 2 3 2 2 4 5 4
1 1 2 2 2 3 2 3
2 2 2 3 3 3 3 4
1 2 3 2 3 2 4 4
"""
RATING = np.array(WINE.split(), dtype=int) - 1  # category index 0..4
JUDGE = np.repeat(np.arange(1, 10), 8)
TEMP_CONTACT = np.column_stack([np.tile([0, 0, 0, 0, 1, 1, 1, 1], 9), np.tile([0, 0, 1, 1, 0, 0, 1, 1], 9)])


def test_clmm_matches_ordinal_clmm_on_the_wine_data():
    # R: ordinal::clmm(rating ~ temp + contact + (1|judge), data = wine) (logit link, Laplace), values as
    # published by heliopais/interlace, tests/fixtures/gen_clmm_parity.R -> clmm_parity_r_results.json.
    # Matched: estimates, variance, modes and logLik within ~2e-5, SEs within ~5e-5 (relative).
    res = clmm(RATING, TEMP_CONTACT, [JUDGE])
    assert res["converged"] and res["reason"] is None and res["n"] == 72 and res["levels"] == [9]
    r_thresholds = [-1.623666651506, 1.513364981657, 4.228526388732, 6.088772210815]
    assert res["thresholds"] == approx(r_thresholds, abs=1e-4)
    assert res["coefficients"] == approx([3.06299629632, 1.834884759862], abs=1e-4)
    assert res["variances"][0] == approx(1.279460597395, abs=1e-4)
    assert res["sds"][0] == approx(1.131132440254, abs=1e-4)
    assert res["loglik"] == approx(-81.565409292122, abs=1e-4)
    r_modes = [1.696178041368, -0.5657829459234, 0.9688082141098, -0.0595498506255, 0.2305101105387,
               0.477038617449, -1.910973103986, -0.2729437722026, -0.5546756358284]  # ranef(): b = sd·u
    assert res["modes"][0] == approx(r_modes, abs=1e-4)
    assert res["threshold_se"] == approx([0.6824434183888, 0.6037581853038, 0.8089739473663, 0.9724619924552],
                                         rel=1e-3)
    assert res["coefficient_se"] == approx([0.5953799255449, 0.5125316439652], rel=1e-3)
    assert np.sqrt(np.diag(res["coefficient_cov"])) == approx(res["coefficient_se"], rel=1e-12)


def test_clmm_without_between_cluster_variation_is_the_fixed_effects_model():
    # Four identical copies of the wine ratings, the copy as the random factor: the copies differ by
    # nothing, so the variance is at its boundary, 0, and θ, β, the SEs and logLik are those of
    # cumulative_logit on the same rows.
    y, x, copy = np.tile(RATING, 4), np.tile(TEMP_CONTACT, (4, 1)), np.repeat(np.arange(4), 72)
    res = clmm(y, x, [copy])
    fixed = cumulative_logit(x, y, np.ones(len(y)))
    assert res["sds"] == [0.0] and res["variances"] == [0.0] and "boundary" in res["reason"]
    assert res["converged"] and res["modes"] == [[0.0] * 4]
    assert res["thresholds"] == approx(fixed["thresholds"], abs=1e-5)
    assert res["coefficients"] == approx(fixed["coefficients"], abs=1e-5)
    assert res["threshold_se"] + res["coefficient_se"] == approx(
        fixed["threshold_se"] + fixed["coefficient_se"], rel=1e-5)
    assert res["loglik"] == approx(fixed["loglik"], abs=1e-6)


def test_clmm_weights_are_counts():
    twice = clmm(RATING, TEMP_CONTACT, [JUDGE], weights=np.full(72, 2.0))
    doubled = clmm(np.tile(RATING, 2), np.tile(TEMP_CONTACT, (2, 1)), [np.tile(JUDGE, 2)])
    for key in ("thresholds", "coefficients", "sds", "coefficient_se"):
        assert twice[key] == approx(doubled[key], abs=1e-5)
    assert twice["loglik"] == approx(doubled["loglik"], abs=1e-6)


def _dense_laplace(params, y, x, a):
    """The Laplace log-likelihood the plain way, for comparison: û by BFGS, W by second differences of
    each response's log P, log det of the dense q x q matrix I + AᵀWA."""
    k1 = int(y.max())
    cuts, beta = np.concatenate([[-np.inf], params[:k1], [np.inf]]), params[k1:k1 + x.shape[1]]

    def logp(eta):
        return np.log(special.expit(cuts[y + 1] - eta) - special.expit(cuts[y] - eta))

    def neg(u):
        eta = x @ beta + a @ u
        up, lo = cuts[y + 1] - eta, cuts[y] - eta
        dens = special.expit(up) * special.expit(-up) - special.expit(lo) * special.expit(-lo)
        return -(logp(eta).sum() - u @ u / 2), -(a.T @ (-dens / np.exp(logp(eta))) - u)

    u = optimize.minimize(neg, np.zeros(a.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-11}).x
    eta, h = x @ beta + a @ u, 1e-4
    w = -(logp(eta + h) - 2 * logp(eta) + logp(eta - h)) / h**2
    return logp(eta).sum() - u @ u / 2 - np.linalg.slogdet(np.eye(a.shape[1]) + a.T @ (w[:, None] * a))[1] / 2


def test_crossed_laplace_matches_a_dense_computation_and_its_gradient_its_differences():
    # The Schur-complement path (12 participants crossed with 5 stimuli) against the dense q x q
    # computation, and the analytic gradient in (θ, β, sd) against central differences of L.
    rng = np.random.default_rng(3)
    part, stim = np.repeat(np.arange(12), 5), np.tile(np.arange(5), 12)
    x = np.column_stack([part % 2, rng.standard_normal(60)]).astype(float)
    y = np.searchsorted([-1.0, 0.0, 1.2], x @ [0.5, 0.7] + rng.normal(0, 1, 12)[part]
                        + rng.normal(0, 0.7, 5)[stim] + rng.logistic(size=60))
    params = np.array([-0.9, 0.1, 1.3, 0.4, 0.6, 1.1, 0.8])  # θ (3), β (2), sd (participant, stimulus)
    model = _Laplace(x, y, np.ones(60), [part, stim], [12, 5])
    loglik, grad = model(params)
    a = np.hstack([params[5] * np.eye(12)[part], params[6] * np.eye(5)[stim]])
    assert loglik == approx(_dense_laplace(params, y, x, a), abs=1e-6)
    step = 1e-5
    numeric = [(model(params + e)[0] - model(params - e)[0]) / (2 * step) for e in step * np.eye(7)]
    assert grad == approx(numeric, rel=1e-6, abs=1e-6)


def test_crossed_factors_recover_a_known_truth():
    # 100 participants (4 conditions between them) crossed with 16 stimuli, one answer each, and a
    # response-level covariate; SD 1 between participants, 0.5 between stimuli. Each coefficient and
    # threshold within 3 SEs of its true value; the SDs within sensible bounds for 100 and 16 levels.
    rng = np.random.default_rng(1)
    part, stim = np.repeat(np.arange(100), 16), np.tile(np.arange(16), 100)
    x = np.column_stack([np.eye(4)[part % 4][:, 1:], rng.standard_normal(1600)])
    beta, theta = np.array([0.5, -0.5, 1.0, 0.8]), np.array([-2.0, -0.7, 0.7, 2.0])
    eta = x @ beta + rng.normal(0, 1.0, 100)[part] + rng.normal(0, 0.5, 16)[stim]
    y = np.searchsorted(theta, eta + rng.logistic(size=1600))
    res = clmm(y, x, [part, stim])
    assert res["converged"] and res["reason"] is None and res["levels"] == [100, 16]
    assert np.all(np.abs(np.array(res["coefficients"]) - beta) < 3 * np.array(res["coefficient_se"]))
    assert np.all(np.abs(np.array(res["thresholds"]) - theta) < 3 * np.array(res["threshold_se"]))
    assert 0.75 < res["sds"][0] < 1.3 and 0.25 < res["sds"][1] < 0.85
    # the order of the factors does not matter
    swapped = clmm(y, x, [stim, part])
    assert swapped["sds"] == approx(res["sds"][::-1], abs=1e-4)
    assert swapped["coefficients"] == approx(res["coefficients"], abs=1e-4)


def test_a_second_factor_at_zero_variance_gives_the_one_factor_fit():
    # The wine ratings four times over, the copy a second factor crossed with judge: the copies carry
    # no variation, so its variance is 0 and the fit is the one-factor fit on the same rows.
    y, x, judge = np.tile(RATING, 4), np.tile(TEMP_CONTACT, (4, 1)), np.tile(JUDGE, 4)
    two = clmm(y, x, [judge, np.repeat(np.arange(4), 72)])
    one = clmm(y, x, [judge])
    assert two["sds"][1] == 0 and "factor 2" in two["reason"] and two["converged"]
    for key in ("thresholds", "coefficients", "threshold_se", "coefficient_se"):
        assert two[key] == approx(one[key], abs=1e-5)
    assert two["sds"][0] == approx(one["sds"][0], abs=1e-5)
    assert two["loglik"] == approx(one["loglik"], abs=1e-8)
    assert two["modes"][0] == approx(one["modes"][0], abs=1e-5)


def test_clmm_degenerate_and_malformed_input():
    res = clmm([2, 2, 2, 2], np.zeros((4, 1)), [[1, 1, 2, 2]])
    assert res["thresholds"] is None and res["reason"].startswith("no variance")
    res = clmm([0, 1, 2, 1], np.zeros((4, 0)), [[7, 7, 7, 7]])
    assert res["sds"] is None and "two levels" in res["reason"]
    res = clmm(RATING, np.ones((72, 1)), [JUDGE])  # a column collinear with the thresholds
    assert res["coefficient_se"] is None and res["coefficient_cov"] is None and "singular" in res["reason"]
    warm = TEMP_CONTACT[:, 0] == 1
    res = clmm(np.where(warm, 4, RATING), TEMP_CONTACT, [JUDGE])  # every warm wine rated 5: separation
    assert res["coefficients"][0] > 15 and "unstable" in res["reason"]
    with pytest.raises(ValueError):
        clmm([0, 2, 2], np.zeros((3, 1)), [[1, 2, 3]])  # category 1 unused
    with pytest.raises(ValueError):
        clmm([0, 1, 1], np.zeros(3), [[1, 2, 3]])  # design not n x p
    with pytest.raises(ValueError):
        clmm([0, 1, 1], np.zeros((3, 1)), [[1, 2, 3], [1, 2, 3], [1, 1, 2]])  # three factors


def test_the_null_models_response_scores_are_the_score_of_a_left_out_covariate():
    # The permutation test of condition sums the model-without-condition's response scores per
    # participant: each condition's sum must be the derivative of the Laplace log-likelihood in that
    # condition's coefficient at 0, the other parameters at the null fit; checked by central
    # differences of L with the condition column added.
    rng = np.random.default_rng(4)
    part, stim = np.repeat(np.arange(24), 5), np.tile(np.arange(5), 24)
    y = np.searchsorted([-1.0, 0.0, 1.2], rng.normal(0, 1, 24)[part] + rng.normal(0, 0.5, 5)[stim]
                        + 0.8 * (part % 3 == 2) + rng.logistic(size=120))
    null = clmm(y, np.zeros((120, 0)), [part, stim], standard_errors=False)
    assert null["coefficient_se"] is None and null["converged"] and len(null["response_scores"]) == 120
    x = (part % 3 == 2).astype(float)[:, None]
    model = _Laplace(x, y, np.ones(120), [part, stim], [24, 5])
    at = np.array([*null["thresholds"], 0.0, *null["sds"]])
    step = 1e-5 * np.eye(len(at))[3]
    numeric = (model(at + step)[0] - model(at - step)[0]) / 2e-5
    assert x[:, 0] @ null["response_scores"] == approx(numeric, rel=1e-5)
    assert null["response_scores"].sum() == approx(0, abs=1e-4)  # the thresholds are at their maximum


@pytest.mark.parametrize("levels", [50, 2**40])
def test_alike_responses_merge_into_the_kinds_that_unique_rows_give(levels):
    """_collapsed codes each row as one integer where the digits fit in 62 bits (else compares the rows):
    either way the kinds, their first rows and their order are np.unique's over the rows."""
    rng = np.random.default_rng(3)
    n = 5000
    y, people, stimuli = rng.integers(0, 5, n), rng.integers(0, levels, n), rng.integers(0, 6, n)
    design = np.column_stack([rng.integers(0, 2, n) * 0.5, rng.normal(size=n).round(1)])
    rows, weights, kind = _collapsed(y, design, [people, stimuli], np.full(n, 2.0))
    _, expected_rows, expected_kind = np.unique(np.column_stack([y, people, stimuli, design]), axis=0,
                                                return_index=True, return_inverse=True)
    assert np.array_equal(rows, expected_rows) and np.array_equal(kind, expected_kind.ravel())
    assert np.array_equal(weights, 2.0 * np.bincount(kind))
