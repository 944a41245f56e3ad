"""The researchers' report: exclusions, scores, statistics (analysis.stats) and their wording.

``build`` turns gathered data (analysis.data.StudyData) into one JSON-ready dict; ``render_html``
renders that dict as a self-contained HTML page with inline SVG plots. Numbers that cannot be computed
are None with a reason in words; the JSON never holds NaN (it is dumped with allow_nan=False).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from html import escape

from . import stats as st

CONSTRUCTS = [
    ("predictability", "Predictability"),
    ("understandability", "Understandability"),
    ("faithfulness", "Faithfulness"),
    ("cognitive_load", "Cognitive load"),
    ("interpretability", "Interpretability (composite)"),
]
COMPOSITE_OF = ("predictability", "understandability", "faithfulness")
ALPHA, CHI, EPS, MINUS = "\u03b1", "\u03c7", "\u03b5", "\u2212"
N_BOOT = 2000
SEED = 20250519
MAX_POINTS = 200  # per group: above this a box plot is drawn without its points


@dataclass(frozen=True)
class Options:
    attention: bool = True
    speeders: bool = True
    speeder_seconds: float = 10.0
    straightlining: bool = True
    straightline_scope: str = "all"  # "all": one value on every per-trial item; "trial": in any trial

    @classmethod
    def from_query(cls, query) -> Options:
        """From request.GET-like mappings: attention=0, speeders=0, speeder_seconds=8, ..."""

        def flag(name: str, default: bool) -> bool:
            value = query.get(name)
            return default if value is None else value.lower() not in ("0", "false", "no", "off")

        try:
            seconds = speeder_seconds(query.get("speeder_seconds", cls.speeder_seconds))
        except ValueError:
            seconds = cls.speeder_seconds
        scope = query.get("straightline_scope", "all")
        return cls(
            attention=flag("attention", True),
            speeders=flag("speeders", True),
            speeder_seconds=seconds,
            straightlining=flag("straightlining", True),
            straightline_scope=scope if scope in ("all", "trial") else "all",
        )


def speeder_seconds(text: str | float) -> float:
    """The speeder threshold: a finite number of seconds, zero or more, else ValueError in words; one
    check for the page's query and the analyze command (nan or -5 would flag no one, inf everyone)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"the speeder threshold must be a number of seconds, zero or more, not {text!r}")
    return value


# --- APA wording ----------------------------------------------------------------------------


def num(x: float, digits: int = 2, leading_zero: bool = True) -> str:
    text = f"{abs(x):.{digits}f}"
    if not leading_zero and text.startswith("0."):
        text = text[1:]
    return (MINUS if x < 0 and float(text) != 0 else "") + text


def fmt_p(p: float, name: str = "p") -> str:
    return f"{name} < .001" if p < 0.001 else f"{name} = {num(p, 3, False)}"


def words_kruskal(r: dict) -> str:
    if r["H"] is None:
        return f"Not computed: {r['reason']}."
    return (
        f"H({r['df']}) = {num(r['H'])}, {fmt_p(r['p'])}, {EPS}\u00b2 = {num(r['epsilon_squared'], 2, False)}"
    )


def words_welch(r: dict) -> str:
    if r["F"] is None:
        return f"Not computed: {r['reason']}."
    return f"F({r['df1']}, {num(r['df2'])}) = {num(r['F'])}, {fmt_p(r['p'])}"


def words_ordinal(r: dict) -> str:
    if r["lr_chi2"] is None:
        return f"Not computed: {r['reason']}."
    return f"LR {CHI}\u00b2({r['df']}) = {num(r['lr_chi2'])}, {fmt_p(r['p'])}"


def words_independence(r: dict) -> str:
    if r["p"] is None:
        return f"Not computed: {r['reason']}."
    if r["test"] == "chi2":
        return f"{CHI}\u00b2({r['df']}) = {num(r['statistic'])}, {fmt_p(r['p'])}"
    if r["test"] == "fisher":
        return f"Fisher's exact test, {fmt_p(r['p'])}"
    return f"Fisher's exact test (Monte Carlo), {fmt_p(r['p'])}"


def _pair_words(row: dict, stat: str) -> str:
    if row.get("reason") and row.get("p") is None:
        return f"Not computed: {row['reason']}."
    if stat == "dunn":
        return f"z = {num(row['z'])}, {fmt_p(row['p_holm'], 'p(Holm)')}"
    if stat == "mwu":
        return f"U = {num(row['U'], 1)}, {fmt_p(row['p_holm'], 'p(Holm)')}, r = {num(row['r_rb'], 2, False)}"
    return f"t({num(row['df'], 1)}) = {num(row['t'])}, {fmt_p(row['p'])}"


