"""Reading a model's raw output into its parts: the reasoning, each step, the final answer.

Real outputs are messier than the rule's traces. As decoded from a chat model they start with the
assistant's role line ("assistant\\n\\n"); the chat template may put ``<think>`` in the prompt, so
only ``</think>`` appears; a truncated generation leaves ``<think>`` or a list unclosed; lists come
in Python or JSON quoting, curly quotes, or one item per line; the answer may sit in
``<answer>...</answer>``, after ``</think>``, after "Answer:", or in a LaTeX ``\\boxed{}``. Every
function here takes any string and never raises; what it cannot find it reports in ``errors``.
"""

from __future__ import annotations

import ast
import re
import string
import unicodedata

__all__ = [
    "ANSWER_LINE_RE",
    "BABI_STEP_RE",
    "COTEMPQA_STEP_RE",
    "COTEMPQA_STEP_REWORDED_RE",
    "RETRIEVAL_RE",
    "clean_answer",
    "final_answer",
    "find_tag",
    "normalize_text",
    "parse_answer",
    "parse_listed_facts",
    "parse_passage_step",
    "parse_step",
    "short_answer",
    "split_reasoning",
    "strip_role_line",
]

_QUOTED_RE = re.compile(
    r"'(?:[^'\\]|\\.)*'"  # 'python repr'
    r'|"(?:[^"\\]|\\.)*"'  # "json or python repr"
    r"|\u2018[^\u2019]*\u2019"  # curly single quotes
    r"|\u201c[^\u201d]*\u201d",  # curly double quotes
    re.DOTALL,
)
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}
_ROLE_LINE_RE = re.compile(r"^\s*assistant[ \t]*\n", re.IGNORECASE)
_ANSWER_LABEL_RE = re.compile(
    r"^(?:final\s+)?answer\s*[:\-]\s*|^the\s+(?:final\s+)?answer\s+is\s*:?\s*", re.IGNORECASE
)
_BOXED_RE = re.compile(r"\\boxed\s*\{")
_TEXT_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_LABEL_ANYWHERE_RE = re.compile(r"(?:\*\*)?\b(?:final\s+)?answer\s*(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+(.+?)\s*$")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_STEP_STOP_RE = re.compile(r"\.(?:\s|$)|I\s+need\s+to\s+use|</?think>|<answer>", re.IGNORECASE)
COTEMPQA_STEP_RE = re.compile(
    r"temporal\s+relation\s+between\s+the\s+event\s+in\s+question\s+and\s+the\s+event\s+in\s+context\s+"
    r"is\s*:?[ \t]*",
    re.IGNORECASE,
)
#: The relation sentence reworded ("The temporal relation between the two events is overlap."): what
#: follows the first "is" of a sentence about the relation; read only where the rule's wording is absent.
COTEMPQA_STEP_REWORDED_RE = re.compile(r"\b(?:temporal\s+)?relation\b[^.\n<]{0,160}?\bis\s*:?[ \t]*",
                                       re.IGNORECASE)
BABI_STEP_RE = re.compile(r"category\s+of\s+the\s+question\s+asked\s+is\s*:?[ \t]*", re.IGNORECASE)
#: "Answer: X" (or "Final answer:", "**Answer:**", "The answer is: X") at the start of a line.
ANSWER_LINE_RE = re.compile(
    r"^[ \t>#*_]*(?:the\s+)?(?:final\s+)?answer(?:\s+is)?[ \t*_]*:[ \t*_]*", re.IGNORECASE | re.MULTILINE
)
RETRIEVAL_RE = re.compile(
    r"I\s+need\s+to\s+use\s+the\s+following\s+(?:facts|text)\s+to\s+answer\s+the\s+question\s*:?",
    re.IGNORECASE,
)


def normalize_text(text: str) -> str:
    """SQuAD-style normal form for comparing facts: NFKC, lower case, no punctuation or articles."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return " ".join(_ARTICLES_RE.sub(" ", text).split())


def strip_role_line(text: str) -> str:
    """The output without a leading "assistant" role line, as decoded from Llama's chat template."""
    return _ROLE_LINE_RE.sub("", text, count=1)


def find_tag(tag: str, text: str, start: int = 0) -> int:
    """Index of ``tag`` in ``text`` (any case), or -1. Case-folding the whole text could change its
    length (e.g. "\u0130".lower()), so indices come from a regex."""
    m = re.compile(re.escape(tag), re.IGNORECASE).search(text, start)
    return m.start() if m else -1


