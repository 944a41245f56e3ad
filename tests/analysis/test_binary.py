"""analysis.stats.binary: accuracy and its Wilson interval, signal detection, calibration, response times and
the rating-accuracy correlation, against published values; pure, no database."""

import numpy as np
import pytest

from analysis.stats.binary import (
    accuracy,
    behaviour,
    calibration,
    confidence_probability,
    correlation,
    median_rt,
    signal_detection,
    wilson,
)

approx = pytest.approx


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_newcombe_1998(k, n, low, high):
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (score interval without
    # continuity correction), examples (a)-(d), to the 4 decimals printed there.
    res = wilson(k, n)
    assert res["proportion"] == approx(k / n) and res["reason"] is None
    assert res["low"] == approx(low, abs=5e-5) and res["high"] == approx(high, abs=5e-5)


def test_accuracy_and_no_trials():
    res = accuracy([True] * 81 + [False] * 182)
    assert res["n_trials"] == 263 and res["n_correct"] == 81 and res["accuracy"] == approx(81 / 263)
    assert res["accuracy_ci"] == approx([0.2553, 0.3662], abs=5e-5)
    res = accuracy([])
    assert res["accuracy"] is None and res["accuracy_ci"] is None and res["reason"] == "no trials"


def _verification(hits, signal, fas, noise, who="p"):
    """Trials of one participant: `signal` right answers of which `hits` accepted, `noise` wrong ones of which
    `fas` accepted."""
    yes = [True] * hits + [False] * (signal - hits) + [True] * fas + [False] * (noise - fas)
    right = [True] * signal + [False] * noise
    return yes, right, [who] * (signal + noise)


def test_d_prime_with_the_loglinear_correction_matches_stanislaw_and_todorov():
    # All 4 right answers accepted, none of 4 wrong ones: log-linear rates (4 + .5)/(4 + 1) = .9 and
    # (0 + .5)/5 = .1 (Hautus 1995), where Stanislaw & Todorov (1999, Behav. Res. Methods Instrum.
    # Comput. 31:137-149) give d' = z(.9) - z(.1) = 2.563 (1.2816 + 1.2816) and c = 0. Uncorrected, the
    # rates 1 and 0 would give d' = infinity.
    res = signal_detection(*_verification(4, 4, 0, 4))
    assert res["hit_rate"] == 1.0 and res["false_alarm_rate"] == 0.0  # the plain shares
    assert res["d_prime"] == approx(2.5631, abs=1e-4) and res["criterion"] == approx(0.0, abs=1e-12)
    assert res["d_prime_pooled"] == approx(2.5631, abs=1e-4)
    assert res["n_participants"] == 1 and res["d_prime_ci"] is None and "one participant" in res["reason"]
    # 8 of 9 right answers accepted, 2 of 9 wrong ones: rates 8.5/10 = .85 and 2.5/10 = .25; with the
    # standard normal table's z(.85) = 1.0364 and z(.25) = -0.6745, d' = 1.7109 and c = -(1.0364 -
    # 0.6745)/2 = -0.1810 (Stanislaw & Todorov's eqs. 1 and 7): negative c, inclined to accept.
    res = signal_detection(*_verification(8, 9, 2, 9))
    assert res["d_prime"] == approx(1.7109, abs=1e-4) and res["criterion"] == approx(-0.1810, abs=1e-4)


def test_d_prime_is_the_mean_over_participants_and_pooled_apart():
    # Two participants equally sensitive (d' 1.7109) with opposite criteria: the mean of their d' is their
    # d', with an interval of no width; the pooled d' takes all trials as one participant's.
    a = _verification(8, 9, 2, 9, "a")
    b = _verification(7, 9, 1, 9, "b")  # rates .75 and .15
    c = _verification(5, 5, 0, 0, "c")  # only right answers shown: no d' of its own
    yes, right, who = (x + y + z for x, y, z in zip(a, b, c, strict=True))
    res = signal_detection(yes, right, who)
    from scipy.stats import norm
    d_a, d_b = norm.ppf(.85) - norm.ppf(.25), norm.ppf(.75) - norm.ppf(.15)
    assert res["d_prime"] == approx((d_a + d_b) / 2, abs=1e-10)
    assert res["n_participants"] == 2 and res["n_participants_left_out"] == 1
    assert res["hit_rate"] == approx(20 / 23) and res["false_alarm_rate"] == approx(3 / 18)
    assert res["d_prime_pooled"] == approx(norm.ppf(20.5 / 24) - norm.ppf(3.5 / 19), abs=1e-10)
    assert res["d_prime_ci"] == approx([d_a, d_a], abs=1e-10) and d_a == approx(d_b, abs=1e-3)
    assert res["criterion_ci"][0] < res["criterion"] < res["criterion_ci"][1]
    res = signal_detection(*_verification(3, 3, 0, 0))
    assert res["d_prime"] is None and "only right answers" in res["reason"] and res["hit_rate"] == 1.0


def test_confidence_map_and_brier_by_hand():
    # Verification (2 options): confidence 1..5 stands for .5, .625, .75, .875, 1; simulation with 3
    # candidates + "none of these" (4 options): .25 .. 1.
    assert confidence_probability([1, 2, 3, 4, 5], 2) == approx([0.5, 0.625, 0.75, 0.875, 1.0])
    assert confidence_probability([1, 3, 5], 4) == approx([0.25, 0.625, 1.0])
    # Hand-computed: p = 1, .5, .75, .875 against correct 1, 0, 1, 0: squared errors 0, .25, .0625,
    # .765625, mean .26953125; mean p .78125 against accuracy .5: overconfidence .28125.
    res = calibration([5, 1, 3, 4], [True, False, True, False], 2)
    assert res["brier"] == approx(0.26953125) and res["overconfidence"] == approx(0.28125)
    assert res["mean_confidence"] == approx(3.25) and res["mean_probability"] == approx(0.78125)
    # Options per trial (simulation stimuli name different numbers of candidates)
    res = calibration([1, 5], [False, True], [4, 3])
    assert res["brier"] == approx(0.25**2 / 2)
    assert calibration([], [], 2)["brier"] is None
    with pytest.raises(ValueError):
        calibration([0, 6], [True, False], 2)


def test_median_rt_leaves_out_untimed_trials():
    assert median_rt([1200, None, 800, 5000]) == {"median_rt_ms": 1200.0, "n_timed": 3, "reason": None}
    assert median_rt([None])["median_rt_ms"] is None


def test_correlation_matches_r_cor_test():
    # R's ?cor.test example (Hollander & Wolfe 1973, p. 187f.): cor.test(x, y) gives t = 1.8411, df = 7,
    # p-value = 0.1082, 95 percent CI -0.1497426 0.8955795, cor 0.5711816; cor.test(x, y, method =
    # "spearman") gives rho 0.6 (S = 48; R's exact p 0.0968, scipy's t approximation 0.0876).
    x = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
    y = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]
    res = correlation(x, y)
    assert res["pearson_r"] == approx(0.5711816, abs=1e-7)
    assert res["pearson_p"] == approx(0.1082, abs=1e-4)
    assert res["pearson_ci"] == approx([-0.1497426, 0.8955795], abs=1e-7)
    assert res["spearman_rho"] == approx(0.6) and res["reason"] is None
    assert correlation([1, 2], [3, 4])["pearson_r"] is None
    assert "no variance" in correlation([1, 1, 1, 1], [1, 2, 3, 4])["reason"]
    three = correlation([1, 2, 3], [1, 3, 2])
    assert three["pearson_r"] == approx(0.5) and three["pearson_ci"] is None


def test_behaviour_gives_the_report_keys():
    yes, right, who = _verification(8, 9, 2, 9)
    correct = [a == b for a, b in zip(yes, right, strict=True)]
    res = behaviour(correct, [4] * 18, [1000] * 17 + [None], who, 2, said_yes=yes, answer_correct=right)
    for key in ("n_participants", "n_trials", "accuracy", "accuracy_ci", "median_rt_ms", "mean_confidence",
                "brier",
                "hit_rate", "false_alarm_rate", "d_prime", "criterion"):
        assert key in res
    assert res["n_trials"] == 18 and res["accuracy"] == approx(15 / 18) and res["median_rt_ms"] == 1000.0
    assert res["d_prime"] == approx(1.7109, abs=1e-4) and res["reasons"] == {
        "signal_detection": "one participant: no interval of the mean d'"}
    simulation = behaviour([True, False], [5, 1], [None, None], ["a", "b"], [3, 4])
    assert "d_prime" not in simulation and simulation["reasons"] == {"median_rt_ms": "no timed trials"}
    with pytest.raises(ValueError):
        behaviour(np.logical_not(correct), [4] * 18, [None] * 18, who, 2, said_yes=yes, answer_correct=right)
