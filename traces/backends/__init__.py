"""Where a job's chats are answered: a local checkpoint on the GPU worker (``local``), or any
OpenAI-compatible server (``openai_compatible``: vLLM, SGLang, ``transformers serve``, DeepSeek's or
OpenAI's API). Both yield replies in groups as they come, so the runner commits each group at once
and a restarted job asks again only what it has not stored."""

from __future__ import annotations

from dataclasses import dataclass, field

Message = dict[str, str]


class BackendError(Exception):
    """The backend cannot answer at all (no key, the server refuses the key or the model); the job
    fails with this message and can be re-run once it is fixed."""


class RequestRefused(Exception):
    """The server refused one request (e.g. the prompt is too long for the model): that problem is
    skipped and counted, the others go on."""


def storable_text(text: str) -> tuple[str, list[str]]:
    """Model output with NUL characters replaced (PostgreSQL's text and jsonb cannot hold them), and a
    note when there were any."""
    if "\x00" not in text:
        return text, []
    return text.replace("\x00", "\ufffd"), ["The output contained NUL characters, stored as U+FFFD."]


@dataclass(frozen=True)
class Reply:
    """One answered chat: the reply's text, the reasoning an API returned apart (None when it gives
    none), and what is known of how it was made."""

    content: str
    reasoning: str | None = None
    prompt_text: str = ""  # the prompt as the model saw it (a local model's chat template applied)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    settings: dict = field(default_factory=dict)
