"""The researchers' report as one JSON-ready dict: the analysis plan's results first (the primary
family, then the composite as its own family), then everything else as sensitivity analyses, with
the details of every outcome, the stimuli, the end-of-study items, reading, devices and attrition.

Numbers that cannot be computed are None with a reason in words; the JSON never holds NaN (it is
dumped with allow_nan=False)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass, replace

from .. import stats as st
from . import behaviour, covariates, steps
from . import scores as sc
from .options import PARADATA_RULES, SEED, Options, exclude
from .outcome import MIXED_MAX_ANSWERS, analyse, model_inputs, score_permutations
from .plan import PAIRWISE_NAMES, TEST_NAMES, WITHIN_PAIRWISE_NAMES, WITHIN_TEST_NAMES, PlanData
from .words import CHI, EPS, fmt_p, not_computed, num, words_equivalence, words_independence, words_pair

N_BOOT = 2000
OTHER_TESTS = ("kruskal", "welch", "ordinal", "mixed")
OTHER_TESTS_WITHIN = ("friedman", "mixed")
DESIGN_WORDS = {
    "between": "Between participants: each participant read one condition, and the conditions are compared "
               "between participants.",
    "within": "Within participants: each participant read every condition, on different problems, so the "
              "conditions are compared within participants: each participant's score per condition is the "
              "mean of their answers on the trials in it; the mixed model has condition as a "
              "within-participant factor (random intercepts for participants and problems); the rank "
              "tests are Friedman's and Wilcoxon's signed-rank tests.",
}


@dataclass
class Sample:
    """Who is analysed under a set of exclusion rules, and the outcomes' data for them."""

    exclusions: dict
    kept: list
    outcomes: dict[str, sc.Outcome]


def build(data, options: Options | None = None) -> dict:
    """The whole report (see the module docstring)."""
    return build_with_scores(data, options)[0]


