"""Whether this worker can run a job on a checkpoint, decided before any weight loads.

The model is built from the checkpoint's config.json on the meta device (no memory, under a second
for an 8B model), so its parameters are counted exactly, and a LoRA adapter's by PEFT itself. Then:

* Settings this worker cannot run are refused (``training.check_settings``: bitsandbytes without CUDA).
* A checkpoint stored in another dtype than the one the worker runs it in (bf16 on the CPU runs in
  float32) is said in words, with the memory both take.
* The memory the job holds (``memory_needed``) is set against what the worker has
  (``device.available_memory``), and a job that will not fit is refused with both figures. The
  estimate counts weights, and for training the trained parameters' gradients and optimiser states
  (and the copy a merge loads); activations and the KV cache come on top, so a job that only just fits
  may still run out. ``check_memory=False`` (a job parameter) skips this refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from ..run_settings import TrainingSettings
from .device import Refused, Worker, available_memory, training_dtype
from .loading import quiet_peft, saved_dtype, weights_dir
from .training import check_settings, lora_config

NF4_BYTES = 0.5  # QLoRA's 4-bit weights (double quantisation keeps the constants near nothing)


@dataclass(frozen=True)
class ModelSize:
    """What a checkpoint's config.json says about its size."""

    parameters: int
    quantizable: int  # weights of the linear layers, output layer excepted: what QLoRA holds in 4 bits
    adapter: int  # parameters of the LoRA adapter the settings ask for (0 without LoRA)
    stored: torch.dtype  # the dtype its weights are saved in


def model_size(directory: Path, training: TrainingSettings | None = None) -> ModelSize:
    """The model in ``directory`` counted on the meta device, from its config.json alone: no weight
    is read and no memory is taken."""
    config = AutoConfig.from_pretrained(directory, local_files_only=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
        output = model.get_output_embeddings()
        quantizable = sum(module.weight.numel() for module in model.modules()
                          if isinstance(module, torch.nn.Linear) and module is not output)
        parameters, adapter = sum(p.numel() for p in model.parameters()), 0
        if training is not None and training.lora:
            from peft import get_peft_model

            with quiet_peft():
                adapter = get_peft_model(model, lora_config(training)).get_nb_trainable_parameters()[0]
    return ModelSize(parameters, quantizable, adapter, saved_dtype(directory))


def optimizer_state_bytes(optimizer: str) -> int:
    """Optimiser state per trained parameter: AdamW keeps two moments, Lion one, in float32 or in 8 bits;
    SGD (no momentum) and Adafactor (factored moments) next to none."""
    if optimizer in ("sgd", "adafactor"):
        return 0
    moments = 1 if "lion" in optimizer else 2
    return moments * (1 if "8bit" in optimizer else 4)


def memory_needed(size: ModelSize, dtype: torch.dtype, training: TrainingSettings | None = None
                  ) -> list[tuple[str, int]]:
    """(what, bytes) the job holds in memory: the weights in ``dtype`` (the linear layers in 4 bits for
    QLoRA); for training, the trained parameters' gradients and optimiser states (in float32, the
    adapter's weights too) and, to merge, a copy of the base in its stored dtype."""
    if training is None:
        return [(f"weights in {_name(dtype)}", _in(size.parameters, dtype))]
    if training.qlora:
        weights = int(size.quantizable * NF4_BYTES) + _in(size.parameters - size.quantizable, dtype)
        parts = [(f"weights in 4 bits and {_name(dtype)}", weights)]
    else:
        parts = [(f"weights in {_name(dtype)}", _in(size.parameters, dtype))]
    trained = size.adapter if training.lora else size.parameters
    if training.lora:
        parts.append(("the adapter in float32", trained * 4))
    parts.append(("gradients", trained * 4))
    parts.append((f"{training.optimizer} states", trained * optimizer_state_bytes(training.optimizer)))
    if training.merge:
        parts.append((f"the base in {_name(size.stored)} to merge into", _in(size.parameters, size.stored)))
    return parts


def check_fits(
    parts: list[tuple[str, int]], available: int, device: torch.device, *, full_fine_tune: bool = False
) -> None:
    """Refuse, with both figures, a job whose memory (``memory_needed``) exceeds ``available`` bytes."""
    needed = sum(amount for _, amount in parts)
    if needed <= available:
        return
    where = "free on this worker's GPU" if device.type == "cuda" else "of RAM available on this worker"
    smaller = " LoRA (lora=true) instead of full fine-tuning," if full_fine_tune else ""
    raise Refused(
        f"This job needs about {_bytes(needed)} of memory ("
        + ", ".join(f"{what} {_bytes(amount)}" for what, amount in parts)
        + f") and there are {_bytes(available)} {where}. Use{smaller} a smaller model or a worker with more "
        "memory; or, if you know it fits, set check_memory=false."
    )


def dtype_note(
    size: ModelSize, dtype: torch.dtype, device: torch.device, *, training: bool = False
) -> str | None:
    """A line for the job's log when the worker runs the weights in another dtype than they are stored
    in, with the memory each takes; None when it runs them as stored."""
    if dtype == size.stored:
        return None
    if device.type == "cpu":
        why = "the CPU runs float32"
    elif dtype == torch.float32:
        why = "full fine-tuning keeps float32 weights"
    else:
        why = f"this GPU runs {_name(dtype)}"
    return (
        f"The checkpoint is stored in {_name(size.stored)}; this worker {'trains' if training else 'runs'} "
        f"it in {_name(dtype)} ({why}), so its {_count(size.parameters)} parameters take "
        f"{_bytes(_in(size.parameters, dtype))} instead of {_bytes(_in(size.parameters, size.stored))}."
    )


def preflight(
    path: str | Path, base: str | Path | None = None, training: TrainingSettings | None = None, *,
    check_memory: bool = True, on_note: Callable[[str], None] | None = None,
) -> None:
    """Refuse (``Refused``), before any weight loads, a job on a checkpoint that this worker cannot
    run: a fine-tune of ``training`` on the model in ``path``, else generation with the checkpoint
    (an adapter on ``base``). ``on_note`` hears, before the memory check, of a dtype other than the
    stored one."""
    worker = Worker.here()
    if training is not None:
        check_settings(training, worker)
    size = model_size(weights_dir(path, base), training)
    dtype = worker.dtype if training is None else training_dtype(training, worker.device, worker.dtype)
    quantized = training is not None and training.qlora
    note = None if quantized else dtype_note(size, dtype, worker.device, training=training is not None)
    if note and on_note is not None:
        on_note(note)
    if check_memory:
        check_fits(memory_needed(size, dtype, training), available_memory(worker.device), worker.device,
                   full_fine_tune=training is not None and not training.lora)


def _in(parameters: int, dtype: torch.dtype) -> int:
    return parameters * dtype.itemsize


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _bytes(amount: float) -> str:
    if amount >= 1e12:
        return f"{amount / 1e12:.1f} TB"
    return f"{amount / 1e9:.1f} GB" if amount >= 1e8 else f"{amount / 1e6:.1f} MB"


def _count(parameters: int) -> str:
    return f"{parameters / 1e9:.2f} billion" if parameters >= 1e9 else f"{parameters / 1e6:.1f} million"
