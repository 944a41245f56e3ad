"""Loading, generating with and fine-tuning causal language models, for the trace experiments.

The study (arXiv 2505.13792) fine-tunes a model on chat examples whose assistant turn is a
trace + answer, then generates answers to held-out prompts. This module is the only place that
talks to ``torch``/``transformers``: plain data (paths, strings, dataclasses) goes in and out, so
the Django app and the Celery workers never handle tensors.

Decisions, and why:

* Models are loaded from local ``save_pretrained`` directories only (``local_files_only=True``):
  a worker must never reach the network, and a study must be reproducible from the files it
  names.
* Generation is batched with left padding (decoder-only models continue from the last position)
  and seeded, and greedy output does not depend on the batch a prompt lands in (tested on CPU in
  float32; bf16 on GPU can flip near-ties).
* The key-value cache is written in place into buffers sized for the whole generation
  (``_PreallocatedLayer``) instead of transformers' default, which concatenates the whole cache
  to every new token: at batch 16 on CPU that copy took most of each decoding step. The model
  sees the same keys and values, so the output is unchanged.
* Batches of prompts of similar length waste less on padding, which costs like real tokens:
  ``batches_by_length`` groups them (CoTempQA prompts run from about 180 to 280 tokens).
* Fine-tuning is a plain torch loop, not ``Trainer``, so progress (``on_step``) and cancellation
  (``should_stop``) are under our control. The loss covers only the assistant tokens, found by
  rendering the chat template turn by turn rather than by searching the token ids.
* LoRA (via ``peft``) is merged into the base weights before saving, so every checkpoint this
  module writes is a plain model that ``load_model`` loads.
* ``build_tiny_model`` makes a small random model with a tokenizer trained here, so tests and
  benchmarks run offline in seconds.
"""

from __future__ import annotations

import json
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.cache_utils import DynamicCache, DynamicLayer

from .run_settings import GenerationSettings, TrainingSettings

__all__ = [
    "IGNORE_INDEX",
    "TINY_CHAT_TEMPLATE",
    "TRACE_TOKENS",
    "Generation",
    "GenerationSettings",
    "Prompt",
    "TrainingCancelled",
    "TrainingSettings",
    "batches_by_length",
    "build_tiny_model",
    "chat_prompt",
    "encode_chat",
    "fine_tune",
    "generate",
    "load_model",
    "pick_device",
]

IGNORE_INDEX = -100  # label value that torch's cross entropy (and transformers' LM loss) skips

TRACE_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")

# Chat template of the tiny model: role markers are special tokens, each turn ends with EOS, so a
# fine-tuned model learns to stop after its answer. No newlines between turns: the assistant's
# part is exactly its content plus EOS.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

_EOS, _PAD = "</s>", "<pad>"  # end-of-sequence and padding tokens of the tiny model
_COTEMPQA_DIR = Path(__file__).resolve().parent / "data" / "cotempqa"


# --- device and loading --------------------------------------------------------------------------


def pick_device() -> tuple[torch.device, torch.dtype]:
    """CUDA with bf16 when available, else CPU with float32.

    bf16 halves memory and is fast on the GPUs we use; on CPU float32 is both faster and exact
    enough for tests. Never touches CUDA if ``torch.cuda.is_available()`` is False.
    """
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def _local_dir(path: str | Path) -> Path:
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"model directory not found: {directory} (only local directories are loaded)")
    return directory


