"""Formatting for the report: a dash for a statistic that could not be computed."""

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def num(value, digits: int = 2) -> str:
    """The number with ``digits`` decimals, or an em dash for None."""
    return "\u2014" if value is None else floatformat(value, digits)


@register.filter
def pct(value) -> str:
    return "\u2014" if value is None else f"{100 * value:.1f}%"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None
