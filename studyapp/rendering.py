"""Trace text as safe HTML, the same frame and typography for every condition.

Prose traces (R1's reasoning, its summary, a post-hoc explanation) are a Markdown subset
(paragraphs, emphasis, lists, code), never raw HTML: markdown-it-py escapes any HTML in the source
when ``html`` is off, and links and images are turned off too, so a trace can neither run script
nor send a participant elsewhere.

A decomposition trace is stored as the model was trained on it (``<think>`` steps with the facts
as a Python list, then ``<answer>``); participants read its steps as prose: the classification
sentence, the retrieval sentence, and the facts as a list. The answer part is left out, as the
other conditions' traces hold no final answer: every condition shows the same short answer beside
the trace.
"""

from functools import lru_cache

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from traces.grading.parsing import (
    RETRIEVAL_RE,
    find_tag,
    parse_listed_facts,
    split_reasoning,
    strip_role_line,
)

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable(
    ["link", "image", "autolink"]
)


def _steps_html(region: str) -> SafeString | None:
    """A decomposition trace's reasoning as paragraphs and a list; None when it has no retrieval step."""
    found = RETRIEVAL_RE.search(region)
    if found is None:
        return None
    facts, _ = parse_listed_facts(region, RETRIEVAL_RE, [])
    classification = region[: found.start()].strip()
    retrieval = region[found.start() : found.end()].rstrip(" :") + ":"
    return format_html(
        "{}<p>{}</p><ul>{}</ul>",
        format_html("<p>{}</p>", classification) if classification else "",
        retrieval,
        format_html_join("", "<li>{}</li>", ((fact,) for fact in facts or [])),
    )


@lru_cache(maxsize=1024)
def render_trace(text: str) -> SafeString:
    """Cached: every participant in a condition reads the same few traces."""
    text = strip_role_line(text)
    if find_tag("<think>", text) >= 0 or find_tag("</think>", text) >= 0:
        region, _ = split_reasoning(text, [])
        steps = _steps_html(region)
        if steps is not None:
            return steps
        text = region.strip()
    return mark_safe(_markdown.render(text))  # noqa: S308 - markdown-it escapes all HTML input
