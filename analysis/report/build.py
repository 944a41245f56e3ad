"""The researchers' report as one JSON-ready dict: the analysis plan's results first (the primary
family, then the composite as its own family), then everything else as sensitivity analyses, with
the details of every outcome, the stimuli, the end-of-study items, reading, devices and attrition.

Numbers that cannot be computed are None with a reason in words; the JSON never holds NaN (it is
dumped with allow_nan=False)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass

from .. import stats as st
from . import scores as sc
from .options import Options, exclude
from .outcome import MIXED_MAX_ANSWERS, analyse
from .plan import PAIRWISE_NAMES, TEST_NAMES, PlanData
from .words import CHI, EPS, fmt_p, num, words_independence

N_BOOT = 2000
SEED = 20250519
OTHER_TESTS = ("kruskal", "welch", "ordinal", "mixed")


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
    tests are run again with them and reported as a deviation."""
    plan: PlanData = data.plan
    options = options or plan.options
    codes = [c for c, _ in data.conditions]
    sample = _sample(data, options, codes)
    blocks = _analyse_all(sample, plan, codes, keys=[k for k, _ in sc.CONSTRUCTS])
    if options == plan.options:
        planned = blocks
        planned_exclusions = sample.exclusions
    else:
        planned_sample = _sample(data, plan.options, codes)
        planned = _analyse_all(planned_sample, plan, codes, keys=[*plan.primary_outcomes, sc.COMPOSITE])
        planned_exclusions = planned_sample.exclusions
    constructs = [blocks[k] for k, _ in sc.CONSTRUCTS]
    _holm_across(constructs, plan)
    deviation = None
    if options != plan.options:
        deviation = {
            "options": asdict(options),
            "primary": planned_family(blocks, plan, plan.primary_outcomes),
            "secondary": planned_family(blocks, plan, (sc.COMPOSITE,)),
        }
    analysed = sample.exclusions["analysed"]
    sizes = [n for n in analysed.values() if n > 0]
    columns = ["completed", "abandoned", "screened_out", "no_consent"]
    attrition_rows = [
        {"condition": c, **data.attrition.get(c, dict.fromkeys([*columns, "assigned", "active"], 0))}
        for c in codes
    ]
    counts = _item_counts(sample.kept, [i.code for i in data.items], codes)
    attrition_test = st.independence_test([[r[k] for k in columns] for r in attrition_rows], seed=SEED)
    report = {
        "study": {"slug": data.slug, "title": data.title},
        "plan": plan.summary(),
        "options": asdict(options),
        "conditions": [{"code": c, "label": label} for c, label in data.conditions],
        "methods": methods(plan),
        "primary": {**planned_family(planned, plan, plan.primary_outcomes), "exclusions": planned_exclusions},
        "secondary": planned_family(planned, plan, (sc.COMPOSITE,)),
        "sensitivity": {"deviation": deviation, "other_tests": other_tests(constructs, plan)},
        "exclusions": sample.exclusions,
        "constructs": constructs,
        "stimuli": [
            {"key": key, "label": label, "rows": sc.stimulus_means(sample.outcomes[key], data.stimuli, codes)}
            for key, label in sc.CONSTRUCTS
        ],
        "trace_models": [
            {"key": key, "label": label,
             "rows": sc.trace_model_means(sample.outcomes[key], data.trace_models, codes)}
            for key, label in sc.CONSTRUCTS
        ],
        "end_items": end_items(sample.kept, [i for i in data.items if i.scope == "end"], codes, plan),
        "reading": reading_times(sample.kept, codes),
        "devices": {
            c: dict(Counter(p.device_class or "unknown" for p in sample.kept if p.condition == c))
            for c in codes
        },
        "power": {
            "analysed": _power(len(sizes), statistics.harmonic_mean(sizes) if sizes else 0,
                               "analysed sample"),
            "planned": _power(len(codes), data.target_per_condition, "planned target"),
        },
        "items": [
            {"code": i.code, "construct": i.construct, "scope": i.scope, "text": i.text, "anchors": i.anchors,
             "counts": counts[i.code]}
            for i in data.items
        ],
        "attrition": {
            "rows": attrition_rows, "test": {**attrition_test, "words": words_independence(attrition_test)}
        },
        "models": data.model_tables,
    }
    return st.clean(report), {k: o.scores for k, o in sample.outcomes.items()}


def _sample(data, options: Options, codes: list[str]) -> Sample:
    """Apply the exclusion rules to the finished participants and compute the outcomes' data."""
    exclusions, kept = exclude(data.participants, data.items, codes, options)
    return Sample(exclusions, kept, sc.outcomes(kept, data.items, codes))


def _analyse_all(sample: Sample, plan: PlanData, codes: list[str], keys: list[str]) -> dict[str, dict]:
    ex = sample.exclusions
    order = [k for k, _ in sc.CONSTRUCTS]
    return {
        key: analyse(sample.outcomes[key], codes, plan.equivalence_margin, plan.alpha,
                     seed=SEED + 100 * order.index(key), finished=ex["finished"], analysed=ex["analysed"])
        for key in dict.fromkeys(keys)
    }


