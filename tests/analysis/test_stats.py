"""analysis.stats against published reference values; pure, no database.

Each test names where its numbers come from. Only small published example data are copied here.
"""

import csv
import importlib
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from analysis import stats as st

approx = pytest.approx
DATA = Path(__file__).parent / "data"


def test_kruskal_scipy_docstring_examples():
    # scipy.stats.kruskal docstring: x = [1, 3, 5, 7, 9], y = [2, 4, 6, 8, 10]
    # -> statistic = 0.2727272727272734, pvalue = 0.6015081344405895;
    # x = [1, 1, 1], y = [2, 2, 2], z = [2, 2] -> statistic = 7.0, pvalue = 0.0301973834223185.
    res = st.kruskal_wallis({"x": [1, 3, 5, 7, 9], "y": [2, 4, 6, 8, 10]})
    assert res["H"] == approx(0.2727272727272734) and res["p"] == approx(0.6015081344405895)
    assert res["df"] == 1
    res = st.kruskal_wallis({"x": [1, 1, 1], "y": [2, 2, 2], "z": [2, 2]})
    assert res["H"] == approx(7.0) and res["p"] == approx(0.0301973834223185) and res["df"] == 2


def test_kruskal_r_hollander_wolfe_example_and_epsilon_squared():
    # R ?kruskal.test, Hollander & Wolfe (1973) p. 116, mucociliary efficiency:
    # "Kruskal-Wallis chi-squared = 0.77143, df = 2, p-value = 0.68".
    res = st.kruskal_wallis({
        "normal": [2.9, 3.0, 2.5, 2.6, 3.2],
        "obstructive": [3.8, 2.7, 4.0, 2.4],
        "asbestosis": [2.8, 3.4, 3.7, 2.2, 2.0],
    })
    assert res["H"] == approx(0.77143, abs=5e-6) and res["df"] == 2 and res["p"] == approx(0.68, abs=5e-3)
    # Tomczak & Tomczak (2014): epsilon^2 = H / ((n^2 - 1) / (n + 1)), n = 14.
    assert res["epsilon_squared"] == approx(0.77143 / ((14**2 - 1) / 15), abs=1e-6)


def test_kruskal_undefined_cases_give_words():
    assert st.kruskal_wallis({"a": [3, 3], "b": [3, 3]})["H"] is None
    assert "no variance" in st.kruskal_wallis({"a": [3, 3], "b": [3, 3]})["reason"]
    res = st.kruskal_wallis({"a": [1, 2], "b": []})
    assert res["H"] is None and "b (n = 0)" in res["reason"]


def one_answer_each(counts: dict[str, list[int]]) -> dict[str, list[list[int]]]:
    """Category counts per group (categories 1, 2, ...) as participants who gave one answer each."""
    return {g: [[c + 1] for c, n in enumerate(row) for _ in range(n)] for g, row in counts.items()}


ONE_EACH = {"decomposition": [1.0], "r1": [2.0], "r1_summary": [3.0], "posthoc": [4.0]}


def test_rank_tests_and_ordinal_model_refuse_groups_of_one_in_words():
    """One participant per condition: no test, though H, U and z could be computed on four values."""
    refusal = ("fewer than two groups with at least two participants; left out for fewer than two "
               "participants: decomposition (n = 1), r1 (n = 1), r1_summary (n = 1), posthoc (n = 1)")
    res = st.kruskal_wallis(ONE_EACH)
    assert res["H"] is None and res["p"] is None and res["reason"] == refusal
    for row in [*st.dunn(ONE_EACH), *st.pairwise_mann_whitney(ONE_EACH)]:
        assert row["p"] is None and row["p_holm"] is None
        assert row["reason"] == f"fewer than two participants in {row['a']} and {row['b']}"
    answers = {"decomposition": [[1]], "r1": [[2]], "r1_summary": [[2, 2, 2]], "posthoc": [[3] * 5]}
    res = st.proportional_odds(answers)
    assert res["lr_chi2"] is None and res["wald_chi2"] is None and res["reason"] == refusal


def test_rank_tests_leave_out_a_group_of_one_and_name_it():
    # scipy.stats.kruskal docstring: x = [1, 3, 5, 7, 9], y = [2, 4, 6, 8, 10] -> H = 0.2727272727272734,
    # p = 0.6015081344405895 (Dunn's p for two groups is the same); a third group of one changes nothing.
    groups = {"x": [1, 3, 5, 7, 9], "y": [2, 4, 6, 8, 10], "z": [11]}
    res = st.kruskal_wallis(groups)
    assert res["H"] == approx(0.2727272727272734) and res["p"] == approx(0.6015081344405895)
    assert res["df"] == 1 and res["n"] == 10
    assert res["reason"] == "left out for fewer than two participants: z (n = 1)"
    rows = st.dunn(groups)
    assert rows[0]["p"] == approx(0.6015081344405895) and rows[0]["p_holm"] == approx(0.6015081344405895)
    assert [r["reason"] for r in rows[1:]] == ["fewer than two participants in z"] * 2
    # scipy.stats.mannwhitneyu docstring (Conover 1971): U1 = 17.0, p = 0.1111111111111111 (exact).
    rows = st.pairwise_mann_whitney({"males": [19, 22, 16, 29, 24], "females": [20, 11, 17, 12], "one": [15]})
    assert rows[0]["U"] == 17.0 and rows[0]["p_holm"] == approx(0.1111111111111111)
    assert [r["p"] for r in rows[1:]] == [None, None]
    assert rows[2]["reason"] == "fewer than two participants in one"
    # The 2 x 2 odds ratio of 12.0 (scipy's fisher_exact docstring table [[6, 2], [1, 4]]); group C's
    # six answers come from one participant, so C is left out.
    res = st.proportional_odds({**one_answer_each({"A": [6, 2], "B": [1, 4]}), "C": [[1, 1, 1, 2, 2, 2]]})
    assert res["df"] == 1 and res["coefficients"][0]["odds_ratio"] == approx(12.0, rel=1e-5)
    assert res["reason"] == "left out for fewer than two participants: C (n = 1)"


