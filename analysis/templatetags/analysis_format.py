"""Formatting for the report: a dash for a statistic that could not be computed."""

from django import template
from django.template.defaultfilters import floatformat

from analysis.report.words import fmt_p

register = template.Library()


@register.filter
def num(value, digits: int = 2) -> str:
    """The number with ``digits`` decimals, or an em dash for None."""
    return "\u2014" if value is None else floatformat(value, digits)


@register.filter
def pct(value) -> str:
    return "\u2014" if value is None else f"{100 * value:.1f}%"


@register.filter
def pct100(value) -> str:
    """A percentage already on 0-100, or an em dash for None."""
    return "\u2014" if value is None else f"{value:.1f}%"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def apa_p(value, name: str = "p") -> str:
    """A p-value in APA style ("p < .001", "p = .042"), as the report's own wording; a dash for None."""
    return "\u2014" if value is None else fmt_p(value, name)
