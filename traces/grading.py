"""Grading decomposition traces step by step, after arXiv 2505.13792.

The paper asks whether a correct *trace* goes with a correct *answer*. To measure
that, each step of a trace is graded separately: the classification step (does
it name the right temporal relation?), the information-retrieval step (does it
list the right context facts?) and the final answer (does it match a gold
answer?). ``grade_trace`` does this for any text: a rule-built trace from
``traces.decomposition.build_trace`` or a model's raw generation, which may be
truncated, lack tags, carry extra text, or quote its lists differently. It never
raises on a string; what it cannot parse is reported in ``errors`` and graded
wrong. ``summarize`` turns a list of grades into accuracies and the 2x2 table of
trace-correct x answer-correct.

What counts as the right facts (``retrieval_correct``): the retrieval step must
do what ``decomposition.retrieval_facts`` does -- put the question's anchor
event next to facts that give each gold answer at the right time. So, after
normalisation,

* every listed fact is one of the problem's context facts (nothing invented);
* the anchor fact (the event the question names) is listed, when one can be
  found (``require_anchor=False`` drops this, e.g. for the authors' own traces,
  which listed only the answers' facts);
* every gold answer is named by at least one listed fact that
  ``retrieval_facts`` keeps for the expected relation (the fact that dates the
  answer against the anchor);
* no listed fact is a distractor, i.e. a fact that is not the anchor and names
  no gold answer (facts naming a gold answer at another time are tolerated: they
  are about the answer, just not needed).

Traces from ``build_trace(correct=True)`` list exactly ``retrieval_facts`` and
pass; those from ``build_trace(correct=False)`` list only distractors and fail.
"""

from __future__ import annotations

import ast
import re
import string
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from traces.decomposition import find_anchor_fact, retrieval_facts

__all__ = [
    "GradeSummary",
    "TraceGrade",
    "answer_matches",
    "grade_trace",
    "normalize_answer",
    "parse_answer_list",
    "summarize",
]

_CLASSIFICATION_RE = re.compile(
    r"temporal\s+relation\s+between\s+the\s+event\s+in\s+question\s+and\s+the\s+event\s+in\s+context\s+"
    r"is\s*:?[ \t]*(?P<rel>[^\n]*)",
    re.IGNORECASE,
)
_RETRIEVAL_RE = re.compile(
    r"I\s+need\s+to\s+use\s+the\s+following\s+facts\s+to\s+answer\s+the\s+question\s*:?",
    re.IGNORECASE,
)
_RELATION_STOP_RE = re.compile(r"\.(?:\s|$)|I\s+need\s+to\s+use|</?think>|<answer>", re.IGNORECASE)
_QUOTED_RE = re.compile(
    r"'(?:[^'\\]|\\.)*'"  # 'python repr'
    r'|"(?:[^"\\]|\\.)*"'  # "json or python repr"
    r"|\u2018[^\u2019]*\u2019"  # curly single quotes
    r"|\u201c[^\u201d]*\u201d",  # curly double quotes
    re.DOTALL,
)
_TAG_RE = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}
_MAX_TEXT = 200_000  # longer inputs are cut (and the cut reported) to bound the work


