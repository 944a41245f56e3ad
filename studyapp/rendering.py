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


def _decomposition_steps(region: str) -> tuple[SafeString, ...] | None:
    """A decomposition trace's reasoning as its steps: the classification sentence (where there is one),
    then the retrieval sentence with the facts as a list; None when it has no retrieval step."""
    found = RETRIEVAL_RE.search(region)
    if found is None:
        return None
    facts, _ = parse_listed_facts(region, RETRIEVAL_RE, [])
    classification = region[: found.start()].strip()
    retrieval = region[found.start() : found.end()].rstrip(" :") + ":"
    return (
        *((format_html("<p>{}</p>", classification),) if classification else ()),
        format_html("<p>{}</p><ul>{}</ul>", retrieval,
                    format_html_join("", "<li>{}</li>", ((fact,) for fact in facts or []))),
    )


def _prose_steps(text: str) -> tuple[SafeString, ...]:
    """A Markdown trace's top-level blocks (paragraphs, lists, headings, code), each rendered alone."""
    tokens = _markdown.parse(text)
    steps, start = [], 0
    for end, token in enumerate(tokens, start=1):
        if token.level == 0 and token.nesting <= 0:  # a block's closing token, or a block of one token
            html = _markdown.renderer.render(tokens[start:end], _markdown.options, {})
            steps.append(mark_safe(html))  # noqa: S308 - markdown-it escapes all HTML input
            start = end
    return tuple(steps)


@lru_cache(maxsize=1024)
def trace_steps(text: str) -> tuple[SafeString, ...]:
    """The trace as the steps a participant reads and, in a step rating, marks: a decomposition trace's
    classification and retrieval steps; another trace's paragraphs (lists, headings and code blocks each
    one step). Joined, they are render_trace's HTML. Cached as render_trace is."""
    text = strip_role_line(text)
    if find_tag("<think>", text) >= 0 or find_tag("</think>", text) >= 0:
        region, _ = split_reasoning(text, [])
        steps = _decomposition_steps(region)
        if steps is not None:
            return steps
        text = region.strip()
    return _prose_steps(text)


@lru_cache(maxsize=1024)
def render_trace(text: str) -> SafeString:
    """Cached: every participant in a condition reads the same few traces."""
    return mark_safe("".join(trace_steps(text)))  # noqa: S308 - each step is escaped HTML


@lru_cache(maxsize=1024)
def facts_html(facts: tuple[str, ...]) -> SafeString:
    """A problem's context facts as the items of its list, escaped. Cached: every participant given a
    stimulus reads the same facts (a template's loop over them cost 80 function calls a page)."""
    return format_html_join("", "<li>{}</li>", ((fact,) for fact in facts))