# --- exclusions and scores ------------------------------------------------------------------


def _flags(person, trial_items: set[str], options: Options) -> dict[str, bool]:
    trial_answers = {k: v for k, v in person.answers.items() if k[0] is not None and k[1] in trial_items}
    if options.straightline_scope == "trial":
        by_trial: dict = {}
        for (stimulus, _code), value in trial_answers.items():
            by_trial.setdefault(stimulus, []).append(value)
        straight = any(len(v) > 1 and len(set(v)) == 1 for v in by_trial.values())
    else:
        values = list(trial_answers.values())
        straight = len(values) > 1 and len(set(values)) == 1
    seconds = person.trial_seconds
    return {
        "attention": person.attention_passed is False,
        "speeders": bool(seconds) and statistics.median(seconds) < options.speeder_seconds,
        "straightlining": straight,
    }


def build(data, options: Options | None = None) -> dict:
    """The whole report as a JSON-ready dict (see the module docstring)."""
    return build_with_scores(data, options)[0]


def build_with_scores(data, options: Options | None = None) -> tuple[dict, dict]:
    """The report, and the participants' construct scores per condition (for the plots' points)."""
    options = options or Options()
    codes = [c for c, _ in data.conditions]
    labels = dict(data.conditions)
    item_construct = {i.code: i.construct for i in data.items}
    trial_items = {i.code for i in data.items if i.scope == "trial"}

    criteria = [
        ("attention", "Failed the attention check", options.attention),
        ("speeders", f"Median trial page time under {num(options.speeder_seconds, 1)} s", options.speeders),
        (
            "straightlining",
            "Same value on every per-trial item "
            + ("of a trial" if options.straightline_scope == "trial" else "of all trials"),
            options.straightlining,
        ),
    ]
    flagged = {key: dict.fromkeys(codes, 0) for key, _, _ in criteria}
    excluded = dict.fromkeys(codes, 0)
    finished = dict.fromkeys(codes, 0)
    kept = []
    for person in data.participants:
        if person.condition not in finished:
            continue
        finished[person.condition] += 1
        flags = _flags(person, trial_items, options)
        for key in flags:
            flagged[key][person.condition] += flags[key]
        if any(flags[key] and enabled for key, _, enabled in criteria):
            excluded[person.condition] += 1
        else:
            kept.append(person)
    analysed = {c: finished[c] - excluded[c] for c in codes}

    # Participant construct scores and item-level counts.
    scores: dict[str, dict[str, list[float]]] = {k: {c: [] for c in codes} for k, _ in CONSTRUCTS}
    responses: dict[str, dict[str, list[int]]] = {k: {c: [0] * 5 for c in codes} for k, _ in CONSTRUCTS}
    item_counts = {i.code: {c: [0] * 5 for c in codes} for i in data.items}
    item_means: dict[str, list[dict[str, float]]] = {k: [] for k, _ in CONSTRUCTS}
    for person in kept:
        per_construct: dict[str, list[int]] = {}
        per_item: dict[str, list[int]] = {}
        for (stimulus, code), value in person.answers.items():
            item_counts[code][person.condition][value - 1] += 1
            if stimulus is None or code not in trial_items:
                continue
            construct = item_construct[code]
            per_construct.setdefault(construct, []).append(value)
            per_item.setdefault(code, []).append(value)
            responses[construct][person.condition][value - 1] += 1
            if construct in COMPOSITE_OF:
                responses["interpretability"][person.condition][value - 1] += 1
        person_scores = {k: sum(v) / len(v) for k, v in per_construct.items()}
        for k, value in person_scores.items():
            scores[k][person.condition].append(value)
        if all(k in person_scores for k in COMPOSITE_OF):
            scores["interpretability"][person.condition].append(
                sum(person_scores[k] for k in COMPOSITE_OF) / len(COMPOSITE_OF)
            )
        means = {code: sum(v) / len(v) for code, v in per_item.items()}
        for construct, _ in CONSTRUCTS:
            members = [
                c
                for c in trial_items
                if item_construct[c] == construct
                or (construct == "interpretability" and item_construct[c] in COMPOSITE_OF)
            ]
            item_means[construct].append({c: means[c] for c in members if c in means})

    constructs = []
    for i, (key, label) in enumerate(CONSTRUCTS):
        groups = scores[key]
        members = sorted(
            c
            for c in trial_items
            if item_construct[c] == key or (key == "interpretability" and item_construct[c] in COMPOSITE_OF)
        )
        matrix = [[row[c] for c in members] for row in item_means[key] if all(c in row for c in members)]
        reliability = (
            st.cronbach_alpha(matrix)
            if len(members) > 1
            else {"alpha": None, "n": len(matrix), "k": len(members), "reason": "fewer than two items"}
        )
        kruskal = st.kruskal_wallis(groups)
        welch = st.welch_anova(groups)
        ordinal = st.proportional_odds(responses[key], {c: len(groups[c]) for c in codes})
        constructs.append(
            {
                "key": key,
                "label": label,
                "items": members,
                "descriptives": [
                    _describe(c, groups[c], finished[c], analysed[c], seed=SEED + 100 * i + j)
                    for j, c in enumerate(codes)
                ],
                "reliability": {
                    **reliability,
                    "words": (
                        f"{ALPHA} = {num(reliability['alpha'], 2, False)}"
                        if reliability["alpha"] is not None
                        else f"Not computed: {reliability['reason']}."
                    ),
                },
                "kruskal": {**kruskal, "words": words_kruskal(kruskal)},
                "dunn": [{**r, "words": _pair_words(r, "dunn")} for r in st.dunn(groups)],
                "mann_whitney": [
                    {**r, "words": _pair_words(r, "mwu")} for r in st.pairwise_mann_whitney(groups)
                ],
                "welch": {**welch, "words": words_welch(welch)},
                "games_howell": [{**r, "words": _pair_words(r, "gh")} for r in st.games_howell(groups)],
                "ordinal": {**ordinal, "words": words_ordinal(ordinal), "counts": responses[key]},
            }
        )
    for c, adjusted in zip(constructs, st.holm([c["kruskal"]["p"] for c in constructs]), strict=True):
        c["kruskal"]["p_holm_constructs"] = adjusted

    sizes = [n for n in analysed.values() if n > 0]
    power = {
        "analysed": _power(len(sizes), statistics.harmonic_mean(sizes) if sizes else 0, "analysed sample"),
        "planned": _power(len(codes), data.target_per_condition, "planned target"),
    }

    columns = ["completed", "abandoned", "screened_out", "no_consent"]
    attrition_rows = [
        {"condition": c, **data.attrition.get(c, dict.fromkeys([*columns, "assigned", "active"], 0))}
        for c in codes
    ]
    attrition_test = st.independence_test([[r[k] for k in columns] for r in attrition_rows], seed=SEED)
    attrition_test["words"] = words_independence(attrition_test)

    report = {
        "reading": reading_times(kept, codes),
        "end_items": end_items(kept, [i for i in data.items if i.scope == "end"], codes),
        "devices": {
            c: dict(Counter(p.device_class or "unknown" for p in kept if p.condition == c)) for c in codes
        },
        "study": {"slug": data.slug, "title": data.title},
        "options": asdict(options),
        "conditions": [{"code": c, "label": labels[c]} for c in codes],
        "methods": [
            "Participants analysed: finished the study (completed, or screened out by the attention check "
            "when that exclusion is off); previews never count.",
            "A participant's construct score is the mean of their per-trial item responses of that construct "
            "(over both items and every trial). Interpretability is the mean of the predictability, "
            "understandability and faithfulness scores.",
            "Descriptives: SD with n \u2212 1; quartiles as R's type 7; 95% CI of the mean by percentile "
            f"bootstrap ({N_BOOT} resamples, seeded).",
            f"Reliability: Cronbach's {ALPHA} over items, each item averaged over a participant's trials.",
            f"Kruskal\u2013Wallis H with {EPS}\u00b2 = H / ((n\u00b2 \u2212 1)/(n + 1)) "
            "(Tomczak & Tomczak 2014); "
            "Holm-adjusted across the five outcomes. Pairwise: Dunn tests and Mann\u2013Whitney U with the "
            "rank-biserial r, two-sided, Holm-adjusted within each outcome.",
            "Sensitivity analysis: Welch's ANOVA with Games\u2013Howell comparisons.",
            "Conditions with fewer than two participants are left out of every test (and named); "
            "Games\u2013Howell's studentized range counts every condition of two or more.",
            "Robustness: proportional-odds (cumulative logit) model of the item responses on condition, "
            "fitted by maximum likelihood, likelihood-ratio test against the thresholds-only model; it "
            "treats responses as independent (no participant random effect).",
            f"Attrition: {CHI}\u00b2 test of independence of condition \u00d7 outcome, "
            "or Fisher's exact test "
            "where an expected count is under 5 (Monte Carlo beyond 2 \u00d7 2).",
        ],
        "exclusions": {
            "criteria": [
                {
                    "key": key,
                    "label": text,
                    "enabled": enabled,
                    "flagged": flagged[key],
                    "flagged_total": sum(flagged[key].values()),
                }
                for key, text, enabled in criteria
            ],
            "finished": finished,
            "excluded": excluded,
            "analysed": analysed,
            "excluded_total": sum(excluded.values()),
            "analysed_total": sum(analysed.values()),
        },
        "constructs": constructs,
        "power": power,
        "items": [
            {
                "code": i.code,
                "construct": i.construct,
                "scope": i.scope,
                "text": i.text,
                "anchors": i.anchors,
                "counts": item_counts[i.code],
            }
            for i in data.items
        ],
        "attrition": {"rows": attrition_rows, "test": attrition_test},
        "models": data.model_tables,
    }
    return st.clean(report), scores


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


