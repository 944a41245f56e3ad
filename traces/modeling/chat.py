"""Chats as the model's own template writes them, for generation and for training.

Real chat templates differ in ways that matter here: Llama 3.x prints today's date into every prompt
(so prompts made on different days differ), Qwen3 opens or closes a thinking block depending on
``enable_thinking``, and DeepSeek-R1-Distill opens ``<think>`` in the generation prompt and strips
reasoning from assistant turns it renders. So a training example's prompt is always rendered exactly
as ``generate`` renders it, and what follows it is the text the model would write there in the
template's own shape, with one thinking block (``answer_text``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100  # label value that torch's cross entropy (and transformers' LM loss) skips
# The Llama 3.1 template's own default date: Llama 3.x templates print "Today Date: ..." and, where
# transformers offers strftime_now (3.2 and later), today's; fixed, every prompt is the same any day.
FIXED_DATE = "26 Jul 2024"
_PROBE = "\u2063ASSISTANT-CONTENT\u2063"  # stands in for an answer, to find where the template puts it

Prompt = str | Sequence[dict[str, str]]  # a user message, or the chat turns before the answer


@dataclass(frozen=True)
class TemplateOptions:
    """Variables the chat template reads: ``enable_thinking`` (Qwen3; None leaves the template's
    default) and the date Llama's template prints."""

    enable_thinking: bool | None = None
    date_string: str = FIXED_DATE

    def variables(self) -> dict[str, Any]:
        out: dict[str, Any] = {"date_string": self.date_string}
        if self.enable_thinking is not None:
            out["enable_thinking"] = self.enable_thinking
        return out


def turns_of(prompt: Prompt) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _render(tokenizer: PreTrainedTokenizerBase, turns: list[dict[str, str]], options: TemplateOptions,
            generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        turns, tokenize=False, add_generation_prompt=generation_prompt, **options.variables()
    )


def chat_prompt(
    tokenizer: PreTrainedTokenizerBase, prompt: Prompt, options: TemplateOptions | None = None
) -> str:
    """The prompt's turns in the tokenizer's chat template, with the generation prompt. A tokenizer
    without a template gets the turns' contents, one after another."""
    turns = turns_of(prompt)
    if not getattr(tokenizer, "chat_template", None):
        return "\n\n".join(turn["content"] for turn in turns)
    return _render(tokenizer, turns, options or TemplateOptions(), generation_prompt=True)


def _check(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("an example needs a non-empty 'messages' list")
    for m in messages:
        if not isinstance(m, dict) or not all(isinstance(m.get(k), str) for k in ("role", "content")):
            raise ValueError(f"each message needs string 'role' and 'content', got {m!r}")
    if messages[-1]["role"] != "assistant":
        raise ValueError("an example ends with the assistant's answer (its last message)")
    return messages


_OPEN_THINK_END = re.compile(r"<think>\s*$")  # a generation prompt that opens a thinking block (R1)
_CLOSED_THINK_END = re.compile(r"<think>\s*</think>\s*$")  # one that closed it empty (Qwen3, thinking off)


def split_reasoning(content: str) -> tuple[str | None, str]:
    """(reasoning, rest) of an assistant text that starts with a ``<think>`` block (the authors' trace
    format ``<think>trace</think> <answer>...</answer>``); (None, content) for one that does not."""
    stripped = content.lstrip()
    if not stripped.startswith("<think>") or "</think>" not in stripped:
        return None, content
    reasoning, rest = stripped[len("<think>"):].split("</think>", 1)
    return reasoning.strip("\n"), rest.lstrip()


def answer_text(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]],
                options: TemplateOptions | None = None) -> tuple[str, str]:
    """(prompt, answer): the prompt exactly as ``generate`` renders it, and the text the model should
    write after it, ending with the template's end of turn, in the shape the model writes at inference:

    * a template that renders the whole chat with the prompt as its prefix (Llama, whose content is
      kept as written; Qwen3 with thinking on, whose thinking block it writes ``<think>\\n...\\n</think>``)
      gives the answer as it renders it;
    * a generation prompt that opens ``<think>`` (R1-Distill) is continued with the trace and closed,
      ``</think>`` then the answer, also when there is no trace (an empty thought), never left open;
    * a generation prompt that has already closed an empty thinking block (Qwen3 with thinking off)
      is followed by the trace as visible text, then the answer: no second thinking block.
    """
    messages = _check(messages)
    options = options or TemplateOptions()
    content = messages[-1]["content"]
    if not getattr(tokenizer, "chat_template", None):
        return chat_prompt(tokenizer, messages[:-1], options), content + (tokenizer.eos_token or "")
    prompt = _render(tokenizer, messages[:-1], options, generation_prompt=True)
    reasoning, rest = split_reasoning(content)
    whole = _render(tokenizer, messages, options, generation_prompt=False)
    if whole.startswith(prompt) and (not reasoning or reasoning in whole[len(prompt):]):
        return prompt, whole[len(prompt):]
    probe = _render(tokenizer, [*messages[:-1], {"role": "assistant", "content": _PROBE}], options, False)
    if _PROBE not in probe:
        raise ValueError("the chat template leaves out the assistant's content")
    end_of_turn = probe[probe.index(_PROBE) + len(_PROBE):]
    if opened := _OPEN_THINK_END.search(prompt):
        lead = "" if opened.group().endswith("\n") else "\n"
        return prompt, lead + (reasoning or "") + "\n</think>\n\n" + rest + end_of_turn
    if _CLOSED_THINK_END.search(prompt):
        return prompt, (reasoning + "\n\n" if reasoning else "") + rest + end_of_turn
    raise ValueError(
        "the chat template renders the answer after something other than the generation prompt, and "
        "the project does not know where its trace goes: add a template that keeps the answer as written"
    )


def encode_chat(
    tokenizer: PreTrainedTokenizerBase,
    messages: list[dict[str, str]],
    options: TemplateOptions | None = None,
    loss_on: str = "assistant",
) -> tuple[list[int], list[int]]:
    """Token ids and labels of one training chat. The prompt is tokenized exactly as ``generate``
    tokenizes it and the answer on its own; labels are the answer's ids (``loss_on="assistant"``)
    or every id (``"all"``, the authors' run), -100 elsewhere. Nothing is truncated here."""
    if loss_on not in ("assistant", "all"):
        raise ValueError(f"loss_on must be 'assistant' or 'all', not {loss_on!r}")
    prompt, answer = answer_text(tokenizer, messages, options)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    masked = prompt_ids if loss_on == "all" else [IGNORE_INDEX] * len(prompt_ids)
    return prompt_ids + answer_ids, masked + answer_ids
