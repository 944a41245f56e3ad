"""One outcome analysed: descriptives, the tests across conditions, pairwise comparisons with
effect sizes and intervals, equivalence, the ordinal models, and the scale's reliability."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from .. import stats as st
from .scores import Outcome
from .words import (
    ALPHA,
    fmt_p,
    interval,
    not_computed,
    num,
    words_difference,
    words_equivalence,
    words_friedman,
    words_kruskal,
    words_pair,
    words_wald,
    words_welch,
    words_wilcoxon,
)

N_BOOT = 2000
# The mixed model is fitted where the report stays within a web request's time (gunicorn's 60 s): up to
# this many answers per outcome (a study of 10,000 participants with 30 answers each, whose whole report
# with its ten model fits took 17.8 s on the 2-core development machine; docs/benchmarks.md); beyond,
# the cluster-robust model stands in and the report says so.
MIXED_MAX_ANSWERS = 300_000


def analyse(outcome: Outcome, codes: list[str], margin: float, alpha: float, seed: int, *,
            finished: dict[str, int], analysed: dict[str, int], mixed: bool = True,
            within: bool = False, model: tuple | str | None = None, permutation: dict | None = None) -> dict:
    """Every statistic of one outcome, JSON-ready (see the module docstring): between participants the
    independent-groups tests, within participants the repeated-measures ones (``within_tests``).
    ``model`` and ``permutation``: the mixed model's ``model_inputs`` and its permutation test, where
    the caller has them already (``score_permutations`` ran the tests of several outcomes at once)."""
    groups = outcome.scores
    block = {
        "key": outcome.key,
        "label": outcome.label,
        "items": outcome.items,
        "points": outcome.points,
        "descriptives": [
            _describe(c, groups[c], finished.get(c, 0), analysed.get(c, 0), seed=seed + j)
            for j, c in enumerate(codes)
        ],
    }
    if within:
        block.update(within_tests(outcome, codes, margin, alpha, seed))
    else:
        block.update(between_tests(outcome, margin, alpha, seed))
    block["mixed"] = (mixed_model(outcome, codes, within=within, seed=seed + 70, inputs=model,
                                  permutation=permutation)
                      if mixed else {"fitted": False, "reason": "not asked for"})
    block["reliability"] = reliability(outcome, codes)
    return block


def between_tests(outcome: Outcome, margin: float, alpha: float, seed: int) -> dict:
    """Each participant in one condition: Kruskal-Wallis with Dunn and Mann-Whitney, Welch's ANOVA with
    Games-Howell, Welch's difference and equivalence, the cluster-robust proportional-odds model."""
    groups = outcome.scores
    kruskal = st.kruskal_wallis(groups)
    interval_ = st.epsilon_squared_interval(groups, seed=seed)
    kruskal["epsilon_squared_ci"] = [interval_["ci_low"], interval_["ci_high"]]
    welch = st.welch_anova(groups)
    ordinal = st.proportional_odds(outcome.answers)
    return {
        "kruskal": {**kruskal, "words": words_kruskal(kruskal)},
        "welch": {**welch, "words": words_welch(welch)},
        "dunn": [{**r, "words": words_pair(r, "dunn")} for r in st.dunn(groups)],
        "mann_whitney": [
            {**r, "words": words_pair(r, "mann_whitney")} for r in st.pairwise_mann_whitney(groups)
        ],
        "games_howell": [{**r, "words": words_pair(r, "games_howell")} for r in st.games_howell(groups)],
        "effects": [
            {**r, "words": words_difference(r),
             "equivalence_words": words_equivalence(r["equivalence"], alpha)}
            for r in st.pairwise_effects(groups, margin, seed=seed + 50)
        ],
        "ordinal": {**ordinal, "words": words_wald(ordinal, "Cluster-robust Wald"), "counts": outcome.counts,
                    "contrasts": _robust_contrasts(ordinal)},
    }