def end_items(people: list, items: list, codes: list[str]) -> list[dict]:
    """Each end-of-study item by condition: descriptives and a Kruskal-Wallis test."""
    out = []
    for i, item in enumerate(items):
        groups = {c: [p.answers[(None, item.code)] for p in people
                      if p.condition == c and (None, item.code) in p.answers] for c in codes}
        kruskal = st.kruskal_wallis(groups)
        out.append({
            "code": item.code,
            "construct": item.construct,
            "text": item.text,
            "descriptives": [
                {"condition": c, **st.describe(groups[c], n_boot=N_BOOT, seed=SEED + 1000 + 10 * i + j)}
                for j, c in enumerate(codes)
            ],
            "kruskal": {**kruskal, "words": words_kruskal(kruskal)},
        })
    return out


def _describe(condition: str, scores: list[float], finished: int, analysed: int, seed: int) -> dict:
    """A condition's descriptives; where everyone who finished was excluded, the note says so, since
    "no participants" beside an exclusions table counting them reads as a contradiction."""
    out = {"condition": condition, **st.describe(scores, n_boot=N_BOOT, seed=seed)}
    if finished and not analysed:
        out["reason"] = f"none left after the exclusions ({finished} finished)"
    return out


def _power(k: int, n: float, what: str) -> dict:
    """Sensitivity statement: the smallest effect a one-way ANOVA on k groups of n detects."""
    if k < 2 or n < 2:
        return {
            "k": k,
            "n_per_group": n,
            "f": None,
            "eta_squared": None,
            "words": f"Not computed for the {what}: needs two groups of at least two participants.",
        }
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


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)