def build_with_scores(data, options: Options | None = None) -> tuple[dict, dict]:
    """The report, and the participants' scores per outcome and condition (for the plots' points).

    The plan's exclusion rules decide the primary analysis; ``options`` (the page's choice, the plan's
    rules by default) decide the detailed sections, and where they differ from the plan's, the plan's
    tests are run again with them and reported as a deviation.

    The outcomes are the constructs of the study's per-trial items (``scores.outcome_plan``). Within
    participants (``data.design``), the exclusion, device and attrition tables have one group, everyone,
    and each outcome is analysed with the repeated-measures tests."""
    plan: PlanData = data.plan
    options = options or plan.options
    within = data.design == "within"
    codes = [c for c, _ in data.conditions]
    groups = [sc.WITHIN_GROUP] if within else codes
    outcome_plan = sc.outcome_plan(data.items)
    keys = outcome_plan.keys
    sample = _sample(data, options, codes, groups)
    blocks = _analyse_all(sample, plan, codes, keys, keys, within)
    planned_sample = sample
    if options == plan.options:
        planned = blocks
        planned_exclusions = sample.exclusions
    else:
        planned_sample = _sample(data, plan.options, codes, groups)
        wanted = [k for k in (*plan.primary_outcomes, sc.COMPOSITE) if k in keys]
        planned = _analyse_all(planned_sample, plan, codes, wanted, keys, within)
        planned_exclusions = planned_sample.exclusions
    constructs = [blocks[k] for k in keys]
    _holm_across(constructs, plan, within)
    missing = _missing(plan, outcome_plan)
    by_paradata = _paradata_sensitivity(data, plan, planned_exclusions, codes, groups, keys, within, missing)
    by_covariates = covariates.adjusted_models(
        planned_sample, data.items, codes, [k for k in plan.primary_outcomes if k in keys]
    )
    deviation = None
    if options != plan.options:
        deviation = {
            "options": asdict(options),
            "primary": planned_family(blocks, plan, plan.primary_outcomes, within, missing),
            "secondary": planned_family(blocks, plan, (sc.COMPOSITE,), within),
        }
    analysed = sample.exclusions["analysed"]
    sizes = [n for n in analysed.values() if n > 0]
    columns = ["completed", "abandoned", "screened_out", "no_consent"]
    attrition_rows = [
        {"condition": c, **data.attrition.get(c, dict.fromkeys([*columns, "assigned", "active"], 0))}
        for c in groups
    ]
    if within:
        attrition_test = {"test": None, "p": None, "reason": "within participants", "words": (
            "Not tested: within participants everyone is assigned every condition, so leaving cannot "
            "differ by condition; the counts are the study's.")}
    else:
        attrition_test = st.independence_test([[r[k] for k in columns] for r in attrition_rows], seed=SEED)
        attrition_test["words"] = words_independence(attrition_test)
    counts = _item_counts(sample.kept, data.items, codes, groups, within)
    labels = dict(data.conditions)
    report = {
        "study": {"slug": data.slug, "title": data.title},
        "design": {"key": data.design, "within": within, "words": DESIGN_WORDS[data.design]},
        "plan": plan.summary(),
        "options": asdict(options),
        "conditions": [{"code": c, "label": label} for c, label in data.conditions],
        "groups": ([{"code": sc.WITHIN_GROUP, "label": "All participants (each read every condition)"}]
                   if within else [{"code": c, "label": labels[c]} for c in codes]),
        "methods": methods(plan, data.items, outcome_plan, within),
        "primary": {**planned_family(planned, plan, plan.primary_outcomes, within, missing),
                    "exclusions": planned_exclusions},
        "secondary": planned_family(planned, plan, (sc.COMPOSITE,), within),
        "sensitivity": {"deviation": deviation, "other_tests": other_tests(constructs, plan, within),
                        "paradata": by_paradata, "covariates": by_covariates},
        "exclusions": sample.exclusions,
        "constructs": constructs,
        "refused": outcome_plan.refused,
        "stimuli": [
            {"key": key, "label": label, "rows": sc.stimulus_means(sample.outcomes[key], data.stimuli, codes)}
            for key, label, _ in outcome_plan.outcomes
        ],
        "trace_models": [
            {"key": key, "label": label,
             "rows": sc.trace_model_means(sample.outcomes[key], data.trace_models, codes)}
            for key, label, _ in outcome_plan.outcomes
        ],
        "end_items": end_items(sample.kept, [i for i in data.items if i.scope == "end"], codes, plan, within),
        "reading": reading_times(sample.kept, codes),
        "devices": {
            c: dict(Counter(p.device_class or "unknown" for p in sample.kept if p.condition == c))
            for c in groups
        },
        "power": _powers(within, len(sizes), statistics.harmonic_mean(sizes) if sizes else 0, len(codes),
                         data.target_per_condition),
        "items": [
            {"code": i.code, "construct": i.construct, "scope": i.scope, "text": i.text, "anchors": i.anchors,
             "points": i.scale_points, "reverse_keyed": i.reverse_keyed, "counts": counts[i.code]}
            for i in data.items
        ],
        "attrition": {"rows": attrition_rows, "test": attrition_test},
        "models": data.model_tables,
        "behaviour": _behaviour(data, sample) if data.task != "rating" else None,
        "steps": _steps(data, sample) if data.step_rating else None,
    }
    return st.clean(report), {k: o.scores for k, o in sample.outcomes.items()}


def _behaviour(data, sample: Sample) -> dict:
    """The task's section over the participants analysed, with each participant's score per condition
    on each outcome (the outcomes' own, reverse-keyed items scored), to set against their accuracy."""
    ratings = {(person, condition, key): score for key, outcome in sample.outcomes.items()
               for person, scores in outcome.by_person.items() for condition, score in scores.items()}
    analysed = {person.pk for person in sample.kept}
    judged = [j for j in data.judgements if j.participant in analysed]
    return behaviour.section(judged, [c for c, _ in data.conditions], ratings)


