"""The researchers' report: exclusions, scores, the analysis plan's tests, sensitivity analyses,
and their wording; as a JSON-ready dict, or as a self-contained HTML page."""

from .build import build, build_with_scores
from .options import Options, exclude, speeder_seconds
from .plan import PlanData
from .render import render_html, to_json

__all__ = [
    "Options", "PlanData", "build", "build_with_scores", "exclude", "render_html", "speeder_seconds",
    "to_json",
]
