"""Supervised fine-tuning on Hugging Face TRL's ``SFTTrainer`` with PEFT, the stack the paper's
authors used: LoRA (every parameter settable), QLoRA through bitsandbytes on CUDA, gradient
accumulation and checkpointing, learning-rate schedules and warm-up, the optimiser by name.

What this module adds to the trainer:

* The examples are tokenized here (``chat.encode_chat``): the prompt exactly as generation renders
  it in the model's own template, the loss on the answer (or on the whole text, as the authors'
  run). Examples longer than ``max_length`` are dropped or truncated, as the settings say, and
  counted; nothing is cut silently.
* Checkpoints every ``save_steps``: a re-run, or a job redelivered after its worker died, resumes
  from the last complete one (weights, optimiser, scheduler, random state and data position), not
  from 0; one left half-written by a kill is set aside (``checkpoints``).
* Settings this worker cannot run (QLoRA or a bitsandbytes optimiser without CUDA and bitsandbytes)
  are refused in words before anything loads (``check_settings``).
* Progress (``on_step``) and cancellation (``should_stop``) through a trainer callback: a cancelled
  run saves a checkpoint at the step it stopped, so running it again goes on from there.
* The result is an adapter saved alone (a registered checkpoint is its base plus the adapter), or,
  when asked, merged into a copy of the base in the base's own dtype.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import (
    AutoModelForCausalLM,
    PreTrainedTokenizerBase,
    PrinterCallback,
    TrainerCallback,
    set_seed,
)
from transformers.trainer_optimizer import _BITSANDBYTES_OPTIMIZERS  # transformers' own list of them

from ..run_settings import TrainingSettings
from .chat import IGNORE_INDEX, TemplateOptions, encode_chat
from .checkpoints import KEEP, MarkComplete, resume_point
from .device import Refused, Worker, free_memory, pick_device, training_dtype
from .loading import load_tokenizer, local_dir, quiet_peft, saved_dtype

if TYPE_CHECKING:
    from peft import LoraConfig

TRAINER_DIR = "trainer"  # under the output directory: the trainer's checkpoints, to resume from


class TrainingCancelled(Exception):
    """``should_stop`` asked to stop; a checkpoint of the last step was saved to resume from."""

    def __init__(self, message: str, losses: list[float] | None = None) -> None:
        super().__init__(message)
        self.losses = list(losses or [])


@dataclass
class TrainingResult:
    losses: list[float]  # the loss of every optimiser step, the resumed run's earlier steps included
    steps: int
    examples: int  # examples trained on
    overlong: int  # examples over max_length (dropped or truncated, as the settings said)
    resumed_from: int  # the step the run went on from (0: from the start)
    adapter: bool  # the output is an adapter to load onto the base (else a whole model)


def bitsandbytes_uses(settings: TrainingSettings) -> list[tuple[str, str]]:
    """(what needs bitsandbytes, what to set instead): QLoRA's 4-bit base, and any optimiser transformers
    builds with bitsandbytes (8-bit, paged, its Lion and RMSprop)."""
    uses = [("qlora=true", "qlora=false")] if settings.qlora else []
    if settings.optimizer in _BITSANDBYTES_OPTIMIZERS:
        uses.append((f"optimizer={settings.optimizer}", "optimizer=adamw_torch"))
    return uses


def check_settings(settings: TrainingSettings, worker: Worker | None = None) -> None:
    """Refuse (``Refused``) settings that cannot run on ``worker`` (default: this one), saying why and
    what to change, before any model is loaded: without it, a CPU worker loads the model and fails
    later on an ImportError of bitsandbytes."""
    worker = worker or Worker.here()
    uses = bitsandbytes_uses(settings)
    if uses and (worker.device.type != "cuda" or not worker.bitsandbytes):
        asked = " and ".join(use for use, _ in uses)
        instead = " and ".join(fix for _, fix in uses)
        verb = "needs" if len(uses) == 1 else "need"
        if worker.device.type != "cuda":
            raise Refused(
                f"{asked} {verb} bitsandbytes on a CUDA GPU, and this worker has no GPU. Set {instead} to "
                "fine-tune here, or run the job on a GPU worker."
            )
        raise Refused(
            f"{asked} {verb} bitsandbytes, which this worker cannot import (the GPU image installs it from "
            f"requirements-gpu.txt). Set {instead}, or run the job on a worker that has it."
        )
    if settings.qlora and not settings.lora:
        raise Refused("QLoRA trains a LoRA adapter on a 4-bit base: set lora=true with qlora=true.")
    if settings.loss_on not in ("assistant", "all"):
        raise Refused(f"loss_on must be 'assistant' or 'all', not {settings.loss_on!r}")
    if settings.overlong not in ("drop", "truncate"):
        raise Refused(f"overlong must be 'drop' or 'truncate', not {settings.overlong!r}")
    if settings.batch_size < 1 or settings.gradient_accumulation < 1 or settings.max_length < 2:
        raise Refused("batch_size and gradient_accumulation must be >= 1 and max_length >= 2")
    if settings.max_steps < 1 and settings.epochs <= 0:
        raise Refused("give max_steps > 0 or epochs > 0")


def planned_steps(settings: TrainingSettings, examples: int) -> int:
    """The optimiser steps a run will take, as the trainer counts them (for progress)."""
    if settings.max_steps > 0:
        return settings.max_steps
    per_epoch = max(1, math.ceil(examples / settings.batch_size) // settings.gradient_accumulation)
    return math.ceil(settings.epochs * per_epoch)


def tokenize_examples(
    tokenizer: PreTrainedTokenizerBase, examples: list[dict], settings: TrainingSettings,
    options: TemplateOptions | None = None,
) -> tuple[list[dict], int]:
    """({input_ids, labels} rows, how many were over max_length). Over-long rows are dropped or cut
    at max_length (``settings.overlong``); a cut row that keeps no answer token is dropped too."""
    rows, overlong = [], 0
    for n, example in enumerate(examples):
        if not isinstance(example, dict) or "messages" not in example:
            raise ValueError(f"example {n} has no 'messages'")
        ids, labels = encode_chat(tokenizer, example["messages"], options, settings.loss_on)
        if len(ids) > settings.max_length:
            overlong += 1
            if settings.overlong == "drop":
                continue
            ids, labels = ids[: settings.max_length], labels[: settings.max_length]
        if any(label != IGNORE_INDEX for label in labels):
            rows.append({"input_ids": ids, "labels": labels})
    return rows, overlong


class _Progress(TrainerCallback):
    """Reports each step's loss and stops (after saving a checkpoint) when asked to."""

    def __init__(self, on_step: Callable[[int, float], None] | None, should_stop: Callable[[], bool] | None):
        self.on_step, self.should_stop, self.cancelled = on_step, should_stop, False

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs and self.on_step is not None:
            self.on_step(state.global_step, float(logs["loss"]))

    def on_step_end(self, args, state, control, **kwargs):
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
        return control


