"""A trace with the model's final answer withheld, for the forward-simulation task.

In a simulation trial a participant reads the problem and the trace and predicts the model's answer,
so the text must not state that answer. The rule, per kind of text:

* **Decomposition traces** (and any text in the ``<think>...</think> <answer>...</answer>`` format):
  the answer part, everything after ``</think>`` or from ``<answer>`` on, becomes
  ``<answer>[the model's answer is hidden]</answer>``. The classification and retrieval steps stay
  whole, including the facts they list that name the answer: retrieving them is the reasoning a
  participant simulates from. An output with no answer part at all (a truncated generation whose
  reasoning is all it says) is refused: its answer is its reasoning. Inside the steps only an
  explicit statement of the answer ("the answer is X", "Answer: X", ``\\boxed{X}``) is masked.
* **Prose** (R1's reasoning, a summary, a post-hoc explanation, an imported text): the text is cut
  into sentences (and lines, and list items). A sentence *states the final answer* when it names the
  answer and is a conclusion: it carries an answer label ("Answer:", "the answer is", "final
  answer", ``\\boxed``), opens with a concluding word ("Therefore", "Thus", "So", "In conclusion",
  "Conclusion:" ...), restates the question's claim about time ("at the same time", "during the
  identical time period", "concurrently", "simultaneously", "overlap"), singles the answer out
  ("the only ..."), is the answer alone on its line, or is the last sentence of the text that names
  the answer; a post-hoc explanation's first sentence naming the answer counts too, as explanations
  open with the answer. In those sentences every mention of the answer (each part of a multi-part
  answer, and a person's surname alone) is replaced by the placeholder, and adjacent placeholders
  ("A and B") merge into one so the count of answers is not given away. Sentences that name the
  answer only as part of the evidence (a fact quoted or retrieved: "the context lists titular
  bishop on May 25, 1940") stay as they are.
* **Refused** (``text`` None, ``note`` says why) where withholding the answer would not leave an
  honest text: an empty answer, a negative one ("None", "nothing": free text states a non-answer
  in too many ways to find them all), an answer that is a sentence rather than a name, a decomposition
  output with no answer part, and a text that is little more than its answer once masked.

``note`` says what was done (how many statements were masked) so a researcher can review it in the
admin beside the masked text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PLACEHOLDER", "MaskResult", "answer_aliases", "mask_final_answer"]

PLACEHOLDER = "[the model's answer is hidden]"

_TAGGED_KINDS = frozenset({"decomposition"})
_KINDS = frozenset({"decomposition", "reasoning", "summary", "explanation", "imported"})
_NEGATIVE_RE = re.compile(
    r"^\s*(?:none|nothing|no(?:body|one)?|n/?a|unknown|not\s+\w+|there\s+is\s+no|cannot|can't)\b",
    re.IGNORECASE,
)
_MAX_ANSWER_WORDS = 12
_MIN_WORDS_LEFT = 8
# Words that end institutions rather than personal names: their last word alone is not the answer.
_NOT_A_SURNAME = frozenset({
    "party", "democrats", "republicans", "union", "federation", "front", "alliance", "league",
    "movement", "congress", "council", "bishop", "project", "academy", "institute", "institution",
    "church", "company", "corporation", "inc", "ltd", "club", "team", "group", "society", "association",
    "republic", "army", "navy", "force", "office", "department", "ministry", "bank", "court", "state",
    "city", "university", "college", "school", "government", "committee", "commission", "agency",
    "organisation", "organization", "network", "news", "labour", "labor", "liberals", "conservatives",
    "socialists", "greens", "coalition", "list", "forum",
})
_ANSWER_LABEL_RE = re.compile(
    r"\banswer\s*(?:\*\*)?\s*[:\-]|\b(?:the\s+)?(?:final\s+|correct\s+)?answer\s+(?:is|should\s+be|must\s+be|would\s+be|"
    r"will\s+be|here\s+is)\b|\\boxed",
    re.IGNORECASE,
)
_CONCLUDING_START_RE = re.compile(
    r"^(?:therefore|thus|so|hence|consequently|in\s+conclusion|conclusion|in\s+summary|to\s+summari[sz]e|in\s+short|"
    r"overall|final(?:ly)?|that\s+means|this\s+means|which\s+means|the\s+answer|my\s+answer|the\s+match|result)\b",
    re.IGNORECASE,
)
_RESTATES_RE = re.compile(
    r"\b(?:same|identical|exact\s+same)\s+(?:time|period|day|date|interval|span|timeframe|time\s*frame|years?)\b|"
    r"\bconcurrent(?:ly)?\b|\bsimultaneous(?:ly)?\b|\bat\s+the\s+same\s+time\b|\boverlapp?(?:ing|ed|s)?\b|"
    r"\b(?:the\s+)?only\b",
    re.IGNORECASE,
)
# Sentence ends: . ! ? followed by space and a capital, quote, bold or digit; or a line break.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"'\u201d*)]*\s+(?=[\"'\u201c*(\[]*[A-Z0-9])|\n+")
_MARKUP_RE = re.compile(r"[*_`\"'\u201c\u201d\u2018\u2019>#\[\]()]|^\s*(?:[-+\u2022]|\d+[.)])\s+")


@dataclass(frozen=True)
class MaskResult:
    """The text as a simulation trial shows it (None: refused for simulation) and what was done or why."""

    text: str | None
    note: str


def answer_aliases(model_answer: str) -> list[str]:
    """The strings that name the answer: each part of a "; "-joined answer, and the surname of a name
    ("Dvirnyk" for "Viktor Dvirnyk"); longest first, so a longer name is replaced before its part."""
    parts = [p.strip().strip("'\"").strip() for p in model_answer.split(";")]
    aliases = {p for p in parts if p}
    for part in list(aliases):
        words = part.split()
        if 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words):
            last = words[-1].strip(".,")
            if len(last) >= 3 and last.lower() not in _NOT_A_SURNAME:
                aliases.add(last)
    return sorted(aliases, key=lambda a: (-len(a), a))


def _alias_re(aliases: list[str]) -> re.Pattern[str]:
    return re.compile(
        "|".join(rf"(?<!\w){re.escape(a)}(?!\w)" for a in aliases), re.IGNORECASE
    )


def _merge_placeholders(text: str) -> str:
    """"[hidden] and [hidden]", "**[hidden]**, **[hidden]**" -> one placeholder."""
    p = re.escape(PLACEHOLDER)
    joiner = r"[*\"'\u201c\u201d\s]*(?:,|;|&|\band\b|,\s*and\b)[*\"'\u201c\u201d\s]*"
    return re.sub(rf"{p}(?:{joiner}{p})+", PLACEHOLDER, text)


def _sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the text's sentences, lines and list items (never empty)."""
    spans, start = [], 0
    for m in _SENTENCE_END_RE.finditer(text):
        if text[start : m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def _bare(sentence: str) -> str:
    return " ".join(_MARKUP_RE.sub(" ", sentence).split()).strip(" .:!?,")


def _concludes(sentence: str, names: re.Pattern[str]) -> bool:
    bare = _bare(sentence)
    return bool(
        _ANSWER_LABEL_RE.search(sentence)
        or _CONCLUDING_START_RE.match(bare)
        or _RESTATES_RE.search(sentence)
        or names.fullmatch(bare)
    )


def _mask_prose(text: str, names: re.Pattern[str], kind: str) -> tuple[str, int]:
    """The text with every mention of the answer in its conclusions masked, and how many sentences."""
    spans = _sentences(text)
    naming = [i for i, (a, b) in enumerate(spans) if names.search(text[a:b])]
    if not naming:
        return text, 0
    chosen = {i for i in naming if _concludes(text[spans[i][0] : spans[i][1]], names)}
    chosen.add(naming[-1])  # the last statement naming the answer is where a text lands on it
    if kind == "explanation":
        chosen.add(naming[0])  # post-hoc explanations open with the answer
    out, pos = [], 0
    for i in sorted(chosen):
        a, b = spans[i]
        out += [text[pos:a], names.sub(PLACEHOLDER, text[a:b])]
        pos = b
    out.append(text[pos:])
    return _merge_placeholders("".join(out)), len(chosen)


def _mask_labelled(text: str, names: re.Pattern[str]) -> tuple[str, int]:
    """The text with the answer masked in its sentences that label it ("Answer: X", "the answer is X")."""
    count = 0
    for a, b in reversed(_sentences(text)):
        if _ANSWER_LABEL_RE.search(text[a:b]) and names.search(text[a:b]):
            text = text[:a] + _merge_placeholders(names.sub(PLACEHOLDER, text[a:b])) + text[b:]
            count += 1
    return text, count


def _answer_part(text: str) -> int | None:
    """Where a tagged trace's answer part starts (after ``</think>``, or at ``<answer>``), or None."""
    close = [m.end() for m in re.finditer(r"</think>", text, re.IGNORECASE)]
    if close and text[close[-1] :].strip():
        return close[-1]
    opened = [m.start() for m in re.finditer(r"<answer>", text, re.IGNORECASE)]
    return opened[-1] if opened else None


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text.replace(PLACEHOLDER, " ")))


