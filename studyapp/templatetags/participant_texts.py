"""Filters for the participant pages: a study's own texts in the active language (the participant's, on
their pages), and lists of names joined as a sentence in it."""

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from .. import languages
from ..models import TranslatedModel
from ..services import RatingScale

register = template.Library()


@register.filter
def shown(row: TranslatedModel | None, name: str) -> object:
    """``{{ study|shown:"consent_text" }}``: the text as a participant reading the active language reads it
    (languages.shown); "" where the page has no such row (an error page without a study)."""
    return languages.shown(row, name) if isinstance(row, TranslatedModel) else ""


@register.filter
def either(names: list[str], style: str = "") -> SafeString:
    """Names joined as a choice in the active language: "a, b or c"; ``either:"strong"`` sets each in
    bold."""
    parts = [format_html("<strong>{}</strong>", name) if style == "strong" else conditional_escape(name)
             for name in names]
    if len(parts) < 2:
        return mark_safe("".join(parts))  # noqa: S308 - escaped or built by format_html
    joined = gettext("%(names)s or %(last)s") % {"names": ", ".join(parts[:-1]), "last": parts[-1]}
    return mark_safe(joined)  # noqa: S308 - the parts are escaped, the rest is the catalog's


@register.filter
def scale_ranges(scales: list[RatingScale], named: bool) -> SafeString:
    """How each of the scales runs, joined as a choice: 'from "A" to "B"', or where the scales differ in
    points (`named`), 'on a seven-point scale from "A" to "B"'."""
    parts = []
    for scale in scales:
        values = {"points": scale.points_in_words, "lowest": scale.anchors[0], "highest": scale.anchors[-1]}
        values = {name: conditional_escape(value) for name, value in values.items()}
        phrase = (gettext('on a %(points)s scale from "%(lowest)s" to "%(highest)s"') if named
                  else gettext('from "%(lowest)s" to "%(highest)s"'))
        parts.append(mark_safe(phrase % values))  # noqa: S308 - the catalog's phrase, escaped values
    return either(parts)