def within_tests(outcome: Outcome, codes: list[str], margin: float, alpha: float, seed: int) -> dict:
    """Every participant in every condition: on the participants with a score in every condition,
    Friedman's test (two conditions: the Wilcoxon signed-rank test), Wilcoxon signed-rank tests of each
    pair (Holm), the mean paired difference with its t interval and the paired equivalence tests."""
    complete = [p for p, by in outcome.by_person.items() if all(c in by for c in codes)]
    table = {c: [outcome.by_person[p][c] for p in complete] for c in codes}
    pairs = [{**r, "words": words_pair(r, "wilcoxon")} for r in st.pairwise_wilcoxon(table, seed=seed + 50)]
    if len(codes) >= 3:
        friedman = st.friedman(table)
        omnibus = {**friedman, "test": "friedman", "words": words_friedman(friedman)}
    else:  # two conditions: the one pair's test is the omnibus test
        pair = pairs[0] if pairs else {"V": None, "p": None, "reason": "fewer than two conditions"}
        omnibus = {"test": "wilcoxon", "p": pair["p"], "reason": pair["reason"], "n": len(complete),
                   "words": "Wilcoxon signed-rank " + words_wilcoxon(pair, pair["p"])}
    effects = []
    for pair in pairs:
        a, b = pair["a"], pair["b"]
        paired = st.paired_difference(table[a], table[b], margin)
        row = {"a": a, "b": b, "reason": pair["reason"], **paired,
               "r_rb": {"r_rb": pair["r_rb"], "ci_low": pair["r_ci_low"], "ci_high": pair["r_ci_high"]}}
        effects.append({**row, "words": words_difference(row),
                        "equivalence_words": words_equivalence(row["equivalence"], alpha)})
    incomplete = len(outcome.by_person) - len(complete)
    return {"friedman": omnibus, "wilcoxon": pairs, "effects": effects, "complete": len(complete),
            "incomplete": incomplete, "counts": outcome.counts}


def mixed_model(outcome: Outcome, codes: list[str], *, within: bool = False, seed: int = 0,
                inputs: tuple | str | None = None, permutation: dict | None = None) -> dict:
    """The cumulative link mixed model of the answers on condition with random intercepts for
    participants and stimuli (crossed), as R's ordinal::clmm, with its test of condition: the
    permutation test of the model's score (``permutation``; ``stats.permutation``), which keeps its level
    at any number of participants, beside the asymptotic joint Wald test; the pairwise contrasts with
    odds ratios, each with its Wald z and its permutation p-value. Each row carries its trial's
    condition, so within participants condition is a within-participant factor of the same model and
    the permutation moves a participant's conditions among their own trials. ``inputs`` and
    ``permutation``: the outcome's ``model_inputs`` and that test, already computed."""
    out = {"fitted": False, "reason": None, "contrasts": [], "wald_chi2": None, "p": None,
           "permutation": {"p": None, "reason": None}}
    if inputs is None:
        inputs = model_inputs(outcome, codes)
    if isinstance(inputs, str):
        out["reason"] = out["permutation"]["reason"] = inputs
        return out
    present, y, condition, factors, _people = inputs
    if permutation is None:
        permutation = score_permutation(y, condition, factors, present, within, seed)
    out["permutation"] = permutation
    fit = st.clmm(y, np.eye(len(present))[condition][:, 1:], factors)
    kept = ("thresholds", "coefficients", "coefficient_se", "sds", "loglik", "converged")
    out.update({k: fit[k] for k in kept if k in fit})
    out.update(reference=present[0], conditions=present, df=len(present) - 1, n=len(y),
               reason=fit["reason"])
    if fit.get("coefficient_cov") is None:
        out["reason"] = fit["reason"] or "the model could not be fitted"
        return out
    beta, cov = np.asarray(fit["coefficients"]), np.asarray(fit["coefficient_cov"])
    try:
        wald = float(beta @ np.linalg.solve(cov, beta))
    except np.linalg.LinAlgError:
        out["reason"] = "the coefficients' covariance is singular"
        return out
    out.update(fitted=True, wald_chi2=wald, p=float(sps.chi2.sf(wald, len(present) - 1)))
    by_pair = {(r["a"], r["b"]): r["p"] for r in permutation.get("pairs", [])}
    out["contrasts"] = [
        {**row, "p_permutation": by_pair.get((row["a"], row["b"])),
         "words": words_pair(row, "model") if row["p"] is not None else not_computed(row["reason"])}
        for row in st.contrasts(present, beta, cov)
    ]
    sds = fit.get("sds") or []
    out["words"] = "; ".join(filter(None, [
        permutation["words"], words_wald(out, "Wald") + " (asymptotic)",
        f"random-intercept SDs: participants {num(sds[0])}, stimuli {num(sds[1])}" if len(sds) == 2 else ""]))
    return out


