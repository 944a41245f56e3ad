"""analysis.stats.permutation: the randomisation tests of condition on summed scores, against their
distributions listed by hand; pure, no database."""

from pytest import approx

from analysis.stats import permutation_omnibus, permutation_pairs


def test_between_participants_every_split_is_counted():
    # Two groups of two from {1, 2, 3, 4}: six splits. The observed {1, 2} | {3, 4} gives the largest
    # Σ S² / n, 29, as does its mirror: p = 2/6. scipy lists all six when asked for more permutations.
    result = permutation_omnibus({"a": [1, 2], "b": [3, 4]}, permutations=100)
    assert result["statistic"] == approx(29) and result["p"] == approx(2 / 6) and result["n"] == 4
    (pair,) = permutation_pairs({"a": [1, 2], "b": [3, 4]}, permutations=100)
    assert pair["difference"] == approx(-2) and pair["p"] == approx(2 / 6)


def test_within_participants_conditions_move_only_within_a_participant():
    # Three participants, each with a sum in two conditions: 2³ = 8 ways to swap them. Observed
    # a = (3, 5, 4), b = (1, 2, 1): S² sums 144 + 16 = 160; only the all-swapped arrangement ties it,
    # so p = 2/8; the paired mean difference 8/3 is as extreme only there and mirrored: 2/8.
    groups = {"a": [3, 5, 4], "b": [1, 2, 1]}
    result = permutation_omnibus(groups, paired=True, permutations=100)
    assert result["statistic"] == approx(160) and result["p"] == approx(2 / 8) and result["n"] == 3
    (pair,) = permutation_pairs(groups, paired=True, permutations=100)
    assert pair["difference"] == approx(8 / 3) and pair["p"] == approx(2 / 8)


def test_random_permutations_are_reproducible_and_refusals_are_explained():
    groups = {c: [float(i * j % 7) for i in range(12)] for j, c in enumerate("abcd", start=1)}
    first, again = permutation_omnibus(groups, seed=5), permutation_omnibus(groups, seed=5)
    assert first["p"] == again["p"] and first["permutations"] == 5000 and 1 / 5001 <= first["p"] <= 1
    assert permutation_omnibus({"a": [1.0], "b": [2.0, 3.0]})["reason"].startswith("fewer than two")
    assert permutation_pairs({"a": [1.0], "b": [2.0, 3.0]})[0]["reason"] == "fewer than two participants"
