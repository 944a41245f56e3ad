"""The report's plots as inline SVG: diverging stacked bars per item, box plots per outcome, and the
behavioural task's accuracy per condition."""

from __future__ import annotations

from html import escape

from .words import num

MAX_POINTS = 200  # per group: above this a box plot is drawn without its points

#: ColorBrewer's diverging RdBu (Brewer 2003) for 5- and 7-point scales: disagreement red, the
#: neutral point grey, agreement blue.
LIKERT_COLOURS = {
    5: ["#b2182b", "#ef8a62", "#cccccc", "#67a9cf", "#2166ac"],
    7: ["#b2182b", "#ef8a62", "#fddbc7", "#cccccc", "#d1e5f0", "#67a9cf", "#2166ac"],
}
#: A box's fill per condition, in the study's order: ColorBrewer's qualitative Paired, 12 colours, light
#: and dark pairs interleaved so that neighbouring boxes differ (a study has at most 12 conditions).
CONDITION_COLOURS = ["#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c", "#fdbf6f", "#ff7f00",
                     "#cab2d6", "#6a3d9a", "#ffff99", "#b15928"]
LEGEND_CHAR_W = 5.8  # average width of a character at font-size 10 in a sans-serif font, in px


def diverging_bars(item: dict, conditions: list[str]) -> str:
    """Diverging stacked bars: one row per condition, centred on the middle of the neutral point, for
    an item of any number of points (the middle answer of an odd scale is the neutral point)."""
    points = len(item["anchors"]) or 5
    colours = LIKERT_COLOURS.get(points) or LIKERT_COLOURS[5]
    width, left, row_h = 560, 120, 26
    half = (width - left - 20) / 2
    centre = left + half
    # The legend: entries spaced by the length of their labels, wrapping to a new line when full.
    legend, x, legend_y = [], 4.0, 4
    for i, anchor in enumerate(item["anchors"][:len(colours)]):
        entry_w = 13 + len(anchor) * LEGEND_CHAR_W + 16
        if x > 4 and x + entry_w > width:
            x, legend_y = 4.0, legend_y + 15
        legend.append(f'<rect x="{x:.1f}" y="{legend_y}" width="10" height="10" fill="{colours[i]}"/>')
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
        counts = item["counts"].get(code, [0] * points)
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
        x = centre - (sum(shares[:points // 2]) + (shares[points // 2] / 2 if points % 2 else 0)) * half
        for k, share in enumerate(shares):
            w = share * half
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                    f'fill="{colours[k % len(colours)]}"><title>{escape(code)}: {counts[k]} of {total} '
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
    """Box plot per condition on the outcome's scale, 1 to its points (Tukey whiskers), with the points
    when few; each condition's box in its own colour. Wider with many conditions, so that labels fit."""
    desc = construct["descriptives"]
    points = construct.get("points", 5)
    height, left, top, bottom = 260, 40, 20, 40
    width = max(560, left + 10 + 70 * len(desc))
    plot_h = height - top - bottom
    col_w = (width - left - 10) / max(1, len(desc))

    def y(v: float) -> float:
        return top + (points - v) / (points - 1) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(construct["label"])} by condition">',
        f"<title>{escape(construct['label'])} by condition</title>",
    ]
    for v in range(1, points + 1):
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
                f'<text x="{cx:.1f}" y="{y((points + 1) / 2):.1f}" font-size="11" text-anchor="middle">'
                "no data</text>"
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
            f'fill="{CONDITION_COLOURS[i % len(CONDITION_COLOURS)]}" stroke="#333">'
            f'<title>{escape(d["condition"])}: median {num(med)}, '
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


def accuracy_plot(rows: list[dict], chance: float | None = None) -> str:
    """Accuracy per condition, 0 to 1, each a dot with its 95% Wilson interval in the condition's colour;
    a dashed line at chance (verification: .5) where there is one."""
    height, left, top, bottom = 240, 44, 16, 40
    width = max(480, left + 10 + 80 * len(rows))
    plot_h = height - top - bottom
    col_w = (width - left - 10) / max(1, len(rows))

    def y(v: float) -> float:
        return top + (1 - v) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="Accuracy by condition, with 95% intervals">',
        "<title>Accuracy by condition, with 95% intervals</title>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        at = y(tick)
        parts.append(f'<line x1="{left}" y1="{at:.1f}" x2="{width - 10}" y2="{at:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{at + 4:.1f}" font-size="11" text-anchor="end">'
                     f"{num(tick, 2, False)}</text>")
    if chance is not None:
        parts.append(f'<line x1="{left}" y1="{y(chance):.1f}" x2="{width - 10}" y2="{y(chance):.1f}" '
                     'stroke="#666" stroke-dasharray="4 3"><title>chance</title></line>')
    for i, row in enumerate(rows):
        cx = left + (i + 0.5) * col_w
        colour = CONDITION_COLOURS[i % len(CONDITION_COLOURS)]
        parts.append(f'<text x="{cx:.1f}" y="{height - 22}" font-size="12" text-anchor="middle">'
                     f"{escape(row['condition'])}</text>")
        parts.append(f'<text x="{cx:.1f}" y="{height - 8}" font-size="11" text-anchor="middle">'
                     f"{row['n_trials']} trials</text>")
        if row.get("accuracy") is None:
            continue
        low, high = row.get("accuracy_ci") or (row["accuracy"], row["accuracy"])
        parts.append(f'<line x1="{cx:.1f}" y1="{y(low):.1f}" x2="{cx:.1f}" y2="{y(high):.1f}" '
                     'stroke="#333" stroke-width="2"/>')
        label = f"{escape(row['condition'])}: {num(row['accuracy'])}"
        parts.append(f'<circle cx="{cx:.1f}" cy="{y(row["accuracy"]):.1f}" r="6" fill="{colour}" '
                     f'stroke="#333"><title>{label}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
