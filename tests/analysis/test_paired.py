"""analysis.stats' repeated-measures tests (a within-participants study) against published values; pure.

Each test names where its numbers come from."""

import numpy as np
import pytest
from scipy import stats as sps

from analysis import stats as st
from tests.analysis.test_stats import SLEEP_1, SLEEP_2

approx = pytest.approx

# R's stats::friedman.test help: RoundingTimes, Hollander & Wolfe (1973), p. 140: 22 players, the time
# to round first base by three methods.
ROUNDING_TIMES = [
    [5.40, 5.50, 5.55], [5.85, 5.70, 5.75], [5.20, 5.60, 5.50], [5.55, 5.50, 5.40], [5.90, 5.85, 5.70],
    [5.45, 5.55, 5.60], [5.40, 5.40, 5.35], [5.45, 5.50, 5.35], [5.25, 5.15, 5.00], [5.85, 5.80, 5.70],
    [5.25, 5.20, 5.10], [5.65, 5.55, 5.45], [5.60, 5.35, 5.45], [5.05, 5.00, 4.95], [5.50, 5.50, 5.40],
    [5.45, 5.55, 5.50], [5.55, 5.55, 5.35], [5.45, 5.50, 5.55], [5.50, 5.45, 5.25], [5.65, 5.60, 5.40],
    [5.70, 5.65, 5.55], [6.30, 6.30, 6.25],
]
# R's stats::wilcox.test help: Hollander & Wolfe (1973), p. 29f., Hamilton depression scale of nine
# patients at the first (x) and second (y) visit after initiation of a therapy.
DEPRESSION_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPRESSION_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def test_friedman_r_rounding_times():
    # R: friedman.test(RoundingTimes) -> Friedman chi-squared = 11.143, df = 2, p-value = 0.003805
    methods = ["Round Out", "Narrow Angle", "Wide Angle"]
    res = st.friedman({m: [row[i] for row in ROUNDING_TIMES] for i, m in enumerate(methods)})
    assert res["chi2"] == approx(11.143, abs=5e-4) and res["df"] == 2
    assert res["p"] == approx(0.003805, abs=5e-7) and res["n"] == 22
    assert res["kendall_w"] == approx(res["chi2"] / (22 * 2))


def test_wilcoxon_signed_rank_r_depression():
    # R: wilcox.test(x, y, paired = TRUE) -> V = 40, p-value = 0.03906 (two-sided, exact)
    res = st.wilcoxon_signed_rank(DEPRESSION_X, DEPRESSION_Y)
    assert res["V"] == 40 and res["p"] == approx(0.03906, abs=5e-6) and res["n"] == 9
    # matched-pairs rank-biserial (Kerby 2014): (T+ - T-) / (T+ + T-) = (40 - 5) / 45
    assert res["r_rb"] == approx(35 / 45)
    assert res["r_ci_low"] <= res["r_rb"] <= res["r_ci_high"]
    # the other way round: V is the sum of the ranks of the positive differences
    back = st.wilcoxon_signed_rank(DEPRESSION_Y, DEPRESSION_X)
    assert back["V"] == 5 and back["p"] == approx(res["p"]) and back["r_rb"] == approx(-35 / 45)


def test_pairwise_wilcoxon_is_holm_adjusted_and_friedman_refuses_two_conditions():
    methods = ["a", "b", "c"]
    table = {m: [row[i] for row in ROUNDING_TIMES] for i, m in enumerate(methods)}
    rows = st.pairwise_wilcoxon(table)
    assert [(r["a"], r["b"]) for r in rows] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert [r["p_holm"] for r in rows] == approx(st.holm([r["p"] for r in rows]))
    for r in rows:
        expected = sps.wilcoxon(table[r["a"]], table[r["b"]], correction=True).pvalue
        assert r["p"] == approx(expected)
    two = st.friedman({"a": [1, 2, 3], "b": [2, 3, 4]})
    assert two["chi2"] is None and "Wilcoxon signed-rank" in two["reason"]
    with pytest.raises(ValueError):
        st.friedman({"a": [1, 2], "b": [1], "c": [2, 3]})


def test_paired_tests_refuse_in_words():
    assert st.wilcoxon_signed_rank([3, 4], [3, 4])["reason"].startswith("no differences")
    assert st.wilcoxon_signed_rank([3], [4])["reason"] == "fewer than two participants with both scores"
    flat = st.friedman({"a": [3, 4], "b": [3, 4], "c": [3, 4]})
    assert flat["chi2"] is None and flat["reason"] == "no participant's scores differ between conditions"


def test_paired_difference_and_equivalence_against_r_paired_t_test_on_sleep():
    # R ?t.test: with(sleep, t.test(extra[group == 1], extra[group == 2], paired = TRUE)): t = -4.0621,
    # df = 9, 95 percent confidence interval -2.4598858 -0.7001142, mean difference -1.58.
    res = st.paired_difference(SLEEP_1, SLEEP_2, 2.0)
    diff = res["mean_difference"]
    assert diff["diff"] == approx(-1.58) and diff["ci_low"] == approx(-2.4598858, abs=1e-6)
    assert diff["ci_high"] == approx(-0.7001142, abs=1e-6)
    # Two one-sided paired tests against +-2 from the same published test: se = 1.58 / 4.0621 on 9 df.
    se = 1.58 / 4.0621
    expected = max(sps.t.sf((-1.58 + 2) / se, 9), sps.t.cdf((-1.58 - 2) / se, 9))
    assert res["equivalence"]["p"] == approx(expected, abs=2e-4) and res["equivalence"]["df"] == 9
    assert np.isclose(st.paired_difference([1, 2, 3], [0, 1, 2], 0.5)["mean_difference"]["diff"], 1)