def split_reasoning(text: str, errors: list[str]) -> tuple[str, str | None]:
    """(reasoning region, what follows it) of an output; the second is None when nothing does."""
    open_i = find_tag("<think>", text)
    close_i = find_tag("</think>", text, open_i + 1 if open_i >= 0 else 0)
    if open_i >= 0 and close_i >= 0:
        return text[open_i + len("<think>") : close_i], text[close_i + len("</think>") :]
    if close_i >= 0:  # chat templates often put <think> in the prompt
        errors.append("no <think> tag before </think>")
        return text[:close_i], text[close_i + len("</think>") :]
    if open_i >= 0:
        errors.append("<think> is never closed (truncated?)")
        rest = text[open_i + len("<think>") :]
        ans = find_tag("<answer>", rest)
        return (rest[:ans], rest[ans:]) if ans >= 0 else (rest, None)
    errors.append("no <think>...</think> block")
    ans = find_tag("<answer>", text)
    return (text[:ans], text[ans:]) if ans >= 0 else (text, None)


def _unquote(token: str) -> str:
    """Body of one quoted token, with Python/JSON escapes undone where possible."""
    if token[0] in "'\"":
        try:
            value = ast.literal_eval(token)  # one flat string literal: safe and cheap
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return token[1:-1]
        return value if isinstance(value, str) else token[1:-1]
    return token[1:-1]


def scan_list(text: str) -> tuple[list[str], bool, int]:
    """Quoted items of a list that starts at text[0] == '['.

    Returns (items, closed, end): ``closed`` is False when no ']' ends the list (a truncated
    generation); ``end`` is the index just after the list.
    """
    items: list[str] = []
    pos = 1
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "]":
            return items, True, pos + 1
        if ch in "'\"\u2018\u201c":
            m = _QUOTED_RE.match(text, pos)
            if m is None:  # unterminated string: truncated
                return items, False, n
            items.append(_unquote(m.group(0)))
            pos = m.end()
            continue
        pos += 1
    return items, False, n


def parse_step(
    region: str, pattern: re.Pattern[str], name: str, errors: list[str],
    reworded: re.Pattern[str] | None = None,
) -> str | None:
    """What a step sentence names (``pattern`` ends where the name starts), or None; ``reworded`` is
    read where ``pattern`` is not found (a model that says the same in other words)."""
    m = pattern.search(region) or (reworded.search(region) if reworded is not None else None)
    if m is None:
        errors.append(f"{name} step not found")
        return None
    rest = region[m.end() : m.end() + 400].split("\n", 1)[0]
    stop = _STEP_STOP_RE.search(rest)
    named = (rest[: stop.start()] if stop else rest).strip().strip("*_`'\" ").strip()
    if not named:
        errors.append(f"{name} step names nothing")
        return None
    return named


def _step_body(region: str, pattern: re.Pattern[str], errors: list[str]) -> str | None:
    """What the retrieval step introduced by ``pattern`` writes, up to the end of the reasoning, the
    answer or an "Answer:" line; None (with the error) when there is no such step."""
    m = pattern.search(region)
    if m is None:
        errors.append("retrieval step not found")
        return None
    body = region[m.end() :]
    cut = re.search(r"</?think>|<answer>", body, re.IGNORECASE)
    body = body[: cut.start()] if cut else body
    label = ANSWER_LINE_RE.search(body)
    return (body[: label.start()] if label else body).strip()


def parse_listed_facts(
    region: str, pattern: re.Pattern[str], errors: list[str]
) -> tuple[list[str] | None, bool]:
    """(listed facts, parsed cleanly) of the retrieval step introduced by ``pattern``."""
    body = _step_body(region, pattern, errors)
    if body is None:
        return None, False
    if not body:
        errors.append("retrieval step lists no facts")
        return [], False
    if body.startswith("["):
        items, closed, end = scan_list(body)
        if not closed:
            errors.append("retrieval list is never closed (truncated?)")
            return items, False
        if not items and body[1 : end - 1].strip():
            # [fact one, fact two] without quotes: cannot split safely on commas
            errors.append("retrieval list items are not quoted")
            return [body[1 : end - 1].strip()], False
        return items, True
    # Bare text: the authors' incorrect CoTempQA traces write one fact without brackets; models
    # sometimes write one fact per line or bullet.
    lines = [_BULLET_RE.sub("", ln).strip() for ln in body.splitlines()]
    facts = [ln for ln in lines if ln]
    if len(facts) == 1:
        facts = [_unquote(facts[0]) if _QUOTED_RE.fullmatch(facts[0]) else facts[0]]
    return facts, True


def parse_passage_step(region: str, errors: list[str]) -> tuple[list[str] | None, bool]:
    """(named passages, parsed cleanly) of an MS MARCO retrieval step, which writes one passage as it is
    (the authors' ``str(passage)``): read whole, line breaks, leading numbers and brackets included,
    unless it is a list of quoted passages; "[]" names none."""
    body = _step_body(region, RETRIEVAL_RE, errors)
    if body is None:
        return None, False
    if body.startswith("["):
        items, closed, _ = scan_list(body)
        if closed and (items or body == "[]"):
            return items, True
    if not body:
        errors.append("retrieval step names no text")
        return [], False
    return [_unquote(body) if _QUOTED_RE.fullmatch(body) else body], True


