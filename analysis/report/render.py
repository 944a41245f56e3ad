"""The report as a self-contained HTML page, or as JSON."""

from __future__ import annotations

import json

from .plots import accuracy_plot, box_plot, diverging_bars


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)


def render_html(report: dict, scores: dict | None = None, query: str | None = None) -> str:
    """The report page (self-contained: inline CSS and SVG, no scripts, no external files).

    ``query`` is the page's query string, for its exclusion form and download links; None renders
    the file to save, without them (they would do nothing there): it states the exclusions applied.
    """
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    from ..model_table import TABLE_NAMES

    plots = {
        c["key"]: mark_safe(box_plot(c, (scores or {}).get(c["key"])))  # noqa: S308 - built with escape()
        for c in report["constructs"]
    }
    bars = [
        {"item": item, "svg": mark_safe(diverging_bars(item, list(item["counts"])))}  # noqa: S308 - escaped
        for item in report["items"]
    ]
    applied = [c["label"] for c in report["exclusions"]["criteria"] if c["enabled"]]
    behaviour = report.get("behaviour")
    accuracy = ""
    if behaviour and behaviour["conditions"]:
        chance = 0.5 if behaviour["task"] == "verification" else None
        accuracy = mark_safe(accuracy_plot(behaviour["conditions"], chance))  # noqa: S308 - escaped
    return render_to_string(
        "analysis/report.html",
        {"report": report, "plots": plots, "bars": bars, "query": query, "applied": applied,
         "table_names": TABLE_NAMES, "accuracy_plot": accuracy},
    )
