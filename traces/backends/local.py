"""Chats answered by a local checkpoint on this worker, in batches of prompts of similar length."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .. import model_cache, modeling
from ..run_settings import GenerationSettings
from . import Message, Reply


class LocalBackend:
    """A checkpoint (loaded once per worker process) with the job's decoding settings and template
    options."""

    def __init__(
        self, path: str, base: str | None, settings: GenerationSettings, options: modeling.TemplateOptions,
        batch_size: int,
    ) -> None:
        self.model, self.tokenizer = model_cache.cached_model(path, base)
        self.settings, self.options, self.batch_size = settings, options, batch_size

    def replies(self, chats: Sequence[Sequence[Message]]) -> Iterator[list[tuple[int, Reply]]]:
        """(index, reply) of every chat, a batch at a time."""
        chats = [list(chat) for chat in chats]
        for indices in modeling.batches_by_length(self.tokenizer, chats, self.batch_size, self.options):
            outputs = modeling.generate(
                self.model, self.tokenizer, [chats[i] for i in indices], self.settings, self.options
            )
            yield [
                (i, Reply(
                    content=out.text, prompt_text=out.prompt, prompt_tokens=out.prompt_tokens,
                    completion_tokens=out.completion_tokens, latency_s=out.latency_s, settings=out.settings,
                ))
                for i, out in zip(indices, outputs, strict=True)
            ]
