"""The study's statistics as pure functions over plain sequences; nothing here knows about Django.

Every function returns plain dicts (JSON-ready). A statistic that cannot be computed (a group under
two, no variance, a missing group) is ``None`` with a ``reason`` string in words, never NaN, and no
function raises on such data. Groups are given as a mapping from a label to a sequence of numbers;
the mapping's order is kept in the results.

One module per family of methods; this package gathers their public functions. References for the
formulas are named beside each function; the tests check each one against published example values.
"""

from .binary import accuracy, behaviour, calibration, correlation, median_rt, signal_detection, wilson
from .clmm import clmm
from .common import Groups, clean, holm, is_constant, rate
from .describe import bootstrap_mean_ci, describe
from .effects import (
    epsilon_squared_interval,
    equivalence,
    mean_difference,
    pairwise_effects,
    rank_biserial_interval,
)
from .glmm import mixed_logistic
from .means import games_howell, welch_anova
from .ordinal import contrasts, cumulative_logit, proportional_odds
from .paired import friedman, paired_difference, pairwise_wilcoxon, wilcoxon_signed_rank
from .permutation import (
    PERMUTATIONS,
    permutation_omnibus,
    permutation_omnibus_many,
    permutation_pairs,
    permutation_pairs_many,
)
from .power import anova_power, sensitivity
from .ranks import dunn, kruskal_wallis, mann_whitney, pairwise_mann_whitney
from .reliability import cronbach_alpha, spearman_brown
from .tables import FISHER_RESAMPLES, independence_test

__all__ = [
    "FISHER_RESAMPLES", "PERMUTATIONS", "Groups", "accuracy", "anova_power", "behaviour",
    "bootstrap_mean_ci", "calibration", "clean", "clmm", "contrasts", "correlation", "cronbach_alpha",
    "cumulative_logit", "describe", "dunn", "epsilon_squared_interval", "equivalence", "friedman",
    "games_howell", "holm", "independence_test", "is_constant", "kruskal_wallis", "mann_whitney",
    "mean_difference", "median_rt", "mixed_logistic", "paired_difference", "pairwise_effects",
    "pairwise_mann_whitney", "pairwise_wilcoxon", "permutation_omnibus", "permutation_omnibus_many",
    "permutation_pairs", "permutation_pairs_many",
    "proportional_odds", "rank_biserial_interval", "rate", "sensitivity", "signal_detection",
    "spearman_brown", "welch_anova", "wilcoxon_signed_rank", "wilson",
]