def parse_answer(
    text: str, region: str, tail: str | None, has_steps: bool, errors: list[str]
) -> str | None:
    """The final answer's text: in ``<answer>``, else after ``</think>``, else after the last line
    starting "Answer:" (in an output with no ``<think>``), else a bare reply (an output without step
    sentences: a vanilla answer, or an unclosed ``<think>`` holding only it).
    ``region`` and ``tail`` are ``split_reasoning``'s."""
    if tail is not None and find_tag("<answer>", tail) >= 0:
        text = tail  # an <answer> mentioned inside the reasoning is not the answer
    open_i = find_tag("<answer>", text)
    if open_i >= 0:
        start = open_i + len("<answer>")
        close_i = find_tag("</answer>", text, start)
        if close_i >= 0:
            return text[start:close_i].strip()
        errors.append("<answer> is never closed (truncated?); took the rest of the text")
        return text[start:].strip()
    if tail is not None and tail.strip():
        errors.append("no <answer> tag; took the text after </think>")
        return tail.strip()
    labels = list(ANSWER_LINE_RE.finditer(text)) if find_tag("<think>", text) < 0 else []
    if labels and text[labels[-1].end():].strip():
        # the steps, then "Answer: X" (a thought left open is not read: its "Answer:" may be tentative)
        errors.append('no <answer> tag; took the text after the last "Answer:"')
        return text[labels[-1].end():].strip()
    if not has_steps and region.strip():
        # a bare reply such as "Liberal Federation" (e.g. from a vanilla model), or an unclosed
        # <think> with only an answer in it
        errors.append("no <answer> tag and no trace; took the reply as the answer")
        return region.strip()
    errors.append("no final answer found")
    return None


def mentions_steps(text: str) -> bool:
    """Whether the text writes a classification or retrieval step (of CoTempQA or bAbI)."""
    return bool(COTEMPQA_STEP_RE.search(text) or BABI_STEP_RE.search(text) or RETRIEVAL_RE.search(text))


def final_answer(text: str, errors: list[str] | None = None) -> str | None:
    """The final answer an output gives (``parse_answer`` after its reasoning), or None."""
    errors = [] if errors is None else errors
    text = strip_role_line(text)
    region, tail = split_reasoning(text, errors)
    return parse_answer(text, region, tail, mentions_steps(text), errors)


def _unbox(text: str) -> str:
    """``\\boxed{X}`` -> X (the last box, braces balanced), ``\\text{X}`` -> X."""
    matches = list(_BOXED_RE.finditer(text))
    if matches:
        start = matches[-1].end()
        depth, end = 1, start
        while end < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        text = text[start : end - 1 if depth == 0 else end]
    previous = None
    while previous != text:
        previous, text = text, _TEXT_RE.sub(r"\1", text)
    return text


def clean_answer(answer: str | None) -> str | None:
    """A final answer as a reader wants it: no "Answer:" label, LaTeX box, list brackets or quotes,
    the items of a list joined by "; ". None when nothing is left."""
    if answer is None:
        return None
    text = _unbox(answer.strip()).strip()
    text = _ANSWER_LABEL_RE.sub("", text).strip()
    text = text.removeprefix("$").removesuffix("$").strip()
    if text.startswith("["):
        items, closed, _ = scan_list(text)
        if items:
            text = "; ".join(i.strip() for i in items)
        elif closed:
            text = text[1 : text.index("]")].strip()
    text = text.strip().strip("'\"\u2018\u2019\u201c\u201d").strip()
    if text.endswith(".") and text.count(".") == 1:
        text = text[:-1].strip()
    return text or None


def short_answer(text: str) -> str:
    """The short final answer in a model's answer text, to show alone ("The model's answer").

    Reasoning models often answer with a sentence or more: a LaTeX box, a closing "**Answer:** X",
    a numbered list of answers with their dates, a first word followed by its justification. In
    that order: the box's content; what follows the last "Answer:" label, to the end of its line;
    the list's items (each up to a parenthesis), joined by "; "; else the first line, cut to its
    first sentence when that line is long. Then ``clean_answer`` (labels, brackets, quotes, a full
    stop, bold marks). The whole text, stripped, when none of that leaves anything.
    """
    answer = final_answer(text) or text
    if _BOXED_RE.search(answer):
        answer = _unbox(answer)
    elif labels := list(_LABEL_ANYWHERE_RE.finditer(answer)):
        answer = answer[labels[-1].end():].strip().split("\n", 1)[0]
    else:
        items = [m.group(1) for line in answer.splitlines() if (m := _LIST_ITEM_RE.match(line))]
        if len(items) >= 2:
            answer = "; ".join(item.split(" (", 1)[0].strip() for item in items)
        else:
            answer = answer.strip().split("\n", 1)[0]
            first = _SENTENCE_END_RE.split(answer, maxsplit=1)[0]
            if len(answer.split()) > 8 and first != answer:
                answer = first
    return clean_answer(answer.replace("**", "")) or text.strip()