def _steps(data, sample: Sample) -> dict:
    """The step marks' section over the participants analysed (the exclusions applied)."""
    analysed = {person.pk for person in sample.kept}
    return steps.section([m for m in data.step_marks if m.participant in analysed],
                         [c for c, _ in data.conditions])


def _sample(data, options: Options, codes: list[str], groups: list[str]) -> Sample:
    """Apply the exclusion rules to the finished participants and compute the outcomes' data."""
    exclusions, kept = exclude(data.participants, data.items, groups, options)
    return Sample(exclusions, kept, sc.outcomes(kept, data.items, codes))


def _paradata_sensitivity(data, plan: PlanData, planned: dict, codes: list[str], groups: list[str],
                          keys: list[str], within: bool, missing: list[dict]) -> list[dict]:
    """Each paradata rule the plan leaves off (options.PARADATA_RULES), where it flags anyone of those the
    plan analyses: the planned tests of the primary outcomes again with that rule applied as well."""
    flagged = {c["key"]: c for c in planned["criteria"]}
    checks = []
    for rule in PARADATA_RULES:
        if getattr(plan.options, rule) or not flagged[rule]["flagged_total"]:
            continue
        sample = _sample(data, replace(plan.options, **{rule: True}), codes, groups)
        wanted = [k for k in plan.primary_outcomes if k in keys]
        family = planned_family(_analyse_all(sample, plan, codes, wanted, keys, within), plan,
                                plan.primary_outcomes, within, missing)
        excluded = sample.exclusions["excluded_total"] - planned["excluded_total"]
        checks.append({"rule": rule, "label": flagged[rule]["label"], "more_excluded": excluded,
                       "analysed_total": sample.exclusions["analysed_total"], "primary": family})
    return checks


def _analyse_all(sample: Sample, plan: PlanData, codes: list[str], keys: list[str], order: list[str],
                 within: bool) -> dict[str, dict]:
    ex = sample.exclusions
    finished, analysed = ex["finished"], ex["analysed"]
    if within:  # everyone finished and analysed read every condition
        finished = dict.fromkeys(codes, sum(finished.values()))
        analysed = dict.fromkeys(codes, ex["analysed_total"])
    keys = list(dict.fromkeys(keys))
    # the mixed models' permutation tests, all outcomes on the same permutations (seeded as the first's)
    inputs = {key: model_inputs(sample.outcomes[key], codes) for key in keys}
    permutations = score_permutations({k: v for k, v in inputs.items() if not isinstance(v, str)}, within,
                                      seed=SEED + 70)
    return {
        key: analyse(sample.outcomes[key], codes, plan.equivalence_margin, plan.alpha,
                     seed=SEED + 100 * order.index(key), finished=finished, analysed=analysed, within=within,
                     model=inputs[key], permutation=permutations.get(key))
        for key in keys
    }


def _missing(plan: PlanData, outcome_plan: sc.Plan) -> list[dict]:
    """The plan's primary outcomes the report cannot analyse, and why."""
    refused = {r["key"]: r["reason"] for r in outcome_plan.refused}
    return [
        {"key": key, "label": sc.label(key),
         "reason": refused.get(key, "not a construct of this study's per-trial items")}
        for key in plan.primary_outcomes if key not in outcome_plan.keys
    ]