def model_inputs(outcome: Outcome, codes: list[str]) -> tuple | str:
    """The mixed model's data: the conditions with at least two participants, per answer its category
    index, condition index and (participant, stimulus) level indices, and the participants whose level
    indices they are; or why it is not fitted."""
    present = [c for c in codes if len(outcome.answers.get(c, [])) >= 2]
    rows = [r for r in outcome.rows if r[0] in present]
    values = np.array([r[3] for r in rows], dtype=int)
    if len(present) < 2:
        return "fewer than two conditions with at least two participants"
    if len(rows) > MIXED_MAX_ANSWERS:
        return (f"{len(rows):,} answers, over the {MIXED_MAX_ANSWERS:,} the report fits the mixed model for "
                "within its time budget; the cluster-robust model stands in")
    if len(np.unique(values)) < 2:
        return "no variance: every answer is the same"
    people, person = np.unique([r[1] for r in rows], return_inverse=True)
    factors = [person, np.unique([r[2] for r in rows], return_inverse=True)[1]]
    return (present, np.unique(values, return_inverse=True)[1],
            np.array([present.index(r[0]) for r in rows]), factors, people)


def score_permutation(y: np.ndarray, condition: np.ndarray, factors: list[np.ndarray], present: list[str],
                      within: bool, seed: int, *, pairs: bool = True) -> dict:
    """The mixed model's small-sample test of condition: the model fitted without condition, each
    answer's score summed per participant (within participants, per participant and condition), and
    conditions permuted over participants (within: among each participant's own conditions, on the
    participants who have all of them), jointly and per pair (``stats.permutation``)."""
    people = np.arange(factors[0].max() + 1)
    return score_permutations({"": (present, y, condition, factors, people)}, within, seed, pairs=pairs)[""]


def score_permutations(inputs: dict[str, tuple], within: bool, seed: int, *,
                       pairs: bool = True) -> dict[str, dict]:
    """``score_permutation`` of several outcomes (``model_inputs`` of each, by key) with one seed.
    Outcomes measured on the same participants are scored on the same permutations, drawn once (at
    thousands of participants drawing them is most of a test's cost); each outcome's p-values are those
    ``score_permutation`` gives it with this seed."""
    over = "each participant's conditions" if within else "participants"
    outs, tables, batches = {}, {}, {}
    for key, (present, y, condition, factors, people) in inputs.items():
        null = st.clmm(y, np.zeros((len(y), 0)), factors, standard_errors=False)
        outs[key] = {"p": None, "statistic": None, "permutations": st.PERMUTATIONS, "units": over,
                     "pairs": [], "n": 0, "reason": null["reason"], "null_model": null["reason"]}
        if null["response_scores"] is None:
            outs[key]["words"] = not_computed(null["reason"])
            continue
        tables[key], units = _summed_scores(null["response_scores"], condition, factors[0], people, present,
                                            within)
        batches.setdefault(units, []).append(key)
    for keys in batches.values():
        table_list = [tables[key] for key in keys]
        omnibus = st.permutation_omnibus_many(table_list, paired=within, seed=seed)
        pair_rows = (st.permutation_pairs_many(table_list, paired=within, seed=seed + 1) if pairs
                     else [[] for _ in keys])
        for key, joint, rows in zip(keys, omnibus, pair_rows, strict=True):
            out = outs[key]
            out.update(p=joint["p"], statistic=joint["statistic"], n=joint["n"], reason=joint["reason"],
                       pairs=rows)
            out["words"] = (not_computed(out["reason"]) if out["p"] is None else
                            f"Permutation test of the model's score ({st.PERMUTATIONS:,} permutations of "
                            f"conditions over {over}, n = {joint['n']}), {fmt_p(out['p'])}")
    return outs


def _summed_scores(scores: np.ndarray, condition: np.ndarray, person: np.ndarray, people: np.ndarray,
                   present: list[str], within: bool) -> tuple[dict[str, np.ndarray], tuple]:
    """Per condition, the participants' summed scores (within participants, each complete participant's
    sum over their trials in it), and which participants these are, condition by condition: outcomes
    with the same can share permutations."""
    if within:
        sums = np.zeros((person.max() + 1, len(present)))
        np.add.at(sums, (person, condition), scores)
        seen = np.zeros_like(sums, dtype=bool)
        seen[person, condition] = True
        complete = seen.all(axis=1)
        groups = {c: sums[complete, k] for k, c in enumerate(present)}
        return groups, (tuple(present), tuple(people[complete].tolist()))
    sums = np.bincount(person, scores)
    group_of = np.zeros(len(sums), dtype=int)
    group_of[person] = condition
    groups = {c: sums[group_of == k] for k, c in enumerate(present)}
    return groups, (tuple(present), *(tuple(people[group_of == k].tolist()) for k in range(len(present))))