def _holm_across(constructs: list[dict], plan: PlanData) -> None:
    """Holm within the plan's families for every test of every outcome (for the detailed sections):
    the primary outcomes together, the composite alone, any other construct together."""
    families = [
        [c for c in constructs if c["key"] in plan.primary_outcomes],
        [c for c in constructs if c["key"] == sc.COMPOSITE],
        [c for c in constructs if c["key"] not in plan.primary_outcomes and c["key"] != sc.COMPOSITE],
    ]
    for family in families:
        for test in OTHER_TESTS:
            for c, adjusted in zip(family, st.holm([c[test].get("p") for c in family]), strict=True):
                c[test]["p_holm_family"] = adjusted


def planned_family(blocks: dict[str, dict], plan: PlanData, keys) -> dict:
    """The planned test and pairwise comparisons for each outcome of a family, Holm across the family."""
    results = [planned_result(blocks[key], plan) for key in keys if key in blocks]
    for result, adjusted in zip(results, st.holm([r["p"] for r in results]), strict=True):
        result["p_holm_family"] = adjusted
    return {"outcomes": results, "test": TEST_NAMES[plan.primary_test],
            "pairwise": PAIRWISE_NAMES[plan.pairwise]}


def planned_result(block: dict, plan: PlanData) -> dict:
    """What the plan's test says about one outcome; where the mixed model was not fitted, the
    cluster-robust proportional-odds model stands in, and the result says why."""
    model, note = plan.primary_test, None
    if model == "ordinal_mixed" and not block["mixed"]["fitted"]:
        model = "ordinal"
        note = (f"The mixed model was not fitted ({block['mixed']['reason']}); the proportional-odds model "
                "with cluster-robust errors stands in.")
    source = {"ordinal_mixed": block["mixed"], "ordinal": block["ordinal"], "kruskal": block["kruskal"],
              "welch": block["welch"]}[model]
    pairs = source.get("contrasts", []) if plan.pairwise == "model" else block[plan.pairwise]
    effects = {(e["a"], e["b"]): e for e in block["effects"]}
    return {
        "key": block["key"], "label": block["label"], "model": model, "note": note,
        "p": source.get("p"), "words": source["words"],
        "pairs": [
            {"a": p["a"], "b": p["b"], "words": p["words"], "p": p.get("p_holm", p.get("p")),
             "effect": effects[(p["a"], p["b"])]["words"],
             "equivalence": effects[(p["a"], p["b"])]["equivalence_words"],
             "equivalence_p": effects[(p["a"], p["b"])]["equivalence"]["p"]}
            for p in pairs
        ],
        "po_check": _po_words(block["ordinal"]),
    }


def other_tests(constructs: list[dict], plan: PlanData) -> list[dict]:
    """Per outcome, the tests the plan did not choose, in words: the sensitivity analyses."""
    names = {"kruskal": "Kruskal-Wallis", "welch": "Welch's ANOVA",
             "ordinal": "Proportional odds, cluster-robust", "mixed": "Cumulative link mixed model"}
    planned = {"ordinal_mixed": "mixed"}.get(plan.primary_test, plan.primary_test)
    return [
        {"key": c["key"], "label": c["label"],
         "tests": [{"name": names[t], "words": c[t].get("words") or f"Not fitted: {c[t].get('reason')}."}
                   for t in OTHER_TESTS if t != planned]}
        for c in constructs
    ]


def _po_words(ordinal: dict) -> str:
    test = ordinal.get("po_test")
    if not test or test.get("p") is None:
        return "Proportional odds: not checked (two answer categories, or no model)."
    verdict = "no evidence against it" if test["p"] >= 0.05 else "the assumption is doubtful"
    return (f"Proportional odds: {CHI}\u00b2({test['df']}) = {num(test['chi2'])}, {fmt_p(test['p'])} against "
            f"a separate answer distribution per condition ({verdict}; answers treated as independent).")