def mask_final_answer(text: str, kind: str, model_answer: str) -> MaskResult:
    """``text`` with its statement of ``model_answer`` replaced by ``PLACEHOLDER`` (module docstring:
    the rule); ``MaskResult(None, why)`` where that cannot be done without leaving the answer stated
    or the text destroyed. ``kind`` is a ``studyapp.models.TraceKind`` value."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    answer = (model_answer or "").strip()
    tagged = kind in _TAGGED_KINDS or re.search(r"</think>|<answer>", text, re.IGNORECASE) is not None
    if tagged:
        start = _answer_part(text)
        reasoning = text if start is None else text[:start]
        masked_steps = 0
        if answer and not _NEGATIVE_RE.match(answer):
            names = _alias_re(answer_aliases(answer))
            if kind == "decomposition":  # the steps are evidence: only an explicit statement is masked
                reasoning, masked_steps = _mask_labelled(reasoning, names)
            else:
                reasoning, masked_steps = _mask_prose(reasoning, names, kind)
        if start is None:
            if masked_steps:
                return MaskResult(reasoning, "The output has no answer part; its statement of the answer in "
                                             "the reasoning is masked.")
            return MaskResult(None, "Refused: the output has no answer part (no <answer> and nothing after "
                                    "</think>), so its reasoning is all it says and holds its answer.")
        sep = "" if not reasoning or reasoning[-1].isspace() else " "
        note = "The answer part is hidden."
        if masked_steps:
            note += f" {masked_steps} statement(s) of the answer in the reasoning masked."
        return MaskResult(f"{reasoning}{sep}<answer>{PLACEHOLDER}</answer>", note)
    if not answer:
        return MaskResult(None, "Refused: the model gave no answer, so there is nothing to withhold.")
    if _NEGATIVE_RE.match(answer):
        return MaskResult(None, f"Refused: the model's answer ({answer[:60]!r}) is a non-answer, which "
                                "free text states in too many ways to withhold reliably.")
    if len(answer.split()) > _MAX_ANSWER_WORDS:
        return MaskResult(None, "Refused: the model's answer is a sentence, not a name that can be withheld.")
    masked, count = _mask_prose(text, _alias_re(answer_aliases(answer)), kind)
    if count and _words(masked) < _MIN_WORDS_LEFT:
        return MaskResult(None, "Refused: masked, the text is little more than its answer.")
    if not count:
        return MaskResult(text, "The text does not name the model's answer; shown as it is.")
    return MaskResult(masked, f"{count} statement(s) of the answer masked.")
