"""Loading, generating with and fine-tuning causal language models, for the trace experiments.

The study (arXiv 2505.13792) fine-tunes a model on chat examples whose assistant turn is a trace and
an answer, then generates answers to held-out prompts. This package is the only place that talks to
``torch``/``transformers``/``trl``: plain data (paths, strings, dataclasses) goes in and out, so the
Django app and the Celery workers never handle tensors. One module per job:

* ``device``: CUDA in bf16 (fp16 on older GPUs) or the CPU in float32; what this worker offers a
  job; freeing memory.
* ``loading``: local directories only; a checkpoint is a model or an adapter on its base.
* ``resources``: what a job on a checkpoint needs against what the worker has, decided from
  config.json before any weight loads: refused in words when it cannot run, the dtype it runs in said.
* ``chat``: the model's own chat template for prompts and training examples (fixed date, system
  prompt, ``enable_thinking``, R1's opened ``<think>``).
* ``generation``: batched, seeded generation with the model's generation config by default.
* ``training``: TRL's SFTTrainer with PEFT: LoRA, QLoRA, accumulation, schedules, checkpoints to
  resume from, adapters saved alone or merged.
* ``checkpoints``: a trainer checkpoint counts once completely written; one a kill left half-written
  is set aside, and training resumes from the newest complete one.
* ``tiny``: tiny random models with real templates, for tests and benchmarks.
"""

from ..run_settings import PRESETS, GenerationSettings, TrainingSettings
from .chat import FIXED_DATE, IGNORE_INDEX, Prompt, TemplateOptions, answer_text, chat_prompt, encode_chat
from .device import Refused, Worker, free_memory, pick_device
from .generation import Generation, batches_by_length, effective_settings, generate
from .loading import is_adapter, load_model, load_tokenizer, saved_dtype
from .resources import preflight
from .tiny import FAMILIES, TINY_CHAT_TEMPLATE, TRACE_TOKENS, build_tiny_model, chat_template
from .training import (
    TrainingCancelled,
    TrainingResult,
    check_settings,
    fine_tune,
    planned_steps,
)

__all__ = [
    "FAMILIES",
    "FIXED_DATE",
    "IGNORE_INDEX",
    "PRESETS",
    "TINY_CHAT_TEMPLATE",
    "TRACE_TOKENS",
    "Generation",
    "GenerationSettings",
    "Prompt",
    "Refused",
    "TemplateOptions",
    "TrainingCancelled",
    "TrainingResult",
    "TrainingSettings",
    "Worker",
    "answer_text",
    "batches_by_length",
    "build_tiny_model",
    "chat_prompt",
    "chat_template",
    "check_settings",
    "effective_settings",
    "encode_chat",
    "fine_tune",
    "free_memory",
    "generate",
    "is_adapter",
    "load_model",
    "load_tokenizer",
    "pick_device", "planned_steps",
    "preflight",
    "saved_dtype",
]
