"""Trace text as safe HTML: a Markdown subset (paragraphs, emphasis, lists, code), never raw HTML.

markdown-it-py escapes any HTML in the source when ``html`` is off; links and images are turned off
too, so a trace can neither run script nor send a participant elsewhere.
"""

from functools import lru_cache

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable(
    ["link", "image", "autolink"]
)


@lru_cache(maxsize=1024)
def render_trace(text: str) -> SafeString:
    """Cached: every participant in a condition reads the same few traces."""
    return mark_safe(_markdown.render(text))  # noqa: S308 - markdown-it escapes all HTML input