def _load_tokenizer(directory: Path) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer in {directory} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer from a local ``save_pretrained`` directory, ready for ``generate``.

    The tokenizer pads on the left (generation continues from the last position of every row)
    and has a pad token (EOS when it had none); the model is on ``pick_device()`` in eval mode.
    """
    directory = _local_dir(path)
    device, dtype = pick_device()
    tokenizer = _load_tokenizer(directory)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, local_files_only=True)
    model.to(device)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


# --- generation ----------------------------------------------------------------------------------


Prompt = str | Sequence[dict[str, str]]  # a user message, or the chat turns before the answer


def chat_prompt(tokenizer: PreTrainedTokenizerBase, prompt: Prompt) -> str:
    """The prompt's turns (a string is one user message) in the tokenizer's chat template, with the
    generation prompt.

    Fine-tuned models only answer well in the format they were trained on; a tokenizer without a
    template gets the turns' contents, one after another.
    """
    turns = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if not getattr(tokenizer, "chat_template", None):
        return "\n\n".join(turn["content"] for turn in turns)
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


@dataclass(frozen=True)
class Generation:
    """One completion, with the counts needed for throughput and cost figures."""

    prompt: str  # the prompt as the model saw it, chat template applied
    text: str  # the decoded completion only, special tokens removed
    prompt_tokens: int  # the templated prompt, without padding
    completion_tokens: int  # up to and including EOS, not counting padding
    latency_s: float  # wall time of the batch this output was in


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


def _completion_length(ids: Sequence[int], eos_ids: set[int]) -> int:
    """Tokens up to and including the first EOS (what follows is padding), else all of them."""
    for i, token in enumerate(ids):
        if token in eos_ids:
            return i + 1
    return len(ids)


def batches_by_length(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Prompt], batch_size: int
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
    texts = [chat_prompt(tokenizer, p) for p in prompts]
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


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    settings: GenerationSettings,
) -> list[Generation]:
    """Generate one completion per prompt, all prompts in one batch.

    Prompts go through the chat template and are left-padded; the random generator is seeded
    (``torch.manual_seed(settings.seed)``) right before generating, so sampling is reproducible
    for the same batch. Greedy output is the same whether a prompt is generated alone or in a
    batch, as far as floating point allows.
    """
    if not prompts:
        return []
    if settings.max_new_tokens < 1:
        raise ValueError("max_new_tokens must be at least 1")
    start = time.perf_counter()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    texts = [chat_prompt(tokenizer, p) for p in prompts]
    # The template already holds any BOS it wants; the tokenizer must not add another.
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    batch = batch.to(model.device)
    eos_ids = _eos_ids(model, tokenizer)
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": settings.do_sample,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": sorted(eos_ids) or None,
    }
    if settings.do_sample:
        # Only our settings shape the distribution: no top-k from the model's generation config.
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
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
        n = _completion_length(ids, eos_ids)
        completions.append((tokenizer.decode(ids[:n], skip_special_tokens=True), n))
    latency = time.perf_counter() - start
    return [
        Generation(
            prompt=prompt,
            text=text,
            prompt_tokens=int(n_prompt),
            completion_tokens=n_completion,
            latency_s=latency,
        )
        for prompt, n_prompt, (text, n_completion) in zip(texts, prompt_lengths, completions, strict=True)
    ]


# --- fine-tuning ---------------------------------------------------------------------------------


class TrainingCancelled(Exception):
    """``should_stop`` asked to stop; nothing was saved. ``losses`` holds the steps done."""

    def __init__(self, message: str = "training cancelled", losses: list[float] | None = None) -> None:
        super().__init__(message)
        self.losses = list(losses or [])


def _check_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("an example needs a non-empty 'messages' list")
    for m in messages:
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise ValueError(f"each message needs string 'role' and 'content', got {m!r}")
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("an example needs at least one assistant message")
    return messages


def _render(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], generation_prompt: bool
) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt
        )
    # No template: turns are concatenated, each assistant turn closed by EOS.
    eos = tokenizer.eos_token or ""
    return "".join(m["content"] + (eos if m["role"] == "assistant" else "") for m in messages)


def encode_chat(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], max_length: int | None = None
) -> tuple[list[int], list[int]]:
    """Token ids and labels of one chat: labels are the ids on assistant tokens, -100 elsewhere.

    The conversation is rendered turn by turn with the chat template: the text an assistant turn
    adds after the generation prompt (its content and end-of-turn tokens) is the supervised part,
    everything else (system, user, role markers) is masked. Each part is tokenized on its own, so
    the prompt part has exactly the tokens ``generate`` will feed the model. ``max_length``
    truncates from the right.
    """
    messages = _check_messages(messages)
    segments: list[tuple[str, bool]] = []
    done = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = _render(tokenizer, messages[:i], generation_prompt=True) if i else ""
        full = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if not prefix.startswith(done) or not full.startswith(prefix):
            raise ValueError("the chat template does not render turns as prefixes of each other")
        segments.append((prefix[len(done) :], False))
        segments.append((full[len(prefix) :], True))
        done = full
    input_ids: list[int] = []
    labels: list[int] = []
    for text, supervised in segments:
        if not text:
            continue
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids.extend(ids)
        labels.extend(ids if supervised else [IGNORE_INDEX] * len(ids))
    if max_length is not None:
        input_ids, labels = input_ids[:max_length], labels[:max_length]
    return input_ids, labels


def _collate(rows: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch for training (padding is masked out of attention and loss)."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (ids, lab) in enumerate(rows):
        input_ids[r, : len(ids)] = torch.tensor(ids)
        labels[r, : len(lab)] = torch.tensor(lab)
        attention[r, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def _apply_lora(model: PreTrainedModel, rank: int) -> PreTrainedModel:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:  # pragma: no cover - peft is in requirements.txt
        raise ValueError("settings.lora needs the 'peft' package (see requirements.txt)") from exc
    config = LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    with warnings.catch_warnings():
        # peft 0.21 calls a transformers 5 method that is deprecated (not wrong): keep logs quiet.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def fine_tune(
    base_path: str | Path,
    examples: list[dict],
    output_dir: str | Path,
    settings: TrainingSettings,
    on_step: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[float]:
    """Supervised fine-tuning of a causal LM on chat examples; returns the loss of each step.

    ``examples`` are ``{"messages": [{"role": ..., "content": ...}, ...]}``; the loss covers only
    the assistant tokens. AdamW in a plain torch loop, so ``on_step(step, loss)`` (step counted
    from 1) runs after every optimizer step and ``should_stop()`` is checked before every step
    (True: raise ``TrainingCancelled``, save nothing). Full fine-tuning, or LoRA on all linear
    layers when ``settings.lora``, merged into the base weights before saving, so
    ``output_dir`` (model + tokenizer, ``save_pretrained``) loads with ``load_model``.
    Batches are drawn from the examples reshuffled each epoch (seeded).
    """
    if settings.steps < 1 or settings.batch_size < 1 or settings.max_length < 2:
        raise ValueError("steps and batch_size must be >= 1 and max_length >= 2")
    if not examples:
        raise ValueError("no training examples")
    directory = _local_dir(base_path)
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    device, _ = pick_device()

    tokenizer = _load_tokenizer(directory)
    rows = []
    for n, example in enumerate(examples):
        if not isinstance(example, dict) or "messages" not in example:
            raise ValueError(f"example {n} has no 'messages'")
        ids, labels = encode_chat(tokenizer, example["messages"], settings.max_length)
        if any(label != IGNORE_INDEX for label in labels):
            rows.append((ids, labels))
    if not rows:
        raise ValueError(f"no example has assistant tokens within max_length={settings.max_length}")

    # Weights stay float32 (AdamW on bf16 weights loses small updates); bf16 autocast on CUDA.
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, local_files_only=True)
    if settings.lora:
        model = _apply_lora(model, settings.lora_r)
    model.to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)

    order: list[int] = []
    losses: list[float] = []
    for step in range(1, settings.steps + 1):
        if should_stop is not None and should_stop():
            raise TrainingCancelled(f"training cancelled before step {step} of {settings.steps}", losses)
        picked = []
        for _ in range(min(settings.batch_size, len(rows))):
            if not order:
                order = list(range(len(rows)))
                rng.shuffle(order)
            picked.append(rows[order.pop()])
        batch = {k: v.to(device) for k, v in _collate(picked, tokenizer.pad_token_id).items()}
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        value = float(loss.detach())
        losses.append(value)
        if on_step is not None:
            on_step(step, value)

    if settings.lora:
        model = model.merge_and_unload()
    model.eval()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return losses


# --- a tiny model for tests and benchmarks -------------------------------------------------------


def _default_corpus(limit_per_file: int = 80) -> list[str]:
    """Sentences from the bundled CoTempQA files, in the prompt and trace formats of the study."""
    corpus: list[str] = []
    for path in sorted(_COTEMPQA_DIR.glob("*.json")):
        with path.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle):
                if n >= limit_per_file:
                    break
                if not line.strip():
                    continue
                record = json.loads(line)
                facts = list(record.get("facts", []))
                answers = list(record.get("answer", []))
                corpus.append(
                    "Answer the question based on the context:\n"
                    + "\n".join(facts)
                    + f"\nQuestion: {record.get('question', '')} Only return the answer.\n"
                )
                corpus.append(
                    f"<think>The temporal relation between the event in question and the event in context "
                    f"is: {path.stem}.\nI need to use the following facts to answer the question: "
                    f"{facts[:2]!r}</think> <answer>{answers!r}</answer>"
                )
    return corpus


def build_tiny_model(
    output_dir: str | Path,
    corpus: list[str] | None = None,
    seed: int = 0,
    *,
    vocab_size: int = 800,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
) -> Path:
    """Save a tiny random Llama-style model and a locally trained tokenizer into ``output_dir``.

    Tests and benchmarks need a real ``save_pretrained`` checkpoint without any download: a
    byte-level BPE tokenizer is trained on ``corpus`` (default: CoTempQA prompts and traces from
    ``traces/data/cotempqa``), with EOS/pad, the trace tags as single tokens and a simple chat
    template, and a randomly initialised ``LlamaForCausalLM`` (seeded) sized by the keyword
    arguments. Returns the directory.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = list(corpus) if corpus is not None else _default_corpus()
    if not texts:
        raise ValueError("empty corpus")
    specials = [_PAD, _EOS, "<|system|>", "<|user|>", "<|assistant|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=_EOS, pad_token=_PAD, padding_side="left"
    )
    # Trace tags are ordinary (not special) tokens: decoding with skip_special_tokens keeps them.
    tokenizer.add_tokens(list(TRACE_TOKENS))
    tokenizer.chat_template = TINY_CHAT_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=2048,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        # Untied output layer and a wide initialisation: a random model then writes varied tokens
        # (tied, it repeats its input) with logit gaps far above float32 noise, so greedy output
        # is a meaningful check of batching.
        tie_word_embeddings=False,
        initializer_range=0.1,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