def methods(plan: PlanData) -> list[str]:
    test, pairwise = TEST_NAMES[plan.primary_test], PAIRWISE_NAMES[plan.pairwise]
    margin = plan.equivalence_margin
    return [
        "Participants analysed: finished the study (completed, or screened out by the attention checks "
        "when that exclusion is off); previews never count. The exclusion rules are the analysis plan's; "
        "others chosen on the page are reported as a deviation.",
        "A participant's construct score is the mean of their per-trial answers to its items (over both "
        "items and every trial), kept as an exact fraction until ranked so that equal scores tie exactly. "
        "Interpretability is the mean of the predictability, understandability and faithfulness scores.",
        f"Primary analysis, as planned: {test} for each primary outcome, Holm-adjusted across them; "
        f"pairwise: {pairwise}. The composite is its own family.",
        "Cumulative link mixed model: logit P(Y \u2264 j) = \u03b8_j \u2212 \u03b2_condition \u2212 "
        "u_participant \u2212 v_stimulus, random intercepts normal and crossed, fitted by the Laplace "
        "approximation as R's ordinal::clmm (checked against it); Wald tests with the inverse Hessian. "
        f"Fitted for up to {MIXED_MAX_ANSWERS:,} answers per outcome; beyond, the model below stands in "
        "and the report says so.",
        "Proportional-odds model of the answers with cluster-robust (sandwich, by participant) standard "
        "errors and Wald tests, always reported as a check; its proportional-odds assumption is tested "
        "against a separate answer distribution per condition.",
        "Effect sizes with 95% intervals: differences in means with Welch's interval; rank-biserial r and "
        f"{EPS}\u00b2 with percentile bootstrap intervals ({N_BOOT} resamples within conditions, seeded); "
        "odds ratios from the ordinal models. Equivalence: two one-sided Welch tests against "
        f"\u00b1{margin:g} scale points.",
        "Sensitivity analyses: Kruskal\u2013Wallis with Dunn and Mann\u2013Whitney tests, Welch's ANOVA "
        "with Games\u2013Howell comparisons, and the model the plan did not choose. Conditions with fewer "
        "than two participants are left out of every test (and named).",
        "Descriptives: SD with n \u2212 1; quartiles as R's type 7; 95% CI of the mean by percentile "
        f"bootstrap ({N_BOOT} resamples, seeded). Reliability: Cronbach's \u03b1 with Feldt's interval, "
        "pooled and per condition, over items averaged over trials; Spearman\u2013Brown for two-item scales.",
        f"Attrition: {CHI}\u00b2 test of independence of condition \u00d7 outcome, or Fisher's exact test "
        f"where an expected count is under 5 (beyond 2 \u00d7 2 by Monte Carlo over {st.FISHER_RESAMPLES:,} "
        "tables with the observed margins, seeded: the same data give the same p).",
    ]


def end_items(people: list, items: list, codes: list[str], plan: PlanData) -> list[dict]:
    """Each end-of-study item analysed as the per-trial outcomes are (one answer per participant, so
    no mixed model: the proportional-odds model is then the plain one)."""
    out = []
    for i, item in enumerate(items):
        outcome = sc.Outcome(item.code, item.text, [], {c: [] for c in codes}, {c: [] for c in codes},
                             counts={c: [0] * 5 for c in codes})
        for person in people:
            value = person.answers.get((None, item.code))
            if value is not None and person.condition in outcome.scores:
                outcome.scores[person.condition].append(float(value))
                outcome.answers[person.condition].append([value])
                outcome.counts[person.condition][value - 1] += 1
        sizes = {c: len(outcome.scores[c]) for c in codes}
        block = analyse(outcome, codes, plan.equivalence_margin, plan.alpha, seed=SEED + 1000 + 10 * i,
                        finished=sizes, analysed=sizes, mixed=False)
        out.append({**block, "code": item.code, "construct": item.construct, "text": item.text})
    return out


READING_MEASURES = (
    ("page_seconds", "Time on the trial page (server), seconds per trace"),
    ("page_seconds_per_100_words", "Time on the trial page (server), seconds per 100 words of trace"),
    ("trace_seconds", "Time the trace was on screen (browser), seconds per trace"),
    ("trace_seconds_per_100_words", "Time the trace was on screen (browser), seconds per 100 words"),
)


def reading_times(people: list, codes: list[str]) -> list[dict]:
    """Per measure and condition, descriptives of each analysed participant's mean over their trials.
    The browser's measures count the trials where the page's script ran (none without JavaScript)."""
    values: dict[str, dict[str, list[float]]] = {key: {c: [] for c in codes} for key, _ in READING_MEASURES}
    for person in people:
        per: dict[str, list[float]] = {key: [] for key, _ in READING_MEASURES}
        for seconds, visible_ms, words in person.readings:
            per["page_seconds"].append(seconds)
            if words:
                per["page_seconds_per_100_words"].append(100 * seconds / words)
            if visible_ms is not None:
                per["trace_seconds"].append(visible_ms / 1000)
                if words:
                    per["trace_seconds_per_100_words"].append(100 * visible_ms / 1000 / words)
        for key, found in per.items():
            if found:
                values[key][person.condition].append(sum(found) / len(found))
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


def _item_counts(people: list, items: list[str], codes: list[str]) -> dict[str, dict[str, list[int]]]:
    """Per item, the answers 1-5 per condition (every trial's answer for per-trial items)."""
    counts = {code: {c: [0] * 5 for c in codes} for code in items}
    for person in people:
        for (_, item), value in person.answers.items():
            if item in counts and person.condition in counts[item]:
                counts[item][person.condition][value - 1] += 1
    return counts


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
