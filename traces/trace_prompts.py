"""The prompts that make a study's reasoning traces, summaries and post-hoc explanations, as the paper's
authors made theirs, and reading a reasoning model's reply into its reasoning and its answer.

Plain data in and out (no Django, no torch). Sources (sbhambr1/Trace_Check_QA, MIT):

* reasoning: DeepSeek-R1 (``deepseek-reasoner``) asked the CoTempQA prompt alone, one fact a line
  (``scripts/cotempqa_r1_inference.py``); the trace is its ``reasoning_content``, the answer its content;
* summary: ``gpt-4o-mini`` at temperature 0 asked to summarise the trace in under 100 words (the
  summarisation script; the wording below is theirs);
* explanation: R1 continuing the conversation (the problem; its trace and its answer as two assistant
  turns) with the request for an explanation (the explanation script); the explanation is its content.

A template is a Python format string; ``check_template`` says which fields each kind needs.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from .grading.parsing import find_tag

REASONING, SUMMARY, EXPLANATION = "reasoning", "summary", "explanation"

DEFAULT_TEMPLATES: dict[str, str] = {
    REASONING: (
        "Answer the question based on the context:\n{context}\nQuestion: {question} Only return the answer.\n"
    ),
    SUMMARY: (
        "Summarize the following trace in a very concise and clear manner, highlighting key events and "
        "outcomes in less than 100 words:\n\n{trace}\n\nSummary:"
    ),
    EXPLANATION: (
        "You have answered the question correctly. Please provide a detailed explanation of the "
        "reasoning behind your answer. The explanation should be clear, concise, and easy to "
        "understand. \n Explanation: "
    ),
}
#: The fields each kind's template may use, and those it must use.
TEMPLATE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    REASONING: (frozenset({"context", "question"}), frozenset({"question"})),
    SUMMARY: (frozenset({"trace", "question", "answer"}), frozenset({"trace"})),
    EXPLANATION: (frozenset({"answer"}), frozenset()),
}
#: Where the answer an explanation explains comes from: the problem's reasoning trace (as the authors
#: did: R1's own, correct, answer), or the gold answers.
ANSWER_SOURCES = ("reasoning", "gold")

Message = dict[str, str]


class TemplateError(ValueError):
    """A prompt template that cannot be used; the message says why."""


def check_template(kind: str, template: str) -> None:
    """Raise TemplateError unless ``template`` is a format string with only the kind's fields and
    all of its required ones."""
    allowed, required = TEMPLATE_FIELDS[kind]
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise TemplateError(
            f"The {kind} prompt is not a valid template ({error}); write a literal brace as {{{{ or }}}}."
        ) from None
    unknown = sorted(used - allowed)
    if unknown or "" in used:
        names = ", ".join("{" + name + "}" for name in unknown or [""])
        raise TemplateError(
            f"The {kind} prompt uses {names}; it may use {', '.join('{' + n + '}' for n in sorted(allowed))} "
            "(write a literal brace as {{ or }})."
        )
    missing = sorted(required - used)
    if missing:
        raise TemplateError(f"The {kind} prompt must contain {', '.join('{' + n + '}' for n in missing)}.")
    if not template.strip():
        raise TemplateError(f"The {kind} prompt is empty.")


def _turns(system: str, *turns: Message) -> list[Message]:
    return [*([{"role": "system", "content": system}] if system else []), *turns]


def reasoning_messages(question: str, facts: Sequence[str], template: str, system: str = "") -> list[Message]:
    """The chat asking a reasoning model the problem (facts one a line, as R1 was asked)."""
    prompt = template.format(context="\n".join(facts), question=question)
    return _turns(system, {"role": "user", "content": prompt})


def summary_messages(trace: str, template: str, *, question: str = "", answer: str = "") -> list[Message]:
    """The chat asking for a summary of a reasoning trace (one user turn, as the authors asked)."""
    return [{"role": "user", "content": template.format(trace=trace, question=question, answer=answer)}]


def explanation_messages(
    problem_prompt: str, answer: str, template: str, *, trace: str = "", system: str = ""
) -> list[Message]:
    """The conversation asking for a post-hoc explanation of ``answer``: the problem, the model's
    trace and its answer as two assistant turns (the trace turn only when there is one), then the
    request."""
    given = [{"role": "assistant", "content": trace}] if trace else []
    return _turns(
        system,
        {"role": "user", "content": problem_prompt},
        *given,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": template.format(answer=answer)},
    )


@dataclass(frozen=True)
class ReadReply:
    """A reply read into its reasoning (empty when there is none) and what follows it."""

    reasoning: str
    answer: str
    notes: tuple[str, ...] = ()


def read_reply(content: str, reasoning: str | None = None, *, think_opened: bool = False) -> ReadReply:
    """Split a reasoning model's reply. An API that returns the reasoning apart (DeepSeek's
    ``reasoning_content``, vLLM's reasoning parser) gives it in ``reasoning``; otherwise it is the
    text inside ``<think>...</think>`` of the content. ``think_opened``: the prompt itself ended in
    ``<think>`` (R1-Distill's template), so the reply starts inside the reasoning."""
    if reasoning and reasoning.strip():
        close = find_tag("</think>", content)
        answer = content[close + len("</think>"):] if close >= 0 else content
        return ReadReply(reasoning.strip(), answer.strip())
    close = find_tag("</think>", content)
    if close >= 0:
        before = content[:close]
        opened = find_tag("<think>", before)
        thought = before[opened + len("<think>"):] if opened >= 0 else before
        return ReadReply(thought.strip(), content[close + len("</think>"):].strip())
    opened = find_tag("<think>", content)
    if opened >= 0 or think_opened:
        thought = content[opened + len("<think>"):] if opened >= 0 else content
        return ReadReply(thought.strip(), "", ("the reasoning never ended (cut off by max_new_tokens?)",))
    return ReadReply("", content.strip(), ("no reasoning: the model answered directly",))