def normalize_answer(text: str) -> str:
    """SQuAD-style normal form: lower-case, no punctuation, no articles, single spaces."""
    if not isinstance(text, str):
        text = str(text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = _ARTICLES_RE.sub(" ", text)
    return " ".join(text.split())


def _unquote(token: str) -> str:
    """Body of one quoted token, with Python/JSON escapes undone where possible."""
    if token[0] in "'\"":
        try:
            value = ast.literal_eval(token)  # one flat string literal: safe and cheap
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return token[1:-1]
        return value if isinstance(value, str) else token[1:-1]
    return token[1:-1]


def _scan_list(text: str) -> tuple[list[str], bool, int]:
    """Quoted items of a list that starts at text[0] == '['.

    Returns (items, closed, end): ``closed`` is False when no ']' ends the list
    (a truncated generation); ``end`` is the index just after the list.
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


def parse_answer_list(text: str) -> list[str]:
    """Candidate answers in an answer text.

    The whole text is one candidate; a list such as ``['A', "B"]`` (any common
    quoting) adds its items, ``[A, B]`` without quotes adds its comma-separated
    parts, and a multi-line answer adds its first line (models often append an
    explanation or a boxed copy).
    """
    if not isinstance(text, str):
        return []
    stripped = text.strip()
    if not stripped:
        return []
    candidates = [stripped]
    if stripped.startswith("["):
        items, closed, _ = _scan_list(stripped)
        if items:
            candidates.extend(items)
        elif closed:
            inner = stripped[1 : stripped.index("]")]
            candidates.extend(part.strip() for part in inner.split(",") if part.strip())
    first_line = stripped.splitlines()[0].strip()
    if first_line != stripped:
        candidates.extend(parse_answer_list(first_line))
    seen: set[str] = set()
    return [c for c in candidates if not (c in seen or seen.add(c))]


def answer_matches(predicted: Iterable[str], gold_answers: Iterable[str]) -> bool:
    """True if any predicted answer equals any gold answer after ``normalize_answer``."""
    gold = {normalize_answer(g) for g in gold_answers}
    gold.discard("")
    return any(normalize_answer(p) in gold for p in predicted)


@dataclass(frozen=True)
class TraceGrade:
    """Grade of one trace: what each step said, whether it is right, and why not.

    ``relation``, ``retrieved_facts`` and ``answer`` are None when the step is
    missing. ``errors`` lists what could not be parsed; ``retrieval_issues``
    says why a parsed retrieval step was graded wrong.
    """

    relation: str | None
    retrieved_facts: list[str] | None
    answer: str | None
    predicted_answers: list[str]
    answer_correct: bool
    classification_correct: bool
    retrieval_correct: bool
    errors: list[str] = field(default_factory=list)
    retrieval_issues: list[str] = field(default_factory=list)

    @property
    def trace_correct(self) -> bool:
        """Both trace steps correct (the paper's "correct trace")."""
        return self.classification_correct and self.retrieval_correct


def _find(tag: str, text: str, start: int = 0) -> int:
    """Index of ``tag`` in ``text`` (any case), or -1. Case-folding the whole text
    could change its length (e.g. "\u0130".lower()), so indices come from a regex."""
    m = re.compile(re.escape(tag), re.IGNORECASE).search(text, start)
    return m.start() if m else -1


def _split_think(text: str, errors: list[str]) -> tuple[str | None, str | None]:
    """(reasoning region, answer region) of a generation."""
    open_i = _find("<think>", text)
    close_i = _find("</think>", text, open_i + 1 if open_i >= 0 else 0)
    if open_i >= 0 and close_i >= 0:
        return text[open_i + len("<think>") : close_i], text[close_i + len("</think>") :]
    if close_i >= 0:  # chat templates often put <think> in the prompt
        errors.append("no <think> tag before </think>")
        return text[:close_i], text[close_i + len("</think>") :]
    if open_i >= 0:
        errors.append("<think> is never closed (truncated?)")
        rest = text[open_i + len("<think>") :]
        ans = _find("<answer>", rest)
        return (rest[:ans], rest[ans:]) if ans >= 0 else (rest, None)
    errors.append("no <think>...</think> block")
    ans = _find("<answer>", text)
    return (text[:ans], text[ans:]) if ans >= 0 else (text, None)


def _parse_answer(text: str, tail: str | None, has_steps: bool, errors: list[str]) -> str | None:
    if tail is not None and _find("<answer>", tail) >= 0:
        text = tail  # an <answer> mentioned inside the reasoning is not the answer
    open_i = _find("<answer>", text)
    if open_i >= 0:
        start = open_i + len("<answer>")
        close_i = _find("</answer>", text, start)
        if close_i >= 0:
            return text[start:close_i].strip()
        errors.append("<answer> is never closed (truncated?); took the rest of the text")
        return text[start:].strip()
    if tail is not None and tail.strip():
        errors.append("no <answer> tag; took the text after </think>")
        return tail.strip()
    if not has_steps and text.strip():
        # a bare reply such as "Liberal Federation" (e.g. from a vanilla model)
        errors.append("no <answer> tag and no trace; took the whole text as the answer")
        return text.strip()
    errors.append("no final answer found")
    return None


def _parse_relation(region: str, errors: list[str]) -> str | None:
    m = _CLASSIFICATION_RE.search(region)
    if m is None:
        errors.append("classification step not found")
        return None
    rel = m.group("rel")
    stop = _RELATION_STOP_RE.search(rel)
    rel = (rel[: stop.start()] if stop else rel).strip().strip("*_`'\" ").strip()
    if not rel:
        errors.append("classification step names no relation")
        return None
    return rel


def _parse_facts(region: str, errors: list[str]) -> tuple[list[str] | None, bool]:
    """(listed facts, parsed cleanly) of the retrieval step."""
    m = _RETRIEVAL_RE.search(region)
    if m is None:
        errors.append("retrieval step not found")
        return None, False
    body = region[m.end() :]
    cut = re.search(r"</?think>|<answer>", body, re.IGNORECASE)
    body = (body[: cut.start()] if cut else body).strip()
    if not body:
        errors.append("retrieval step lists no facts")
        return [], False
    if body.startswith("["):
        items, closed, end = _scan_list(body)
        if not closed:
            errors.append("retrieval list is never closed (truncated?)")
            return items, False
        if not items and body[1:end - 1].strip():
            # [fact one, fact two] without quotes: cannot split safely on commas
            errors.append("retrieval list items are not quoted")
            return [body[1 : end - 1].strip()], False
        return items, True
    # Bare text: the authors' incorrect traces write one fact without brackets;
    # models sometimes write one fact per line or bullet.
    lines = [_BULLET_RE.sub("", ln).strip() for ln in body.splitlines()]
    facts = [ln for ln in lines if ln]
    if len(facts) == 1:
        facts = [_unquote(facts[0]) if _QUOTED_RE.fullmatch(facts[0]) else facts[0]]
    return facts, True


def _names(fact: str, answer: str) -> bool:
    """Fact mentions the answer (as a raw substring or as whole normalised words)."""
    a = normalize_answer(answer)
    if not a:
        return False
    return answer.strip().lower() in fact.lower() or f" {a} " in f" {normalize_answer(fact)} "


def _grade_retrieval(
    listed: list[str],
    question: str,
    facts: list[str],
    gold: list[str],
    relation: str,
    require_anchor: bool,
) -> list[str]:
    """Reasons the listed facts are not the right ones (empty list: right)."""
    issues: list[str] = []
    by_key = {normalize_answer(f): f for f in facts}
    chosen: list[str] = []
    for item in listed:
        fact = by_key.get(normalize_answer(item))
        if fact is None:
            issues.append(f"not a context fact: {item[:120]!r}")
        else:
            chosen.append(fact)
    if not listed:
        issues.append("no facts listed")
    anchor = find_anchor_fact(question, facts)
    if require_anchor and anchor is not None and anchor not in chosen:
        issues.append("the question's anchor fact is not listed")
    chosen_set = set(chosen)
    for answer in gold:
        # retrieval_facts treats answers independently, so one answer at a time
        # gives exactly the facts it keeps for that answer.
        support = set(retrieval_facts(question, facts, [answer], relation)) - {anchor}
        if support and not support & chosen_set:
            issues.append(f"no listed fact gives the gold answer {answer!r}")
    for fact in chosen:
        if fact != anchor and not any(_names(fact, a) for a in gold):
            issues.append(f"distractor fact (not the anchor, names no gold answer): {fact[:120]!r}")
    return issues


def grade_trace(
    text: object,
    *,
    question: str,
    facts: Sequence[str],
    gold_answers: Sequence[str],
    relation: str,
    require_anchor: bool = True,
) -> TraceGrade:
    """Grade one trace (any text) against its problem; never raises.

    ``relation`` is the expected relation (the CoTempQA split name, as the
    authors used it). See the module docstring for what makes retrieval right.
    """
    errors: list[str] = []
    try:
        if not isinstance(text, str):
            errors.append(f"trace is not a string but {type(text).__name__}")
            text = "" if text is None else str(text)
        if len(text) > _MAX_TEXT:
            errors.append(f"trace longer than {_MAX_TEXT} characters; the rest was ignored")
            text = text[:_MAX_TEXT]
        facts_l = [str(f) for f in facts]
        gold = [str(a) for a in gold_answers if str(a).strip()]
        question = str(question)

        region, tail = _split_think(text, errors)
        region = region or ""
        relation_text = _parse_relation(region, errors)
        listed, clean = _parse_facts(region, errors)
        has_steps = bool(
            _CLASSIFICATION_RE.search(text) or _RETRIEVAL_RE.search(text) or _TAG_RE.search(text)
        )
        answer = _parse_answer(text, tail, has_steps, errors)

        predicted = parse_answer_list(answer) if answer is not None else []
        if answer is not None and not predicted:
            errors.append("final answer is empty")
        answer_ok = answer_matches(predicted, gold)
        class_ok = relation_text is not None and normalize_answer(relation_text) == normalize_answer(
            str(relation)
        )
        issues: list[str] = []
        if listed is not None:
            issues = _grade_retrieval(listed, question, facts_l, gold, str(relation), require_anchor)
        retrieval_ok = listed is not None and clean and not issues
        return TraceGrade(
            relation=relation_text,
            retrieved_facts=listed,
            answer=answer,
            predicted_answers=predicted,
            answer_correct=answer_ok,
            classification_correct=class_ok,
            retrieval_correct=retrieval_ok,
            errors=errors,
            retrieval_issues=issues,
        )
    except Exception as exc:  # defensive: a grade, not a crash, for any input
        return TraceGrade(
            relation=None,
            retrieved_facts=None,
            answer=None,
            predicted_answers=[],
            answer_correct=False,
            classification_correct=False,
            retrieval_correct=False,
            errors=[*errors, f"internal error while grading: {type(exc).__name__}: {exc}"],
        )


@dataclass(frozen=True)
class GradeSummary:
    """Accuracies over a list of grades and the trace x answer 2x2 table.

    Rates are None when undefined (no grades; no correct / incorrect traces).
    """

    n: int
    answer_accuracy: float | None
    classification_accuracy: float | None
    retrieval_accuracy: float | None
    trace_accuracy: float | None
    p_answer_given_correct_trace: float | None
    p_answer_given_incorrect_trace: float | None
    trace_correct_answer_correct: int
    trace_correct_answer_wrong: int
    trace_wrong_answer_correct: int
    trace_wrong_answer_wrong: int

    def table(self) -> dict[tuple[bool, bool], int]:
        """The 2x2 counts keyed by (trace_correct, answer_correct)."""
        return {
            (True, True): self.trace_correct_answer_correct,
            (True, False): self.trace_correct_answer_wrong,
            (False, True): self.trace_wrong_answer_correct,
            (False, False): self.trace_wrong_answer_wrong,
        }


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def percent(rate: float | None, undefined: str = "undefined") -> str:
    """A rate as a percentage for people to read; `undefined` where there were no cases."""
    return undefined if rate is None else f"{100 * rate:.1f}%"


def summarize(grades: Iterable[TraceGrade]) -> GradeSummary:
    """Aggregate grades: the paper's question is P(correct answer | correct trace)."""
    grades = list(grades)
    n = len(grades)
    tc_ac = sum(1 for g in grades if g.trace_correct and g.answer_correct)
    tc_aw = sum(1 for g in grades if g.trace_correct and not g.answer_correct)
    tw_ac = sum(1 for g in grades if not g.trace_correct and g.answer_correct)
    tw_aw = n - tc_ac - tc_aw - tw_ac
    return GradeSummary(
        n=n,
        answer_accuracy=_rate(tc_ac + tw_ac, n),
        classification_accuracy=_rate(sum(g.classification_correct for g in grades), n),
        retrieval_accuracy=_rate(sum(g.retrieval_correct for g in grades), n),
        trace_accuracy=_rate(tc_ac + tc_aw, n),
        p_answer_given_correct_trace=_rate(tc_ac, tc_ac + tc_aw),
        p_answer_given_incorrect_trace=_rate(tw_ac, tw_ac + tw_aw),
        trace_correct_answer_correct=tc_ac,
        trace_correct_answer_wrong=tc_aw,
        trace_wrong_answer_correct=tw_ac,
        trace_wrong_answer_wrong=tw_aw,
    )