def _holm_across(constructs: list[dict], plan: PlanData, within: bool = False) -> None:
    """Holm within the plan's families for every test of every outcome (for the detailed sections):
    the primary outcomes together, the composite alone, any other construct together; and for the
    equivalence verdicts, over every pair of every outcome of the family."""
    families = [
        [c for c in constructs if c["key"] in plan.primary_outcomes],
        [c for c in constructs if c["key"] == sc.COMPOSITE],
        [c for c in constructs if c["key"] not in plan.primary_outcomes and c["key"] != sc.COMPOSITE],
    ]
    for family in families:
        for test in OTHER_TESTS_WITHIN if within else OTHER_TESTS:
            for c, adjusted in zip(family, st.holm([c[test].get("p") for c in family]), strict=True):
                c[test]["p_holm_family"] = adjusted
        effects = [e for c in family for e in c["effects"]]
        for e, adjusted in zip(effects, st.holm([e["equivalence"]["p"] for e in effects]), strict=True):
            e["equivalence"]["p_holm_family"] = adjusted
            e["equivalence_words"] = words_equivalence({**e["equivalence"], "p": adjusted}, plan.alpha,
                                                       "p(Holm)")


def planned_family(blocks: dict[str, dict], plan: PlanData, keys, within: bool = False,
                   missing: list[dict] | None = None) -> dict:
    """The planned test and pairwise comparisons for each outcome of a family, Holm across the family:
    the outcomes' tests together; the pairwise comparisons of every outcome together, and their
    equivalence tests together, so that no pair is called different or equivalent at more than the
    plan's alpha across the family. The plan's outcomes the study cannot analyse are listed with why."""
    results = [planned_result(blocks[key], plan, within) for key in keys if key in blocks]
    for result, adjusted in zip(results, st.holm([r["p"] for r in results]), strict=True):
        result["p_holm_family"] = adjusted
    pairs = [pair for result in results for pair in result["pairs"]]
    adjusted_p = st.holm([p["p_unadjusted"] for p in pairs])
    adjusted_equivalence = st.holm([p["equivalence_p_unadjusted"] for p in pairs])
    for pair, adjusted, equivalent in zip(pairs, adjusted_p, adjusted_equivalence, strict=True):
        pair["p"], pair["equivalence_p"] = adjusted, equivalent
        row, stat = pair.pop("row"), pair.pop("stat")
        pair["words"] = (words_pair(row, stat, adjusted, "p(Holm)") if adjusted is not None
                         else not_computed(row.get("reason") or "no p-value"))
        pair["equivalence"] = words_equivalence({**pair.pop("tost"), "p": equivalent}, plan.alpha, "p(Holm)")
    names = (WITHIN_TEST_NAMES, WITHIN_PAIRWISE_NAMES) if within else (TEST_NAMES, PAIRWISE_NAMES)
    family = {"outcomes": results, "test": names[0][plan.primary_test], "pairwise": names[1][plan.pairwise],
              "protection": (f"Holm across all {len(pairs)} pairwise comparisons of the family's "
                             f"{len(results)} outcome{'s' if len(results) != 1 else ''}, and across their "
                             "equivalence tests")}
    if missing:
        family["missing"] = missing
    return family