def _base_model(base: Path, settings: TrainingSettings, device: torch.device, dtype: torch.dtype):
    """The base to train: 4-bit NF4 for QLoRA, in the GPU's half precision for LoRA, in float32 for
    full fine-tuning (AdamW on half-precision weights loses small updates) and on the CPU."""
    if settings.qlora:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        model = AutoModelForCausalLM.from_pretrained(
            base, quantization_config=quantization, device_map={"": 0}, local_files_only=True
        )
        return prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=settings.gradient_checkpointing
        )
    weights = training_dtype(settings, device, dtype)
    return AutoModelForCausalLM.from_pretrained(base, dtype=weights, local_files_only=True)


def lora_config(settings: TrainingSettings) -> LoraConfig:
    """The adapter the settings ask for (also counted, on an empty model, by ``resources``)."""
    from peft import LoraConfig

    targets = settings.lora_target_modules.strip()
    modules = targets if targets == "all-linear" else [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(
        r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
        target_modules=modules, task_type="CAUSAL_LM",
    )


def _config(work: Path, settings: TrainingSettings, device: torch.device, dtype: torch.dtype):
    from trl import SFTConfig

    cuda = device.type == "cuda"
    return SFTConfig(
        output_dir=str(work),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps if settings.max_steps > 0 else -1,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_ratio,  # a float under 1 is a share of the steps (transformers 5)
        optim=settings.optimizer,
        weight_decay=settings.weight_decay,
        max_grad_norm=1.0,
        activation_checkpointing=settings.gradient_checkpointing,  # transformers 5 name for it
        logging_steps=1,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=KEEP,
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=cuda and dtype == torch.bfloat16,
        fp16=cuda and dtype == torch.float16,
        use_cpu=not cuda,
        max_length=None,  # tokenize_examples has applied the limit, and counted what it touched
        dataloader_num_workers=0,
        report_to="none",
        disable_tqdm=True,
    )


def fine_tune(
    base_path: str | Path,
    examples: list[dict],
    output_dir: str | Path,
    settings: TrainingSettings,
    *,
    options: TemplateOptions | None = None,
    on_step: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fine-tune the model in ``base_path`` on chat examples (``{"messages": [...]}`` ending with the
    assistant's answer) and save the result to ``output_dir``: the adapter alone, or the merged model
    with ``settings.merge`` (a whole model also for full fine-tuning, ``lora=false``).

    The trainer's checkpoints go to ``output_dir/trainer``; if a complete one is there, training
    resumes from the newest, and ``on_note`` hears of any left incomplete and set aside.
    ``should_stop()`` is asked after every optimiser step; True saves a checkpoint and raises
    ``TrainingCancelled``."""
    from datasets import Dataset
    from trl import SFTTrainer

    check_settings(settings)
    if not examples:
        raise ValueError("no training examples")
    base = local_dir(base_path)
    tokenizer = load_tokenizer(base)
    tokenizer.padding_side = "right"
    rows, overlong = tokenize_examples(tokenizer, examples, settings, options)
    if not rows:
        raise ValueError(
            f"no example has answer tokens within max_length={settings.max_length} ({overlong} were longer)"
        )
    out = Path(output_dir)
    work = out / TRAINER_DIR
    work.mkdir(parents=True, exist_ok=True)
    last, notes = resume_point(work)
    if on_note is not None:
        for note in notes:
            on_note(note)
    device, dtype = pick_device()
    set_seed(settings.seed)  # before the adapter is made: its initial weights are drawn at random
    model = _base_model(base, settings, device, dtype)
    progress = _Progress(on_step, should_stop)
    with quiet_peft():
        trainer = SFTTrainer(
            model=model, args=_config(work, settings, device, dtype), train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer, peft_config=lora_config(settings) if settings.lora else None,
            callbacks=[progress, MarkComplete()],
        )
        trainer.remove_callback(PrinterCallback)  # progress goes to on_step, not to the worker's stdout
        trainer.train(resume_from_checkpoint=str(last) if last else None)
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    if progress.cancelled:
        raise TrainingCancelled(f"training cancelled after step {trainer.state.global_step}", losses)
    result = TrainingResult(
        losses=losses, steps=trainer.state.global_step, examples=len(rows), overlong=overlong,
        resumed_from=int(last.name.split("-")[-1]) if last else 0,
        adapter=settings.lora and not settings.merge,
    )
    _save(trainer, tokenizer, base, out, settings)
    del trainer, model
    free_memory()
    return result


def _save(
    trainer, tokenizer: PreTrainedTokenizerBase, base: Path, out: Path, settings: TrainingSettings
) -> None:
    """The adapter alone; or, merged, the base with the adapter folded in, reloaded in the base's own
    dtype (a 4-bit or float32 training copy is never what is saved); or the fully tuned model."""
    if not settings.lora:
        trainer.model.to(saved_dtype(base)).save_pretrained(out)
    elif not settings.merge:
        trainer.model.save_pretrained(out)
    else:
        from peft import PeftModel

        with tempfile.TemporaryDirectory() as adapter:
            trainer.model.save_pretrained(adapter)
            reloaded = AutoModelForCausalLM.from_pretrained(
                base, dtype=saved_dtype(base), local_files_only=True
            )
            with quiet_peft():
                PeftModel.from_pretrained(reloaded, adapter).merge_and_unload().save_pretrained(out)
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            (out / name).unlink(missing_ok=True)
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(out)
