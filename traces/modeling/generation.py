"""Batched generation: prompts in the model's chat template, left-padded, seeded; decoding as the
model's own ``generation_config`` says unless the job says otherwise, and every output carries the
settings it was made with.

Greedy output does not depend on the batch a prompt lands in (tested on CPU in float32; bf16 on
GPU can flip near-ties). The key-value cache is written in place into buffers sized for the whole
generation (``_PreallocatedLayer``) instead of transformers' default, which concatenates the whole
cache to every new token: at batch 16 on CPU that copy took most of each decoding step. The model
sees the same keys and values, so the output is unchanged. Prompts of similar length share a batch
(``batches_by_length``), since padding costs like real tokens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.cache_utils import DynamicCache, DynamicLayer

from ..run_settings import GenerationSettings
from .chat import Prompt, TemplateOptions, chat_prompt

SAMPLING = ("temperature", "top_p", "top_k")


@dataclass(frozen=True)
class Generation:
    """One completion, with the counts needed for throughput and cost figures."""

    prompt: str  # the prompt as the model saw it, chat template applied
    text: str  # the decoded completion only, special tokens removed
    prompt_tokens: int  # the templated prompt, without padding
    completion_tokens: int  # up to and including EOS, not counting padding
    latency_s: float  # wall time of the batch this output was in
    settings: dict = field(default_factory=dict)  # the decoding settings in effect (see effective_settings)


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> set[int]:
    ids: set[int] = set()
    configured = model.generation_config.eos_token_id
    if isinstance(configured, int):
        ids.add(configured)
    elif configured is not None:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _completion_length(ids: Sequence[int], eos_ids: set[int], pad_id: int | None) -> int:
    """Tokens up to and including the first EOS, else up to the padding that fills a row stopped by a
    stop string, else all of them."""
    for i, token in enumerate(ids):
        if token in eos_ids:
            return i + 1
    n = len(ids)
    while n and pad_id is not None and ids[n - 1] == pad_id:
        n -= 1
    return n


def batches_by_length(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Prompt], batch_size: int,
    options: TemplateOptions | None = None,
) -> list[list[int]]:
    """Indices of ``prompts`` in batches of at most ``batch_size``, shortest templated prompts first.

    A batch is padded to its longest prompt, and the padding is computed at every step like a real
    token (prefill and attention over the cache), so batching prompts of similar length is faster.
    Greedy outputs do not depend on the batch (see ``generate``), only the order of work changes;
    ties keep the given order.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not prompts:
        return []
    texts = [chat_prompt(tokenizer, p, options) for p in prompts]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(prompts)), key=lengths.__getitem__)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class _PreallocatedLayer(DynamicLayer):
    """A ``DynamicLayer`` that writes new keys and values into buffers sized for the whole generation.

    ``DynamicLayer.update`` concatenates: each step copies the whole cache of the layer into a new
    tensor, which at batch 16 (CPU, a 4-layer model, ~300 positions) took most of a decoding step.
    Here ``keys``/``values`` are views of the first positions of preallocated buffers: the model gets
    the same values and the same length (so the same masks and attention), without the copy. If
    something replaced ``keys`` by a tensor that is not such a view (beam reordering, batch selection)
    or the buffer is full, the layer copies into a new buffer and goes on.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def _is_buffer_view(self) -> bool:
        buffer = self._key_buffer
        return (
            buffer is not None
            and self.keys is not None
            and self.keys.dim() == 4
            and self.keys.shape[:2] == buffer.shape[:2]
            and self.keys.data_ptr() == buffer.data_ptr()
            and self.keys.stride() == buffer.stride()
            and self.values.data_ptr() == self._value_buffer.data_ptr()
        )

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        cached = self.get_seq_length()
        end = cached + key_states.shape[-2]
        if not self._is_buffer_view() or end > self._key_buffer.shape[-2]:
            batch, heads = key_states.shape[:2]
            size = self.capacity if end <= self.capacity else 2 * end
            keys = key_states.new_empty((batch, heads, size, key_states.shape[-1]))
            values = value_states.new_empty((batch, heads, size, value_states.shape[-1]))
            if cached:
                keys[:, :, :cached].copy_(self.keys)
                values[:, :, :cached].copy_(self.values)
            self._key_buffer, self._value_buffer = keys, values
        self._key_buffer[:, :, cached:end].copy_(key_states)
        self._value_buffer[:, :, cached:end].copy_(value_states)
        self.keys = self._key_buffer[:, :, :end]
        self.values = self._value_buffer[:, :, :end]
        return self.keys, self.values


def _preallocated_cache(model: PreTrainedModel, capacity: int) -> DynamicCache | None:
    """The model's default cache with its full-attention layers preallocated for ``capacity`` tokens.

    None (let ``generate`` build its own cache) when the model asks for another cache
    implementation, or when its cache is not made of plain ``DynamicLayer``s at all.
    """
    config = model.generation_config
    if config.cache_implementation is not None or config.use_cache is False:
        return None
    try:
        cache = DynamicCache(config=model.config.get_text_config(decoder=True))
    except Exception:  # pragma: no cover - a config transformers cannot build a cache from
        return None
    if not any(type(layer) is DynamicLayer for layer in cache.layers):
        return None
    cache.layers = [
        _PreallocatedLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers
    ]
    return cache



def effective_settings(model: PreTrainedModel, settings: GenerationSettings) -> dict[str, Any]:
    """The decoding settings a generation runs with: the job's where it gives them, else the model's
    ``generation_config`` (as the authors ran their models). Sampling parameters only when sampling."""
    config = model.generation_config
    given = asdict(settings)
    out: dict[str, Any] = {"max_new_tokens": settings.max_new_tokens, "seed": settings.seed,
                           "stop_strings": list(settings.stop_strings), "from_model": []}
    names = ("do_sample", *SAMPLING)
    for name in names:
        if given[name] is None:
            out[name] = getattr(config, name, None)
            out["from_model"].append(name)
        else:
            out[name] = given[name]
    out["do_sample"] = bool(out["do_sample"])
    if not out["do_sample"]:
        for name in SAMPLING:
            out.pop(name)
        out["from_model"] = [n for n in out["from_model"] if n == "do_sample"]
    return out


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    settings: GenerationSettings,
    options: TemplateOptions | None = None,
) -> list[Generation]:
    """Generate one completion per prompt, all prompts in one batch.

    Prompts go through the chat template (with ``options``) and are left-padded; the random generator
    is seeded (``torch.manual_seed(settings.seed)``) right before generating, so sampling is
    reproducible for the same batch. Generation stops at EOS, at ``max_new_tokens``, or after any of
    ``stop_strings``."""
    if not prompts:
        return []
    if settings.max_new_tokens < 1:
        raise ValueError("max_new_tokens must be at least 1")
    start = time.perf_counter()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    texts = [chat_prompt(tokenizer, p, options) for p in prompts]
    # The template already holds any BOS it wants; the tokenizer must not add another.
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    eos_ids = _eos_ids(model, tokenizer)
    used = effective_settings(model, settings)
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": used["do_sample"],
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": sorted(eos_ids) or None,
        **{name: used[name] for name in SAMPLING if name in used},
    }
    if settings.stop_strings:
        kwargs.update(stop_strings=list(settings.stop_strings), tokenizer=tokenizer)
    cache = _preallocated_cache(model, batch["input_ids"].shape[1] + settings.max_new_tokens)
    if cache is not None:
        kwargs["past_key_values"] = cache
    torch.manual_seed(settings.seed)
    with torch.inference_mode():
        output = model.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs
        )
    prompt_width = batch["input_ids"].shape[1]
    new_tokens = output[:, prompt_width:].tolist()
    prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
    completions = []
    for ids in new_tokens:
        n = _completion_length(ids, eos_ids, tokenizer.pad_token_id)
        completions.append((tokenizer.decode(ids[:n], skip_special_tokens=True), n))
    latency = time.perf_counter() - start
    return [
        Generation(prompt=prompt, text=text, prompt_tokens=int(n_prompt), completion_tokens=n_completion,
                   latency_s=latency, settings=used)
        for prompt, n_prompt, (text, n_completion) in zip(texts, prompt_lengths, completions, strict=True)
    ]