# --- SVG plots ------------------------------------------------------------------------------

LIKERT_COLOURS = ["#b2182b", "#ef8a62", "#cccccc", "#67a9cf", "#2166ac"]
LEGEND_CHAR_W = 5.8  # average width of a character at font-size 10 in a sans-serif font, in px


def diverging_bars(item: dict, conditions: list[str]) -> str:
    """Diverging stacked bars: one row per condition, centred on the middle of the neutral point."""
    width, left, row_h = 560, 120, 26
    half = (width - left - 20) / 2
    centre = left + half
    # The legend: entries spaced by the length of their labels, wrapping to a new line when full.
    legend, x, legend_y = [], 4.0, 4
    for i, anchor in enumerate(item["anchors"][:5]):
        entry_w = 13 + len(anchor) * LEGEND_CHAR_W + 16
        if x > 4 and x + entry_w > width:
            x, legend_y = 4.0, legend_y + 15
        legend.append(f'<rect x="{x:.1f}" y="{legend_y}" width="10" height="10" fill="{LIKERT_COLOURS[i]}"/>')
        legend.append(f'<text x="{x + 13:.1f}" y="{legend_y + 9}" font-size="10">{escape(anchor)}</text>')
        x += entry_w
    top = legend_y + 20
    height = top + row_h * len(conditions) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Responses to {escape(item["code"])} by condition">',
        f"<title>{escape(item['code'])}: {escape(item['text'])}</title>",
        *legend,
    ]
    for r, code in enumerate(conditions):
        counts = item["counts"].get(code, [0] * 5)
        y = top + r * row_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 16}" font-size="12" text-anchor="end">{escape(code)}</text>'
        )
        total = sum(counts)
        if not total:
            parts.append(
                f'<text x="{centre:.1f}" y="{y + 16}" font-size="11" text-anchor="middle">no responses</text>'
            )
            continue
        shares = [c / total for c in counts]
        x = centre - (shares[0] + shares[1] + shares[2] / 2) * half
        for k, share in enumerate(shares):
            w = share * half
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                    f'fill="{LIKERT_COLOURS[k]}"><title>{escape(code)}: {counts[k]} of {total} '
                    f"({share:.0%}) {escape(item['anchors'][k] if k < len(item['anchors']) else str(k + 1))}"
                    "</title></rect>"
                )
            x += w
    axis_y = top + row_h * len(conditions) + 4
    parts.append(f'<line x1="{centre:.1f}" y1="{top}" x2="{centre:.1f}" y2="{axis_y}" stroke="#333"/>')
    for pct in (-100, -50, 0, 50, 100):
        x = centre + pct / 100 * half
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 14}" font-size="10" text-anchor="middle">{abs(pct)}%</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def box_plot(construct: dict, scores: dict[str, list[float]] | None = None) -> str:
    """Box plot per condition on the 1-5 scale (Tukey whiskers), with the points when few."""
    desc = construct["descriptives"]
    width, height, left, top, bottom = 560, 260, 40, 20, 40
    plot_h = height - top - bottom
    col_w = (width - left - 10) / max(1, len(desc))

    def y(v: float) -> float:
        return top + (5 - v) / 4 * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(construct["label"])} by condition">',
        f"<title>{escape(construct['label'])} by condition</title>",
    ]
    for v in range(1, 6):
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - 10}" y2="{y(v):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v}</text>')
    for i, d in enumerate(desc):
        cx = left + (i + 0.5) * col_w
        parts.append(
            f'<text x="{cx:.1f}" y="{height - 22}" font-size="12" text-anchor="middle">'
            f"{escape(d['condition'])}</text>"
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{height - 8}" font-size="11" text-anchor="middle">n = {d["n"]}</text>'
        )
        if not d["n"]:
            parts.append(
                f'<text x="{cx:.1f}" y="{y(3):.1f}" font-size="11" text-anchor="middle">no data</text>'
            )
            continue
        values = sorted((scores or {}).get(d["condition"], []))
        q1, q3, med = d["q1"], d["q3"], d["median"]
        lo_fence, hi_fence = q1 - 1.5 * d["iqr"], q3 + 1.5 * d["iqr"]
        inside = [v for v in values if lo_fence <= v <= hi_fence] or [q1, q3]
        bw = min(60.0, col_w * 0.5)
        parts.append(
            f'<line x1="{cx:.1f}" y1="{y(min(inside)):.1f}" x2="{cx:.1f}" y2="{y(max(inside)):.1f}" '
            'stroke="#333"/>'
        )
        parts.append(
            f'<rect x="{cx - bw / 2:.1f}" y="{y(q3):.1f}" width="{bw:.1f}" '
            f'height="{max(1.0, y(q1) - y(q3)):.1f}" '
            f'fill="#d1e5f0" stroke="#333"><title>{escape(d["condition"])}: median {num(med)}, '
            f"IQR {num(q1)}\u2013{num(q3)}, n = {d['n']}</title></rect>"
        )
        parts.append(
            f'<line x1="{cx - bw / 2:.1f}" y1="{y(med):.1f}" x2="{cx + bw / 2:.1f}" y2="{y(med):.1f}" '
            'stroke="#b2182b" stroke-width="2"/>'
        )
        if len(values) <= MAX_POINTS:
            for j, v in enumerate(values):
                jitter = ((j * 0.618034) % 1 - 0.5) * bw * 0.8
                parts.append(
                    f'<circle cx="{cx + jitter:.1f}" cy="{y(v):.1f}" r="2.5" fill="#2166ac" '
                    'fill-opacity="0.6"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict, scores: dict | None = None, query: str | None = None) -> str:
    """The report page (self-contained: inline CSS and SVG, no scripts, no external files).

    ``query`` is the page's query string, for its exclusion form and download links; None renders
    the file to save, without them (they would do nothing there): it states the exclusions applied.
    """
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    from .model_table import TABLE_NAMES

    codes = [c["code"] for c in report["conditions"]]
    plots = {
        c["key"]: mark_safe(box_plot(c, (scores or {}).get(c["key"])))  # noqa: S308 - built with escape()
        for c in report["constructs"]
    }
    bars = [
        {"item": item, "svg": mark_safe(diverging_bars(item, codes))}  # noqa: S308 - built with escape()
        for item in report["items"]
    ]
    applied = [c["label"] for c in report["exclusions"]["criteria"] if c["enabled"]]
    return render_to_string(
        "analysis/report.html",
        {"report": report, "plots": plots, "bars": bars, "query": query, "applied": applied,
         "table_names": TABLE_NAMES},
    )