def _robust_contrasts(ordinal: dict) -> list[dict]:
    """Pairwise contrasts of the cluster-robust proportional-odds model."""
    if ordinal["coefficient_cov"] is None:
        return []
    labels = [ordinal["reference"]] + [c["group"] for c in ordinal["coefficients"]]
    rows = st.contrasts(labels, [c["beta"] for c in ordinal["coefficients"]], ordinal["coefficient_cov"])
    return [{**r, "words": words_pair(r, "model") if r["p"] is not None else not_computed(r["reason"])}
            for r in rows]


def reliability(outcome: Outcome, codes: list[str]) -> dict:
    """Cronbach's alpha with Feldt's interval over the outcome's items, each averaged over a participant's
    trials (scored: reverse-keyed items turned round): pooled over all of a participant's trials, and per
    condition over their trials in it; Spearman-Brown where the scale has two items."""
    if len(outcome.items) < 2:
        return {"pooled": _alpha_words(None), "by_condition": [], "spearman_brown": None}
    k = len(outcome.items)
    position = {item: i for i, item in enumerate(outcome.items)}
    answers = [a for a in outcome.item_answers if a[2] in position]
    person = np.array([a[0] for a in answers], dtype=np.int64)
    conditions, condition = np.unique(np.array([a[1] for a in answers], dtype=str), return_inverse=True)
    item = np.array([position[a[2]] for a in answers], dtype=np.int64)
    value = np.array([a[3] for a in answers], dtype=float)
    pooled = _item_means(person, item, value, k)[0]
    per_condition, unit_condition = _item_means(person * len(conditions) + condition.ravel(), item, value, k,
                                                condition.ravel())
    named = dict(zip(conditions.tolist(), range(len(conditions)), strict=True))
    return {
        "pooled": _alpha_words(st.cronbach_alpha(pooled)),
        "by_condition": [
            {"condition": c,
             **_alpha_words(st.cronbach_alpha(per_condition[unit_condition == named.get(c, -1)]))}
            for c in codes
        ],
        "spearman_brown": st.spearman_brown(pooled) if k == 2 else None,
    }


def _item_means(unit: np.ndarray, item: np.ndarray, value: np.ndarray, k: int,
                tag: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Each unit's mean answer to each of the k items, for the units with every item, in the order the
    units first appear (sums of whole answers are exact, so each mean is the correctly rounded quotient
    the sum over a list gave); and each such unit's ``tag`` (the tag of its first answer)."""
    units, first, code = np.unique(unit, return_index=True, return_inverse=True)
    cell = code.ravel() * k + item
    sums = np.bincount(cell, value, len(units) * k).reshape(-1, k)
    counts = np.bincount(cell, minlength=len(units) * k).reshape(-1, k)
    complete = np.flatnonzero((counts > 0).all(axis=1))
    complete = complete[np.argsort(first[complete], kind="stable")]
    means = sums[complete] / counts[complete]
    return means, None if tag is None else tag[first[complete]]


def _alpha_words(res: dict | None) -> dict:
    if res is None:
        return {"alpha": None, "words": "Not computed: fewer than two items."}
    if res["alpha"] is None:
        return {**res, "words": not_computed(res["reason"])}
    return {**res, "words": f"{ALPHA} = {num(res['alpha'], 2, False)}, "
                            f"{interval(res['ci_low'], res['ci_high'], 2, False)}, n = {res['n']}"}


def _describe(condition: str, scores: list[float], finished: int, analysed: int, seed: int) -> dict:
    """A condition's descriptives; where everyone who finished was excluded, the note says so, since
    "no participants" beside an exclusions table counting them reads as a contradiction."""
    out = {"condition": condition, **st.describe(scores, n_boot=N_BOOT, seed=seed)}
    if finished and not analysed:
        out["reason"] = f"none left after the exclusions ({finished} finished)"
    return out