def planned_result(block: dict, plan: PlanData, within: bool = False) -> dict:
    """What the plan's test says about one outcome; where the mixed model was not fitted, the
    cluster-robust proportional-odds model stands in (within participants, Friedman's test), and the
    result says why. Within participants the plan's Kruskal-Wallis test or Welch's ANOVA runs as
    Friedman's test and its pairwise tests as Wilcoxon signed-rank tests: there is no independent-groups
    test of a repeated measure. The mixed model's test is its permutation test. The pairs carry their
    unadjusted p-values; ``planned_family`` adjusts them across the family and words them."""
    model, note = plan.primary_test, None
    if within and model in ("kruskal", "welch"):
        model = "friedman"
        note = (f"Within participants the plan's {TEST_NAMES[plan.primary_test]} runs as "
                f"{_omnibus_name(block)}, the repeated-measures rank test.")
    mixed = block["mixed"]
    if model == "ordinal_mixed" and not (mixed["fitted"] and mixed["permutation"]["p"] is not None):
        model = "friedman" if within else "ordinal"
        stand_in = (_omnibus_name(block) if within
                    else "the proportional-odds model with cluster-robust errors")
        reason = mixed["reason"] or mixed["permutation"]["reason"]
        note = f"The mixed model was not fitted ({reason}); {stand_in} stands in."
    source = {"ordinal_mixed": block["mixed"], "ordinal": block.get("ordinal"),
              "kruskal": block.get("kruskal"), "welch": block.get("welch"),
              "friedman": block.get("friedman")}[model]
    p = source["permutation"]["p"] if model == "ordinal_mixed" else source.get("p")
    if plan.pairwise == "model" and model in ("ordinal_mixed", "ordinal"):
        pairs, stat = source.get("contrasts", []), "model"
    elif within:
        pairs, stat = block["wilcoxon"], "wilcoxon"
    else:
        pairs, stat = block[plan.pairwise], plan.pairwise
    if model == "ordinal_mixed" and stat == "model":
        stat = "model_permutation"
    effects = {(e["a"], e["b"]): e for e in block["effects"]}
    return {
        "key": block["key"], "label": block["label"], "model": model, "note": note,
        "p": p, "words": source["words"],
        "pairs": [
            {"a": pair["a"], "b": pair["b"], "row": pair, "stat": stat,
             "p_unadjusted": pair.get("p_permutation") if stat == "model_permutation" else pair.get("p"),
             "effect": effects[(pair["a"], pair["b"])]["words"],
             "tost": effects[(pair["a"], pair["b"])]["equivalence"],
             "equivalence_p_unadjusted": effects[(pair["a"], pair["b"])]["equivalence"]["p"]}
            for pair in pairs
        ],
        "po_check": "" if within else _po_words(block["ordinal"]),
    }


def _omnibus_name(block: dict) -> str:
    if block["friedman"]["test"] == "friedman":
        return "Friedman's test"
    return "the Wilcoxon signed-rank test (two conditions)"


def other_tests(constructs: list[dict], plan: PlanData, within: bool = False) -> list[dict]:
    """Per outcome, the tests the plan did not choose, in words: the sensitivity analyses."""
    names = {"kruskal": "Kruskal-Wallis", "welch": "Welch's ANOVA",
             "ordinal": "Proportional odds, cluster-robust", "mixed": "Cumulative link mixed model",
             "friedman": "Friedman (two conditions: Wilcoxon signed-rank)"}
    planned = {"ordinal_mixed": "mixed"}.get(plan.primary_test, plan.primary_test)
    if within and planned in ("kruskal", "welch"):
        planned = "friedman"
    return [
        {"key": c["key"], "label": c["label"],
         "tests": [{"name": names[t], "words": c[t].get("words") or f"Not fitted: {c[t].get('reason')}."}
                   for t in (OTHER_TESTS_WITHIN if within else OTHER_TESTS) if t != planned]}
        for c in constructs
    ]


def _po_words(ordinal: dict) -> str:
    test = ordinal.get("po_test")
    if not test:
        return "Proportional odds: not checked (no model)."
    if test.get("p") is None:
        return f"Proportional odds: not checked ({test['reason']})."
    verdict = "no evidence against it" if test["p"] >= 0.05 else "the assumption is doubtful"
    return (f"Proportional odds: F({test['df1']}, {test['df2']}) = {num(test['F'])}, {fmt_p(test['p'])}, "
            f"the conditions' cumulative log odds against parallel ({verdict}; participants as clusters).")


