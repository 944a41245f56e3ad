"""Chats as the model's own template writes them, for generation and for training.

Real chat templates differ in ways that matter here: Llama 3.x prints today's date into every prompt
(so prompts made on different days differ), Qwen3 opens or closes a thinking block depending on
``enable_thinking``, and DeepSeek-R1-Distill opens ``<think>`` in the generation prompt and strips
reasoning from assistant turns it renders. So a training example is never rendered whole: its prompt
is rendered exactly as ``generate`` renders it, and the answer (content and the template's end of
turn) is appended, less whatever the generation prompt already opened.
"""

from __future__ import annotations

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


def answer_text(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]],
                options: TemplateOptions | None = None) -> tuple[str, str]:
    """(prompt, answer): the prompt as ``generate`` renders it, and the text the model should write
    after it: the last (assistant) message's content and the template's end of turn, less any part
    of it the generation prompt already opened (R1's ``<think>``)."""
    messages = _check(messages)
    options = options or TemplateOptions()
    content = messages[-1]["content"]
    if not getattr(tokenizer, "chat_template", None):
        return chat_prompt(tokenizer, messages[:-1], options), content + (tokenizer.eos_token or "")
    prompt = _render(tokenizer, messages[:-1], options, generation_prompt=True)
    probe = _render(tokenizer, [*messages[:-1], {"role": "assistant", "content": _PROBE}], options, False)
    at = probe.find(_PROBE)
    if at < 0:
        raise ValueError("the chat template leaves out the assistant's content")
    header, end_of_turn = probe[:at], probe[at + len(_PROBE):]
    opened = prompt[len(header):] if prompt.startswith(header) else ""
    for start in (opened, opened.strip()):
        if start and content.startswith(start):
            content = content[len(start):].lstrip("\n") if start != opened else content[len(start):]
            break
    return prompt, content + end_of_turn


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
