"""Chats answered by an OpenAI-compatible server, many at once, through OpenAI's own client.

The client (``openai``) retries rate limits (429, honouring Retry-After), server errors (5xx) and lost
connections with exponential back-off; here requests run on ``max_concurrency`` threads, and replies are
yielded in the order they arrive. The API key is read from the environment variable the endpoint
names, at the moment the client is made, and goes nowhere else (never into the job, a trace or a log).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import openai

from ..run_settings import GenerationSettings
from . import BackendError, Message, Reply, RequestRefused


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    model: str
    api_key_env: str = ""
    max_concurrency: int = 8
    max_retries: int = 8
    timeout_s: float = 900
    extra_body: dict = field(default_factory=dict)


def request_options(settings: GenerationSettings) -> tuple[dict, dict]:
    """(named arguments, extra body) of a chat request for the job's decoding settings. Unset
    settings are not sent, so the server's defaults (the model's generation config, for vLLM) apply;
    ``do_sample=False`` is temperature 0 (greedy); top_k is not in OpenAI's API, so it goes in the body
    (vLLM and SGLang read it there)."""
    options: dict = {"max_tokens": settings.max_new_tokens}
    extra: dict = {}
    if settings.do_sample is False:
        options["temperature"] = 0.0
    else:
        if settings.temperature is not None:
            options["temperature"] = settings.temperature
        if settings.top_p is not None:
            options["top_p"] = settings.top_p
        if settings.top_k is not None:
            extra["top_k"] = settings.top_k
    if settings.stop_strings:
        options["stop"] = list(settings.stop_strings)
    if settings.do_sample:
        options["seed"] = settings.seed
    return options, extra


class EndpointBackend:
    """Answers chats through one endpoint with the job's decoding settings."""

    def __init__(self, config: EndpointConfig, settings: GenerationSettings) -> None:
        key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        if config.api_key_env and not key:
            raise BackendError(
                f"The environment variable {config.api_key_env} (the endpoint's API key) is not set on "
                "this worker; set it where the worker starts and re-run the job."
            )
        self.config = config
        self.client = openai.OpenAI(
            api_key=key or "none", base_url=config.base_url, max_retries=config.max_retries,
            timeout=config.timeout_s,
        )
        self.options, extra = request_options(settings)
        self.extra_body = {**extra, **config.extra_body}
        self.settings = {**self.options, **self.extra_body}

    def ask(self, messages: Sequence[Message]) -> Reply:
        """One chat, retried by the client; a refused request is RequestRefused, a refused key or
        unknown model BackendError."""
        start = time.perf_counter()
        try:
            completion = self.client.chat.completions.create(
                model=self.config.model, messages=list(messages), extra_body=self.extra_body or None,
                **self.options,
            )
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
            raise BackendError(
                f"{self.config.base_url} refused the request ({error.status_code}): check the endpoint's "
                f"model name ({self.config.model}) and its key variable "
                f"({self.config.api_key_env or 'none'})."
            ) from None
        except openai.BadRequestError as error:
            raise RequestRefused(f"the server refused the request: {error.message}") from None
        except openai.APIConnectionError as error:
            raise BackendError(
                f"{self.config.base_url} could not be reached after {self.config.max_retries} retries "
                f"({error.message}); re-run the job when it is back (it resumes)."
            ) from None
        except openai.APIStatusError as error:  # 429 or 5xx still, after every retry
            raise BackendError(
                f"{self.config.base_url} still answered {error.status_code} after {self.config.max_retries} "
                "retries; re-run the job later (it resumes)."
            ) from None
        choice = completion.choices[0]
        message = choice.message
        # DeepSeek's API and older vLLM: reasoning_content; newer vLLM: reasoning
        reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
        usage = completion.usage
        return Reply(
            content=message.content or "", reasoning=reasoning if isinstance(reasoning, str) else None,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_s=time.perf_counter() - start, finish_reason=choice.finish_reason,
            settings={"endpoint": self.config.base_url, "model": completion.model or self.config.model,
                      **self.settings},
        )

    def replies(
        self, chats: Sequence[Sequence[Message]]
    ) -> Iterator[list[tuple[int, Reply | RequestRefused]]]:
        """(index, reply) of every chat, one at a time as they arrive, ``max_concurrency`` in flight.
        A refused request comes as its RequestRefused; a BackendError stops everything. When the
        caller stops early, requests not yet sent are dropped."""
        pool = ThreadPoolExecutor(max_workers=self.config.max_concurrency, thread_name_prefix="endpoint")
        pending: dict[Future, int] = {}
        queue = iter(range(len(chats)))
        try:
            for index in queue:
                pending[pool.submit(self.ask, chats[index])] = index
                if len(pending) >= self.config.max_concurrency:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    try:
                        result: Reply | RequestRefused = future.result()
                    except RequestRefused as refused:
                        result = refused
                    yield [(index, result)]
                    following = next(queue, None)
                    if following is not None:
                        pending[pool.submit(self.ask, chats[following])] = following
        finally:  # a stopped job does not wait for the answers still in flight; they are dropped
            pool.shutdown(wait=False, cancel_futures=True)