def methods(plan: PlanData, items: list | None = None, outcome_plan: sc.Plan | None = None,
            within: bool = False) -> list[str]:
    """The methods in words; the sentences on reverse-keyed items, scales and the within-participants
    tests appear where the study has them."""
    test, pairwise = TEST_NAMES[plan.primary_test], PAIRWISE_NAMES[plan.pairwise]
    if within:
        test, pairwise = WITHIN_TEST_NAMES[plan.primary_test], WITHIN_PAIRWISE_NAMES[plan.pairwise]
    margin = plan.equivalence_margin
    items = items or []
    keys = outcome_plan.keys if outcome_plan else [sc.COMPOSITE]
    exact = "kept as an exact fraction until ranked so that equal scores tie exactly."
    score = ("A participant's construct score is the mean of their per-trial answers to its items (over "
             f"both items and every trial), {exact}")
    if within:
        score = ("A participant's construct score in a condition is the mean of their per-trial answers to "
                 f"its items on the trials in that condition, {exact}")
    if sc.COMPOSITE in keys:
        score += (" Interpretability is the mean of the predictability, understandability and faithfulness "
                  "scores.")
    lines = [
        "Participants analysed: finished the study (completed, or screened out by the attention checks "
        "when that exclusion is off); previews never count. The exclusion rules are the analysis plan's; "
        "others chosen on the page are reported as a deviation.",
        score,
    ]
    reversed_ = [i.code for i in items if i.reverse_keyed]
    if reversed_:
        lines.append(
            f"Reverse-keyed items ({', '.join(reversed_)}) are scored as scale points + 1 \u2212 answer "
            "before anything is computed from them (scores, reliability, the models' answers, the answer "
            "distributions of the outcomes); the item charts show the answers as chosen, and straight-lining "
            "is judged on the answers as chosen (the same point of the scale every time).")
    points = sorted({i.scale_points for i in items if i.scope == "trial"})
    if points and points != [5]:
        lines.append(
            f"Scales: {' and '.join(f'{p}-point' for p in points)} items; each outcome is analysed on its "
            "items' scale (scores from 1 to its number of points). A construct whose items mix scales is "
            "not pooled into one score: the report names it and leaves it out.")
    lines.append(f"Primary analysis, as planned: {test} for each primary outcome, Holm-adjusted across them; "
                 f"pairwise: {pairwise}, Holm-adjusted across every pair of every primary outcome, and the "
                 "equivalence tests likewise. The composite is its own family.")
    if plan.primary_test == "ordinal_mixed":
        lines.append(
            "The mixed model's test of condition: the model is fitted without condition, each answer's score "
            "(the derivative of its log-likelihood in the linear predictor) is summed per participant, and "
            f"conditions are permuted {st.PERMUTATIONS:,} times over "
            + ("each participant's own conditions" if within else "participants")
            + " (a randomisation test, exact at any sample size; the pairs likewise; seeded, the same "
            "permutations for every outcome measured on the same participants); the asymptotic Wald test is "
            "reported beside it.")
    lines.append(
        "Cumulative link mixed model: logit P(Y \u2264 j) = \u03b8_j \u2212 \u03b2_condition \u2212 "
        "u_participant \u2212 v_stimulus, random intercepts normal and crossed, fitted by the Laplace "
        "approximation as R's ordinal::clmm (checked against it); Wald tests with the inverse Hessian. "
        f"Fitted for up to {MIXED_MAX_ANSWERS:,} answers per outcome; beyond, the model below stands in "
        "and the report says so."
        + (" Each answer carries its trial's condition, so condition is a within-participant factor: the "
           "participant's intercept is shared by their answers in every condition." if within else ""))
    if within:
        lines += [
            "Repeated-measures rank tests on the participants with a score in every condition: Friedman's "
            "test (Kendall's W; with two conditions the Wilcoxon signed-rank test) and Wilcoxon signed-rank "
            "tests of each pair (R's V, Holm-adjusted), as R's friedman.test and wilcox.test(paired = TRUE). "
            "Within participants the plan's Kruskal\u2013Wallis test or Welch's ANOVA runs as Friedman's "
            "test and its Dunn, Mann\u2013Whitney or Games\u2013Howell comparisons as Wilcoxon signed-rank "
            "tests; Welch's ANOVA and the cluster-robust proportional-odds model, which compare independent "
            "groups, are not run.",
            "Effect sizes with 95% intervals: the mean of the paired differences with the paired t interval; "
            "the matched-pairs rank-biserial r (Kerby 2014) with a percentile bootstrap interval "
            f"({N_BOOT} resamples of the participants, seeded); odds ratios from the mixed model. "
            f"Equivalence: two one-sided paired t tests against \u00b1{margin:g} scale points.",
        ]
    else:
        lines += [
            "Proportional-odds model of the answers with cluster-robust (sandwich, by participant) standard "
            "errors and Wald tests, always reported as a check; its proportional-odds assumption is tested "
            "on the conditions' cumulative logits with participants as clusters (jackknife covariance, "
            "Hotelling's F).",
            "Effect sizes with 95% intervals: differences in means with Welch's interval; rank-biserial r "
            f"and {EPS}\u00b2 with percentile bootstrap intervals ({N_BOOT} resamples within conditions, "
            "seeded); odds ratios from the ordinal models. Equivalence: two one-sided Welch tests against "
            f"\u00b1{margin:g} scale points.",
            "Sensitivity analyses: Kruskal\u2013Wallis with Dunn and Mann\u2013Whitney tests, Welch's ANOVA "
            "with Games\u2013Howell comparisons, and the model the plan did not choose. Conditions with "
            "fewer than two participants are left out of every test (and named).",
        ]
    lines.append(
        "Descriptives: SD with n \u2212 1; quartiles as R's type 7; 95% CI of the mean by percentile "
        f"bootstrap ({N_BOOT} resamples, seeded). Reliability: Cronbach's \u03b1 with Feldt's interval, "
        "pooled and per condition, over items averaged over trials; Spearman\u2013Brown for two-item scales.")
    lines.append(
        f"Attrition: {CHI}\u00b2 test of independence of condition \u00d7 outcome, or Fisher's exact test "
        f"where an expected count is under 5 (beyond 2 \u00d7 2 by Monte Carlo over {st.FISHER_RESAMPLES:,} "
        "tables with the observed margins, seeded: the same data give the same p)."
        if not within else "Attrition: the study's counts (everyone is assigned every condition).")
    return lines