def test_mann_whitney_scipy_docstring_and_rank_biserial():
    # scipy.stats.mannwhitneyu docstring (Conover 1971 example): males = [19, 22, 16, 29, 24],
    # females = [20, 11, 17, 12] -> U1 = 17.0, p = 0.1111111111111111 (exact).
    res = st.mann_whitney([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert res["U"] == 17.0 and res["p"] == approx(0.1111111111111111)
    # Rank-biserial r = 2 U1 / (n1 n2) - 1 (Wendt 1972; Kerby 2014 "simple difference formula":
    # proportion of favourable minus unfavourable pairs = 17/20 - 3/20 = 0.70).
    assert res["r_rb"] == approx(0.70)


def test_dunn_published_example():
    # Example in the README of the public GitHub repository BarataAP/dunn (two-tailed Dunn test,
    # no adjustment): z(a, b) = -0.9882 ... z(d, e) = 0.42967; p(a, b) = 0.32304 ... p(d, e) = 0.66744.
    groups = {
        "a": [0.28551035, 0.338524035, 0.088631321, 0.205930807, 0.363240102],
        "b": [0.52173913, 0.763358779, 0.325436786, 0.425305688, 0.378071834],
        "c": [0.98911968, 1.192718142, 0.788288288, 0.549176236, 0.544588155],
        "d": [1.26705653, 1.625320787, 1.266108976, 1.154187629, 1.268489431],
        "e": [1.25697569, 1.265897356, 1.237814561, 0.954612564, 2.365415457],
    }
    z = [-0.9882, -2.1054, -3.8241, -3.3944, -1.1171, -2.8358, -2.4061, -1.7187, -1.2890, 0.42967]
    p = [0.32304, 0.03526, 0.00013, 0.00069, 0.26393, 0.00457, 0.01612, 0.08567, 0.19740, 0.66744]
    rows = st.dunn(groups)
    assert [r["z"] for r in rows] == approx(z, abs=1e-4)
    assert [r["p"] for r in rows] == approx(p, abs=1e-5)
    assert [r["p_holm"] for r in rows] == approx(st.holm([r["p"] for r in rows]))



def test_dunn_exercise_data_r_holm():
    """Dunn's test, Holm-adjusted, on pulse by kind of exercise (seaborn's example data set "exercise",
    mwaskom/seaborn-data exercise.csv, 30 pulses per kind). R reference p-values quoted in scikit-posthocs'
    tests/test_posthocs.py, test_posthoc_dunn (posthoc_dunn(..., p_adjust="holm"); maximtrp/scikit-posthocs
    commit b25db40b11a6cbfe911bad81ae582a63d276e6dd): rest-walking 4.390066e-02, rest-running 9.570998e-09,
    walking-running 1.873208e-04. The data have ties, so this also checks the tie correction."""
    groups = {
        "rest": [85, 85, 88, 90, 92, 93, 97, 97, 94, 80, 82, 83, 91, 92, 91, 83, 83, 84, 87, 88, 90, 92, 94,
                 95, 97, 99, 96, 100, 97, 100],
        "walking": [86, 86, 84, 93, 103, 104, 90, 92, 93, 95, 96, 100, 89, 96, 95, 84, 86, 89, 103, 109, 90,
                    92, 96, 101, 97, 98, 100, 102, 104, 103],
        "running": [93, 98, 110, 98, 104, 112, 98, 105, 99, 87, 132, 120, 94, 110, 116, 95, 126, 143, 100,
                    126, 140, 103, 124, 140, 94, 135, 130, 99, 111, 150],
    }
    rows = st.dunn(groups)
    pairs = [("rest", "walking"), ("rest", "running"), ("walking", "running")]
    assert [(r["a"], r["b"]) for r in rows] == pairs
    assert [r["p_holm"] for r in rows] == approx([4.390066e-02, 9.570998e-09, 1.873208e-04], rel=1e-6)
    assert all(r["z"] < 0 for r in rows)  # first group of each pair has the lower mean rank

def test_dunn_two_groups_equals_kruskal():
    # With two groups Dunn's z^2 is the tie-corrected Kruskal-Wallis H: scipy's kruskal docstring p.
    (row,) = st.dunn({"x": [1, 3, 5, 7, 9], "y": [2, 4, 6, 8, 10]})
    assert row["p"] == approx(0.6015081344405895)


def test_holm_r_p_adjust():
    # R p.adjust(c(.52, .12, .0001, .03, .14), "holm") as quoted in pingouin's tests/test_multicomp.py.
    assert st.holm([0.52, 0.12, 0.0001, 0.03, 0.14]) == approx([0.52, 0.36, 0.0005, 0.12, 0.36])
    assert st.holm([0.52, 0.12, 0.10, 0.30, 0.14]) == approx([0.6, 0.5, 0.5, 0.6, 0.5])
    assert st.holm([0.02, None, 0.04]) == approx([0.04, None, 0.04])


SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_anova_r_sleep():
    # R datasets::sleep (Student 1908); R ?t.test / ?oneway.test: Welch two-sample t-test
    # t = -1.8608, df = 17.776, p-value = 0.07939, so oneway.test gives F = t^2 = 3.4626 on (1, 17.776).
    res = st.welch_anova({"1": SLEEP_1, "2": SLEEP_2})
    assert res["F"] == approx(1.8608**2, abs=1e-3) and res["df1"] == 1
    assert res["df2"] == approx(17.776, abs=1e-3) and res["p"] == approx(0.07939, abs=1e-5)


def test_games_howell_two_groups_is_welch_t():
    # With two groups the studentized range reduces to the Welch t test: R's sleep example above.
    (row,) = st.games_howell({"1": SLEEP_1, "2": SLEEP_2})
    assert row["t"] == approx(-1.8608, abs=1e-4) and row["df"] == approx(17.776, abs=1e-3)
    assert row["p"] == approx(0.07939, abs=1e-5) and row["diff"] == approx(-1.58)



def test_welch_anova_four_groups_jan_shieh():
    """Welch's ANOVA with four groups (n = 10, 12, 13, 15): Jan & Shieh (2019), "On the extended Welch test
    for assessing equivalence of standardized means", Statistics in Biopharmaceutical Research, p. 6: Welch
    F = 0.1102 on (3, 22.6536) df, as quoted with the data in statsmodels'
    statsmodels/stats/tests/test_oneway.py (TestOnewayEquivalenc.test_equivalence_welch;
    statsmodels/statsmodels commit 019c3c1187a1900b9321cabd347b72c327cb7efe). The p-value is F's upper tail
    on those df."""
    groups = {
        "1": [112.488, 103.738, 86.344, 101.708, 95.108, 105.931, 95.815, 91.864, 102.479, 102.644],
        "2": [100.421, 101.966, 99.636, 105.983, 88.377, 102.618, 105.486, 98.662, 94.137, 98.626, 89.367,
              106.204],
        "3": [84.846, 100.488, 119.763, 103.736, 93.141, 108.254, 99.510, 89.005, 108.200, 82.209, 100.104,
              103.706, 107.067],
        "4": [100.825, 100.255, 103.363, 93.230, 95.325, 100.288, 94.750, 107.129, 98.246, 96.365, 99.740,
              106.049, 92.691, 93.111, 98.243],
    }
    res = st.welch_anova(groups)
    assert res["F"] == approx(0.1102, abs=5e-5) and res["df1"] == 3
    assert res["df2"] == approx(22.6536, abs=5e-5)
    assert res["p"] == approx(sps.f.sf(res["F"], 3, res["df2"])) and res["reason"] is None
    # statsmodels computes it; scipy's own f_oneway(equal_var=False) agrees (it gives no df, which
    # APA reporting needs, so statsmodels is the one the report calls)
    scipy = sps.f_oneway(*groups.values(), equal_var=False)
    assert res["F"] == approx(scipy.statistic, rel=1e-10) and res["p"] == approx(scipy.pvalue, rel=1e-8)


def _penguin_body_mass() -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {"Adelie": [], "Chinstrap": [], "Gentoo": []}
    with open(DATA / "penguins_body_mass.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["body_mass_g"] != "NA":
                groups[row["species"]].append(float(row["body_mass_g"]))
    return groups


def test_games_howell_three_groups_penguins():
    """Games-Howell on body mass by species, Palmer Penguins (tests/analysis/data/penguins_body_mass.csv,
    CC0).
    pingouin.pairwise_gameshowell docstring (https://pingouin-stats.org/build/html/generated/
    pingouin.pairwise_gameshowell.html; src/pingouin/pairwise.py), ``.round(3)``:
    Adelie-Chinstrap diff -32.426, se 59.706, T -0.543, df 152.455, pval 0.85;
    Adelie-Gentoo -1375.354, 58.811, -23.386, 249.643, 0.00; Chinstrap-Gentoo -1342.928, 65.103, -20.628,
    170.404, 0.00. The p-values to four decimals are JASP's, quoted in pingouin's tests/test_pairwise.py
    (test_pairwise_gameshowell; raphaelvallat/pingouin commit 06199b3815483e293271d0e5f21a772a31a6f9ff):
    [0.8502, 0.0000, 0.0000]."""
    groups = _penguin_body_mass()
    assert [len(v) for v in groups.values()] == [151, 68, 123]  # 344 penguins, two without a body mass
    rows = st.games_howell(groups)
    assert [(r["a"], r["b"]) for r in rows] == [("Adelie", "Chinstrap"), ("Adelie", "Gentoo"),
                                                 ("Chinstrap", "Gentoo")]
    assert [r["diff"] for r in rows] == approx([-32.426, -1375.354, -1342.928], abs=5e-4)
    assert [r["se"] for r in rows] == approx([59.706, 58.811, 65.103], abs=5e-4)
    assert [r["t"] for r in rows] == approx([-0.543, -23.386, -20.628], abs=5e-4)
    assert [r["df"] for r in rows] == approx([152.455, 249.643, 170.404], abs=5e-4)
    assert [r["p"] for r in rows] == approx([0.8502, 0.0, 0.0], abs=5e-5)

def test_games_howell_k_counts_every_group_of_two_whatever_its_variance():
    """The studentized range compares all k means, so a group with SD 0 still counts in k; a pair's p
    depends only on its two groups and k. With the published three-group penguin values above: a fourth
    group of one is left out (k stays 3, same p); a fourth group of two counts, flat or not."""
    penguins = _penguin_body_mass()
    flat = st.games_howell({**penguins, "Flat": [4000.0, 4000.0]})
    varied = st.games_howell({**penguins, "Varied": [3500.0, 4500.0]})
    assert flat[0]["p"] == approx(varied[0]["p"], rel=1e-12) and flat[0]["p"] > 0.8502 + 1e-3  # k = 4
    # Four conditions of two, two of them flat: decomposition-r1 is still compared among k = 4.
    flat = st.games_howell({"decomposition": [1, 3], "r1": [4, 6], "r1_summary": [2, 2], "posthoc": [3, 3]})
    varied = st.games_howell({"decomposition": [1, 3], "r1": [4, 6], "r1_summary": [2, 3], "posthoc": [3, 4]})
    assert flat[0]["p"] == approx(varied[0]["p"], rel=1e-12)
    rows = st.games_howell({**penguins, "One": [4000.0]})
    assert [r["p"] for r in rows if r["p"] is not None] == approx([0.8502, 0.0, 0.0], abs=5e-5)
    assert [r["reason"] for r in rows if r["b"] == "One"] == ["fewer than two participants in One"] * 3


def test_games_howell_pair_with_one_flat_group_is_the_welch_t_test():
    # With two groups Games-Howell is Welch's t test (see the sleep example). When one group has no
    # variance the SE is still positive and Welch's t is the one-sample t test of the other group against
    # the flat group's value, df = n1 - 1: scipy's ttest_1samp on sleep group 1 against 0 is the reference.
    (row,) = st.games_howell({"1": SLEEP_1, "flat": [0.0] * 10})
    one_sample = sps.ttest_1samp(SLEEP_1, 0.0)
    assert row["t"] == approx(one_sample.statistic) and row["p"] == approx(one_sample.pvalue)
    assert row["df"] == approx(9.0)
    (row,) = st.games_howell({"a": [2, 2], "b": [3, 3, 3]})
    assert row["p"] is None and row["reason"] == "neither a nor b varies: the standard error is 0"


def test_games_howell_and_welch_undefined_cases():
    res = st.welch_anova({"a": [1, 2, 3], "b": [2, 2, 2]})
    assert res["F"] is None and "no variance within b" in res["reason"]
    res = st.welch_anova({"a": [1, 2, 3], "b": [2, 3, 5], "c": [4]})
    assert res["F"] is not None and res["reason"] == "left out for fewer than two participants: c (n = 1)"
    res = st.welch_anova({"a": [1, 2, 3], "b": [2, 2, 2], "c": [4]})
    assert res["reason"] == "no variance within b; left out for fewer than two participants: c (n = 1)"
    rows = st.games_howell({"a": [1, 2, 3], "b": [4]})
    assert rows[0]["p"] is None and rows[0]["reason"] == "fewer than two participants in b"


# Pingouin's example data set "cronbach_alpha" (pingouin/datasets/cronbach_alpha.csv), 15 people x 10
# items, one row per person; pingouin.cronbach_alpha docstring: alpha = 0.591719 (checked against psych).
CRONBACH = [
    [3, 2, 4, 1, 4, 5, 1, 4, 3, 2], [5, 4, 6, 3, 5, 1, 2, 5, 5, 5], [7, 3, 5, 5, 6, 4, 3, 3, 6, 5],
    [2, 4, 3, 3, 2, 2, 2, 6, 6, 3], [6, 5, 6, 5, 4, 4, 4, 6, 7, 5], [1, 2, 3, 4, 2, 5, 2, 3, 5, 2],
    [4, 3, 5, 3, 5, 2, 1, 2, 4, 3], [2, 4, 4, 3, 7, 2, 2, 4, 6, 5], [6, 5, 5, 5, 1, 6, 5, 2, 3, 2],
    [5, 4, 6, 4, 3, 5, 3, 1, 7, 2], [4, 3, 5, 2, 5, 3, 2, 3, 4, 1], [4, 2, 3, 2, 5, 3, 4, 2, 3, 4],
    [5, 5, 6, 2, 3, 3, 2, 4, 4, 5], [6, 5, 5, 4, 2, 2, 1, 4, 6, 5], [4, 3, 5, 5, 3, 1, 3, 2, 3, 4],
]


def test_cronbach_alpha_pingouin_example():
    res = st.cronbach_alpha(CRONBACH)
    assert res["alpha"] == approx(0.591719, abs=1e-6) and res["n"] == 15 and res["k"] == 10
    assert st.cronbach_alpha([[1, 2]])["alpha"] is None
    assert st.cronbach_alpha([[3, 3], [3, 3]])["reason"] == "no variance in the total score"


def test_cronbach_alpha_interval_pingouin_example():
    # pingouin.cronbach_alpha docstring on the same data: (0.5917188485995826, array([0.195, 0.84 ])),
    # Feldt's interval rounded to three decimals.
    res = st.cronbach_alpha(CRONBACH)
    assert round(res["ci_low"], 3) == 0.195 and round(res["ci_high"], 3) == 0.84


def test_alpha_refuses_a_total_that_does_not_vary_even_with_rounding_noise():
    # 3.2 reached by different sums differs in the last bit; the score still does not vary
    high, low = (3.0 + 3.4 + 3.2) / 3, (3.2 + 3.4 + 3.0) / 3
    noisy = [[high, high], [low, low], [3.2, 3.2]]
    assert len({sum(row) for row in noisy}) > 1  # the noise is there
    res = st.cronbach_alpha(noisy)
    assert res["alpha"] is None and res["reason"] == "no variance in the total score"


def test_spearman_brown_for_two_items():
    # Eisinga, te Grotenhuis & Pelzer (2013): rho_SB = 2r / (1 + r); r = 0.5 gives 2/3.
    # Two items whose correlation is exactly 0.5: x = (1, 2, 3), y = (1, 3, 2).
    res = st.spearman_brown([[1, 1], [2, 3], [3, 2]])
    assert res["r"] == approx(0.5) and res["rho"] == approx(2 / 3)
    assert st.spearman_brown([[1, 1], [2, 1], [3, 1]])["reason"] == "an item does not vary"
    assert st.spearman_brown(CRONBACH)["reason"] == "not a two-item scale"


def test_a_group_whose_scores_only_differ_by_rounding_is_constant():
    """Scores of 3.2 reached by different additions differ by 1e-16; they do not vary."""
    flat = [(3.0 + 3.4 + 3.2) / 3, (3.2 + 3.4 + 3.0) / 3, 3.2, (3.4 + 3.0 + 3.2) / 3, 3.2]
    assert np.var(flat) > 0  # the noise is there
    groups = {"flat": flat, "other": [1.0, 2.0, 3.0, 4.0, 5.0], "third": [2.0, 2.5, 4.0, 4.5, 5.0]}
    welch = st.welch_anova(groups)
    assert welch["F"] is None and "no variance within flat" in welch["reason"]
    (row, *_) = st.games_howell(groups)  # flat vs other: only other's variance counts
    assert row["se"] == approx(math.sqrt(np.var([1, 2, 3, 4, 5], ddof=1) / 5))
    tied = st.kruskal_wallis({"a": flat, "b": list(reversed(flat))})
    assert tied["reason"] == "no variance: every value is the same"


def test_mean_difference_and_equivalence_against_r_t_test_on_sleep():
    # R ?t.test: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, 95 percent confidence
    # interval -3.3654832 0.2054832, mean difference -1.58.
    res = st.mean_difference(SLEEP_1, SLEEP_2)
    assert res["diff"] == approx(-1.58) and res["ci_low"] == approx(-3.3654832, abs=1e-6)
    assert res["ci_high"] == approx(0.2054832, abs=1e-6)
    # Two one-sided tests against +-2 (Schuirmann 1987) from the same published t test: the standard
    # error is 1.58 / 1.8608, and p = max(P(T > (d + 2) / se), P(T < (d - 2) / se)) on 17.776 df.
    se = 1.58 / 1.8608
    expected = max(sps.t.sf((-1.58 + 2) / se, 17.776), sps.t.cdf((-1.58 - 2) / se, 17.776))
    eq = st.equivalence(SLEEP_1, SLEEP_2, 2.0)
    assert eq["p"] == approx(expected, abs=2e-4) and eq["df"] == approx(17.776, abs=1e-3)
    assert st.equivalence(SLEEP_1, SLEEP_2, 10.0)["p"] < 0.001  # a wide margin: clearly equivalent
    assert st.equivalence([3, 3], [3, 3], 0.5)["reason"] == "neither group varies"


def test_the_bootstrap_statistics_from_counts_are_scipys_kruskal_and_mann_whitney():
    """The intervals compute H and U from counts over the distinct values; on the samples those
    counts stand for, they equal scipy's kruskal and mannwhitneyu exactly."""
    from analysis.stats.effects import kruskal_from_counts, u_from_counts

    rng = np.random.default_rng(11)
    distinct = np.array([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 4.5, 5.0])
    for _ in range(20):
        counts = [rng.integers(0, 4, size=len(distinct)) + (i == 0) for i in range(3)]
        samples = [np.repeat(distinct, c) for c in counts]
        h = kruskal_from_counts([c.astype(float) for c in counts])
        assert h == approx(sps.kruskal(*samples).statistic, rel=1e-10)
        u = u_from_counts(counts[0].astype(float), counts[1].astype(float))
        assert u == approx(sps.mannwhitneyu(samples[0], samples[1]).statistic, rel=1e-10)


def test_the_bootstrap_intervals_agree_with_scipys_bootstrap():
    """The same percentile interval as scipy.stats.bootstrap resampling value by value, up to
    Monte Carlo error (2,000 resamples each)."""
    groups = {"a": [1, 2, 2, 3, 3.5, 4, 2.5, 3], "b": [2, 2, 4, 4, 5, 4.5, 3],
              "c": [1, 1, 1, 5, 5, 2, 3, 1.5]}
    n = sum(len(v) for v in groups.values())
    res = sps.bootstrap([np.array(v, dtype=float) for v in groups.values()],
                        lambda *s, axis=-1: sps.kruskal(*s, axis=axis).statistic / (n - 1),
                        n_resamples=2000, method="percentile", rng=np.random.default_rng(7), vectorized=True)
    ours = st.epsilon_squared_interval(groups, seed=7)
    assert ours["ci_low"] == approx(res.confidence_interval.low, abs=0.03)
    assert ours["ci_high"] == approx(res.confidence_interval.high, abs=0.05)
    x, y = [19, 22, 16, 29, 24, 22, 18], [20, 11, 17, 12, 17, 21]
    res = sps.bootstrap([np.array(x, dtype=float), np.array(y, dtype=float)],
                        lambda a, b, axis=-1: 2 * sps.mannwhitneyu(a, b, axis=axis).statistic / 42 - 1,
                        n_resamples=2000, method="percentile", rng=np.random.default_rng(7), vectorized=True)
    ours = st.rank_biserial_interval(x, y, seed=7)
    assert ours["ci_low"] == approx(res.confidence_interval.low, abs=0.05)
    assert ours["ci_high"] == approx(res.confidence_interval.high, abs=0.05)


def test_effect_size_intervals_are_seeded_and_hold_their_estimate():
    groups = {"normal": [2.9, 3.0, 2.5, 2.6, 3.2], "obstructive": [3.8, 2.7, 4.0, 2.4],
              "asbestosis": [2.8, 3.4, 3.7, 2.2, 2.0]}
    eps = st.kruskal_wallis(groups)["epsilon_squared"]
    ci = st.epsilon_squared_interval(groups, seed=1)
    assert 0 <= ci["ci_low"] <= eps <= ci["ci_high"] <= 1
    assert ci == st.epsilon_squared_interval(groups, seed=1) != st.epsilon_squared_interval(groups, seed=2)
    r = st.rank_biserial_interval([19, 22, 16, 29, 24], [20, 11, 17, 12], seed=1)
    assert r["r_rb"] == approx(0.70) and -1 <= r["ci_low"] < 0.70 < r["ci_high"] <= 1
    (row, *_) = st.pairwise_effects(groups, margin=0.5, seed=1)
    assert row["a"] == "normal" and row["mean_difference"]["diff"] == approx(2.84 - 3.225)
    assert row["equivalence"]["margin"] == 0.5 and row["equivalence"]["p"] is not None


def test_power_pwr_anova_examples():
    # R pwr::pwr.anova.test examples (Cohen 1988, exercises 8.1 and 8.10):
    # pwr.anova.test(f = 0.28, k = 4, n = 20) -> power = 0.5149793;
    # pwr.anova.test(f = 0.28, k = 4, power = 0.80) -> n = 35.75789.
    assert st.anova_power(0.28, 4, 20) == approx(0.5149793, abs=1e-7)
    res = st.sensitivity(4, 35.75789)
    assert res["f"] == approx(0.28, abs=1e-6) and res["eta_squared"] == approx(0.28**2 / (1 + 0.28**2))
    assert st.sensitivity(4, 1)["f"] is None


def test_independence_tests_published():
    # scipy.stats.chi2_contingency docstring: [[10, 10, 20], [20, 20, 20]] -> statistic 2.7777777777777777,
    # p 0.24935220877729619, dof 2.
    res = st.independence_test([[10, 10, 20], [20, 20, 20]])
    assert res["test"] == "chi2" and res["statistic"] == approx(2.7777777777777777)
    assert res["p"] == approx(0.24935220877729619) and res["df"] == 2
    # scipy.stats.fisher_exact docstring: [[6, 2], [1, 4]] -> p = 0.10256410256410257.
    assert st.independence_test([[6, 2], [1, 4]])["p"] == approx(0.10256410256410257)
    # R ?fisher.test, Agresti's tea tasting: [[3, 1], [1, 3]] -> p-value = 0.4857 (two-sided).
    res = st.independence_test([[3, 1], [1, 3]])
    assert res["test"] == "fisher" and res["p"] == approx(0.4857, abs=1e-4)
    # R ?fisher.test, job satisfaction by income (Agresti 2002, p. 57), 4 x 4: fisher.test(Job) -> p = 0.7827.
    job = [[1, 3, 10, 6], [2, 3, 10, 7], [1, 6, 14, 12], [0, 1, 9, 11]]
    res = st.independence_test(job, n_resamples=20000)
    assert res["test"] == "fisher_monte_carlo" and res["p"] == approx(0.7827, abs=0.01)
    assert st.independence_test(job) == st.independence_test(job)  # seeded
    assert st.independence_test([[0, 0], [1, 2]])["p"] is None


def test_proportional_odds_two_categories_is_the_odds_ratio():
    # With two categories and two groups the model is a logistic regression on a 2 x 2 table; its
    # coefficient is the sample log odds ratio, 12.0 for scipy's fisher_exact docstring table
    # [[6, 2], [1, 4]], with Woolf's SE sqrt(1/6 + 1/2 + 1/1 + 1/4), and the LR test is the G-test.
    # With one answer per participant the saturated model's sandwich equals the model's information,
    # so the cluster-robust SE is Woolf's times the small-sample factor sqrt(G / (G - 1)), G = 13.
    res = st.proportional_odds(one_answer_each({"A": [6, 2], "B": [1, 4]}))
    (coef,) = res["coefficients"]
    woolf = math.sqrt(1 / 6 + 1 / 2 + 1 + 1 / 4)
    assert coef["odds_ratio"] == approx(12.0, rel=1e-5)
    assert coef["se_naive"] == approx(woolf, rel=1e-3)
    assert coef["se"] == approx(woolf * math.sqrt(13 / 12), rel=1e-3)
    g = sps.chi2_contingency([[6, 2], [1, 4]], correction=False, lambda_="log-likelihood")
    assert res["lr_chi2"] == approx(g.statistic, rel=1e-6) and res["df"] == 1
    assert res["po_test"]["p"] is None and "two answer categories" in res["po_test"]["reason"]


def test_proportional_odds_undefined_cases():
    res = st.proportional_odds(one_answer_each({"A": [0, 5, 0], "B": [0, 3, 0]}))
    assert res["reason"].startswith("no variance")
    res = st.proportional_odds(one_answer_each({"A": [1, 2, 3], "B": [0, 0, 0]}))
    assert res["lr_chi2"] is None and res["reason"]
    counts = {"A": [3, 2, 1, 0, 0], "B": [1, 2, 3, 1, 0], "C": [0, 0, 0, 0, 0]}
    res = st.proportional_odds(one_answer_each(counts))
    assert res["df"] == 1 and "C" in res["reason"]


def _clustered_study(seed: int, shift: float = 0.3) -> tuple[dict, list[tuple[int, int, int]]]:
    """Four groups of 25 participants, 10 answers each on 1-5, a participant effect of SD 1."""
    rng = np.random.default_rng(seed)
    answers, rows = {}, []
    for g, name in enumerate("abcd"):
        answers[name] = []
        for _ in range(25):
            latent = rng.normal(0, 1) + shift * g + rng.logistic(size=10)
            person = [int(a) for a in np.digitize(latent, [-2, -0.7, 0.7, 2]) + 1]
            answers[name].append(person)
            rows += [(g, a, sum(len(v) for v in answers.values()) - 1) for a in person]
    return answers, rows


def test_proportional_odds_cluster_robust_errors_match_statsmodels():
    """The sandwich SEs against statsmodels' OrderedModel fitted to the same answers with
    cov_type="cluster" (groups = participants; its use_correction=False is the plain sandwich, to which
    ours adds Stata's G/(G - 1)); the naive SEs against its default fit."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    answers, rows = _clustered_study(3)
    res = st.proportional_odds(answers)
    data = np.array(rows)
    model = OrderedModel(data[:, 1] - 1, np.eye(4)[data[:, 0]][:, 1:], distr="logit")
    clustered = model.fit(method="bfgs", disp=0, cov_type="cluster",
                          cov_kwds={"groups": data[:, 2], "use_correction": False})
    naive = model.fit(method="bfgs", disp=0)
    ours = res["coefficients"]
    assert [c["beta"] for c in ours] == approx(list(clustered.params[:3]), abs=1e-4)
    assert [c["se"] for c in ours] == approx(list(clustered.bse[:3] * math.sqrt(100 / 99)), rel=1e-4)
    assert [c["se_naive"] for c in ours] == approx(list(naive.bse[:3]), rel=1e-4)
    # ten answers per participant with an ICC near .25: the naive errors are far too small
    assert all(c["se"] > 1.3 * c["se_naive"] for c in ours)
    assert res["clusters"] == 100 and res["n"] == 1000 and res["df"] == 3
    low, high = ours[0]["or_ci_low"], ours[0]["or_ci_high"]
    assert low < ours[0]["odds_ratio"] < high
    assert math.log(high / low) == approx(2 * 1.959964 * ours[0]["se"], rel=1e-5)


def test_the_proportional_odds_check_takes_participants_as_clusters():
    """Proportional odds checked on the conditions' cumulative log odds with participant-clustered
    errors: a participant who gives the same answers ten times over says no more about the shape of
    the distribution than one who gives them once, so repeating every participant's answers leaves
    the check as it was, where the check the report used before (the likelihood-ratio test against a
    separate distribution per condition, answers independent: 2 Σ O log(O / E)) grows ten times. Its
    rate under the null at the report's design is measured in test_calibration."""
    answers, _ = _clustered_study(5)
    res = st.proportional_odds(answers)
    check = res["po_test"]
    assert check["df1"] == 3 * 3 and check["df2"] == 100 - 4 - 9 + 1
    assert check["F"] == approx(check["statistic"] * 88 / (96 * 9))
    assert check["p"] == approx(sps.f.sf(check["F"], 9, 88))
    repeated = st.proportional_odds({g: [list(a) * 10 for a in people] for g, people in answers.items()})
    assert repeated["po_test"]["statistic"] == approx(check["statistic"], rel=0.02)  # only Haldane's ½ moves
    # groups that differ in spread, not in location, break proportional odds
    spread = {"narrow": [[3]] * 30 + [[2]] * 5 + [[4]] * 5, "wide": [[1]] * 15 + [[5]] * 15 + [[3]] * 10}
    assert st.proportional_odds(spread)["po_test"]["p"] < 0.001
    few = st.proportional_odds({g: [[1, 2], [3, 4, 5]] for g in "abcd"})["po_test"]  # 8 people, 9 contrasts
    assert few["p"] is None and "too few" in few["reason"]


# MASS::housing (Copenhagen housing conditions survey; Madsen 1976), the 72 rows in their order in the
# data frame: one line per (Infl, Type, Cont) with the Freq of Sat = Low, Medium, High.
HOUSING = [
    ("Low", "Tower", "Low", (21, 21, 28)),
    ("Medium", "Tower", "Low", (34, 22, 36)),
    ("High", "Tower", "Low", (10, 11, 36)),
    ("Low", "Apartment", "Low", (61, 23, 17)),
    ("Medium", "Apartment", "Low", (43, 35, 40)),
    ("High", "Apartment", "Low", (26, 18, 54)),
    ("Low", "Atrium", "Low", (13, 9, 10)),
    ("Medium", "Atrium", "Low", (8, 8, 12)),
    ("High", "Atrium", "Low", (6, 7, 9)),
    ("Low", "Terrace", "Low", (18, 6, 7)),
    ("Medium", "Terrace", "Low", (15, 13, 13)),
    ("High", "Terrace", "Low", (7, 5, 11)),
    ("Low", "Tower", "High", (14, 19, 37)),
    ("Medium", "Tower", "High", (17, 23, 40)),
    ("High", "Tower", "High", (3, 5, 23)),
    ("Low", "Apartment", "High", (78, 46, 43)),
    ("Medium", "Apartment", "High", (48, 45, 86)),
    ("High", "Apartment", "High", (15, 25, 62)),
    ("Low", "Atrium", "High", (20, 23, 20)),
    ("Medium", "Atrium", "High", (10, 22, 24)),
    ("High", "Atrium", "High", (7, 10, 21)),
    ("Low", "Terrace", "High", (57, 23, 13)),
    ("Medium", "Terrace", "High", (31, 21, 13)),
    ("High", "Terrace", "High", (5, 6, 13)),
]


def test_cumulative_logit_matches_polr_on_the_housing_data():
    """R: polr(Sat ~ Infl + Type + Cont, weights = Freq, data = housing), the proportional-odds example
    of Venables & Ripley, Modern Applied Statistics with S, 4th ed. (2002), §7.3, and of MASS's ?polr.

    Data: MASS::housing as exported by Rdatasets,
    https://github.com/vincentarelbundock/Rdatasets/blob/master/csv/MASS/housing.csv (the same 72 rows
    as https://github.com/fabianp/mord/blob/master/mord/datasets/data/copenhagen_housing_survey.csv).

    Reference output, printed by R in Li Dongfeng's R book, ch. "广义线性模型" (polr section),
    https://www.math.pku.edu.cn/teachers/lidf/docs/Rbook/html/_Rbook/stat-glm.html: coefficients
    InflMedium 0.5663937, InflHigh 1.2888191, TypeApartment -0.5723501, TypeAtrium -0.3661866,
    TypeTerrace -1.0910149, ContHigh 0.3602841; intercepts Low|Medium -0.4961353, Medium|High 0.6907083;
    residual deviance 3479.149, AIC 3495.149; summary() SEs 0.10465, 0.12716, 0.11924, 0.15517,
    0.15149, 0.09554 and 0.1248, 0.1255. The same estimates and deviance are the reference values of
    https://github.com/OpenMendel/OrdinalMultinomialModels.jl (test/polrfit_test.jl).
    Tolerances follow the printed digits: polr's optim stops ~1e-7 short of the optimum.
    """
    design, y, w = [], [], []
    for infl, kind, cont, freqs in HOUSING:
        x = [infl == "Medium", infl == "High", kind == "Apartment", kind == "Atrium", kind == "Terrace",
             cont == "High"]
        for category, freq in enumerate(freqs):
            design.append([float(v) for v in x])
            y.append(category)
            w.append(freq)
    assert len(y) == 72 and sum(w) == 1681
    res = st.cumulative_logit(design, y, w)
    assert res["converged"]
    polr = [0.5663937, 1.2888191, -0.5723501, -0.3661866, -1.0910149, 0.3602841]
    assert res["coefficients"] == approx(polr, abs=1e-5)
    assert res["thresholds"] == approx([-0.4961353, 0.6907083], abs=1e-5)
    assert res["deviance"] == approx(3479.149, abs=1e-3)
    assert res["loglik"] == approx(-3479.149 / 2, abs=1e-3)
    assert res["deviance"] + 2 * (6 + 2) == approx(3495.149, abs=1e-3)  # AIC
    assert res["coefficient_se"] == approx([0.10465, 0.12716, 0.11924, 0.15517, 0.15149, 0.09554], abs=1e-4)
    assert res["threshold_se"] == approx([0.1248, 0.1255], abs=1e-4)


def test_cumulative_logit_refuses_malformed_input():
    with pytest.raises(ValueError, match="every category"):
        st.cumulative_logit([[0.0], [1.0]], [0, 2], [3, 4])  # category 1 unused
    with pytest.raises(ValueError, match="n x p"):
        st.cumulative_logit([0.0, 1.0], [0, 1], [3, 4])


def test_describe_and_bootstrap_are_seeded():
    res = st.describe([1, 2, 3, 4, 5, 5])
    # R: quantile(c(1, 2, 3, 4, 5, 5)) -> 25% 2.25, 50% 3.5, 75% 4.75 (type 7); sd = 1.632993.
    assert (res["q1"], res["median"], res["q3"]) == approx((2.25, 3.5, 4.75))
    assert res["sd"] == approx(1.632993, abs=1e-6) and res["iqr"] == approx(2.5)
    assert res["ci_low"] < res["mean"] < res["ci_high"]
    assert st.describe([1, 2, 3, 4, 5, 5]) == res
    one = st.describe([3])
    assert one["sd"] is None and one["ci_low"] is None and "one participant" in one["reason"]
    assert st.describe([])["mean"] is None


def test_clean_turns_nan_into_none():
    assert st.clean({"a": float("nan"), "b": [1.0, float("inf")]}) == {"a": None, "b": [1.0, None]}


def test_fisher_monte_carlo_on_a_table_with_more_cells_than_people():
    # The issue's early study: 1 screened out in decomposition, 2 no consent in r1, 1 screened out in
    # posthoc. scipy 1.17's r x c Fisher test returns its p-value as an array for such a table (its
    # statistic takes a table with more cells than observations for a batch of tables).
    table = [[1, 0], [0, 2], [1, 0]]
    # Exact, by enumeration: the margins (1, 2, 1) x (2, 2) allow four tables, of probabilities 1/6,
    # 1/6, 1/3 and 1/3 (multivariate hypergeometric); the observed one has 1/6, so p = 1/6 + 1/6.
    res = st.independence_test(table)
    assert res["test"] == "fisher_monte_carlo" and type(res["p"]) is float
    assert res["p"] == approx(1 / 3, abs=0.015)
    assert st.independence_test(table) == res  # seeded: the same p on every run
    assert st.independence_test(table, seed=1)["p"] != res["p"]
    # A 2 x 2 table with more cells than people goes to the exact test, as scipy's fisher_exact.
    res = st.independence_test([[1, 0], [0, 1]])
    assert res["test"] == "fisher" and type(res["p"]) is float
    assert res["p"] == sps.fisher_exact([[1, 0], [0, 1]]).pvalue == 1.0


@pytest.mark.parametrize("values", [
    np.random.default_rng(5).gamma(2.0, 20.0, 400),  # reading times: every value distinct, drawn directly
    np.random.default_rng(5).integers(1, 6, 400) / 2,  # scores: nine values, drawn as counts
])
def test_the_mean_interval_is_scipys_percentile_bootstrap_either_way(values, monkeypatch):
    """bootstrap_mean_ci draws counts over few distinct values and the values themselves otherwise:
    either way scipy.stats.bootstrap's percentile interval, up to Monte Carlo error, seeded, and the
    direct draws do not depend on how many resamples are drawn at a time."""
    describe_module = importlib.import_module("analysis.stats.describe")  # the package exports describe()
    res = sps.bootstrap([values], np.mean, n_resamples=2000, method="percentile",
                        rng=np.random.default_rng(1))
    ours = st.bootstrap_mean_ci(values, seed=3)
    width = res.confidence_interval.high - res.confidence_interval.low
    assert ours[0] == approx(res.confidence_interval.low, abs=0.1 * width)
    assert ours[1] == approx(res.confidence_interval.high, abs=0.1 * width)
    monkeypatch.setattr(describe_module, "DIRECT_ROWS", 7)
    assert st.bootstrap_mean_ci(values, seed=3) == ours
