"""The researchers' report: exclusions, scores, the analysis plan's tests, sensitivity analyses,
and their wording; as a JSON-ready dict, or as a self-contained HTML page."""

from .options import Options, exclude, speeder_seconds
from .plan import PlanData
from .render import render_html, to_json


def __getattr__(name: str) -> object:
    """``build`` and ``build_with_scores``, imported when first asked for: they need numpy and scipy,
    which the web process loads with the first report it builds, not at start (records.py)."""
    if name in ("build", "build_with_scores"):
        from . import builder

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Options", "PlanData", "build", "build_with_scores", "exclude", "render_html", "speeder_seconds",
    "to_json",
]