def end_items(people: list, items: list, codes: list[str], plan: PlanData,
              within: bool = False) -> list[dict]:
    """Each end-of-study item analysed as the per-trial outcomes are (one answer per participant, so
    no mixed model: the proportional-odds model is then the plain one), its answers scored (reverse-keyed
    turned round) on its own scale. Within participants everyone read every condition before answering:
    the item is described over everyone, with nothing to compare."""
    out = []
    groups = [sc.WITHIN_GROUP] if within else codes
    for i, item in enumerate(items):
        outcome = sc.Outcome(item.code, item.text, [], {c: [] for c in groups}, {c: [] for c in groups},
                             counts={c: [0] * item.scale_points for c in groups}, points=item.scale_points)
        for person in people:
            value = person.answers.get((None, item.code))
            if value is not None and person.condition in outcome.scores:
                value = sc.scored(item, value)
                outcome.scores[person.condition].append(float(value))
                outcome.answers[person.condition].append([value])
                outcome.counts[person.condition][value - 1] += 1
        facts = {"code": item.code, "construct": item.construct, "text": item.text,
                 "points": item.scale_points, "reverse_keyed": item.reverse_keyed}
        if within:
            out.append({**facts, "within": True, "descriptives": [
                {"condition": sc.WITHIN_GROUP,
                 **st.describe(outcome.scores[sc.WITHIN_GROUP], n_boot=N_BOOT, seed=SEED + 1000 + 10 * i)}]})
            continue
        sizes = {c: len(outcome.scores[c]) for c in codes}
        block = analyse(outcome, codes, plan.equivalence_margin, plan.alpha, seed=SEED + 1000 + 10 * i,
                        finished=sizes, analysed=sizes, mixed=False)
        out.append({**block, **facts})
    return out


READING_MEASURES = (
    ("page_seconds", "Time on the trial page (server), seconds per trace"),
    ("page_seconds_per_100_words", "Time on the trial page (server), seconds per 100 words of trace"),
    ("trace_seconds", "Time the trace was on screen (browser), seconds per trace"),
    ("trace_seconds_per_100_words", "Time the trace was on screen (browser), seconds per 100 words"),
)


def reading_times(people: list, codes: list[str]) -> list[dict]:
    """Per measure and condition, descriptives of each analysed participant's mean over their trials in
    that condition (within participants, a participant counts in every condition they read). The
    browser's measures count the trials where the page's script ran (none without JavaScript)."""
    values: dict[str, dict[str, list[float]]] = {key: {c: [] for c in codes} for key, _ in READING_MEASURES}
    for person in people:
        per: dict[tuple[str, str], list[float]] = {}
        for seconds, visible_ms, words, condition in person.readings:
            found = [("page_seconds", seconds)]
            if words:
                found.append(("page_seconds_per_100_words", 100 * seconds / words))
            if visible_ms is not None:
                found.append(("trace_seconds", visible_ms / 1000))
                if words:
                    found.append(("trace_seconds_per_100_words", 100 * visible_ms / 1000 / words))
            for key, value in found:
                per.setdefault((key, condition), []).append(value)
        for (key, condition), found in per.items():
            if condition in values[key]:
                values[key][condition].append(sum(found) / len(found))
    return [
        {
            "key": key,
            "label": label,
            "descriptives": [
                {"condition": c, **st.describe(values[key][c], n_boot=N_BOOT, seed=SEED + i)}
                for i, c in enumerate(codes)
            ],
        }
        for key, label in READING_MEASURES
    ]


def _item_counts(people: list, items: list, codes: list[str], groups: list[str],
                 within: bool) -> dict[str, dict[str, list[int]]]:
    """Per item, the answers as chosen (1 to its number of points) per condition: every trial's answer
    in its trial's condition for per-trial items; end-of-study items per group (within participants,
    everyone)."""
    counts = {i.code: {c: [0] * i.scale_points for c in (groups if i.scope == "end" else codes)}
              for i in items}
    for person in people:
        for (stimulus, item), value in person.answers.items():
            rows = counts.get(item, {})
            condition = person.condition if stimulus is None else person.condition_of(stimulus)
            if condition in rows and 1 <= value <= len(rows[condition]):
                rows[condition][value - 1] += 1
    return counts


def _powers(within: bool, k_analysed: int, n_analysed: float, k: int, target: int) -> dict:
    """The sensitivity statements of the analysed sample and the planned target (between participants)."""
    if within:
        words = ("Not computed: the one-way sensitivity analysis is for independent groups; within "
                 "participants each participant is measured in every condition.")
        return {key: {"k": k, "n_per_group": None, "f": None, "eta_squared": None, "words": words}
                for key in ("analysed", "planned")}
    return {"analysed": _power(k_analysed, n_analysed, "analysed sample"),
            "planned": _power(k, target, "planned target")}


def _power(k: int, n: float, what: str) -> dict:
    """Sensitivity statement: the smallest effect a one-way ANOVA on k groups of n detects."""
    if k < 2 or n < 2:
        return {"k": k, "n_per_group": n, "f": None, "eta_squared": None,
                "words": f"Not computed for the {what}: needs two groups of at least two participants."}
    power = st.sensitivity(k, n)
    size = f"{n:g}" if float(n).is_integer() else num(n, 1)
    power["words"] = (
        f"{what.capitalize()}: with {k} groups of {size}"
        + (" (harmonic mean)" if what == "analysed sample" else "")
        + f", a one-way ANOVA detects f = {num(power['f'], 2, False)} "
        f"(\u03b7\u00b2 = {num(power['eta_squared'], 3, False)}) with 80% power at \u03b1 = .05 "
        "(noncentral F with \u03bb = f\u00b2N, as G*Power and R's pwr.anova.test); a rough guide for the "
        "rank-based tests."
    )
    return power
