"""Where the model runs and in which precision, what this worker offers a job, and giving memory back."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import psutil
import torch
from transformers.utils import is_bitsandbytes_available

from ..run_settings import TrainingSettings


class Refused(ValueError):
    """This worker cannot run the job as asked; the message says why and what to change. Raised before
    any weight is loaded."""


def pick_device() -> tuple[torch.device, torch.dtype]:
    """CUDA in bf16 where the GPU supports it (Ampere and later), fp16 on older GPUs; else the CPU
    in float32 (faster there, and exact enough for tests). Never touches CUDA when
    ``torch.cuda.is_available()`` is False."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cpu"), torch.float32


def training_dtype(settings: TrainingSettings, device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The dtype a fine-tune holds the base in: the GPU's half precision for LoRA (QLoRA's 4-bit layers
    compute in it too); float32 for full fine-tuning (AdamW on half-precision weights loses small
    updates) and on the CPU. One place, so that the memory estimate counts what training loads."""
    return dtype if settings.lora and device.type == "cuda" else torch.float32


@dataclass(frozen=True)
class Worker:
    """What this worker offers a job: its device, the dtype models run in there, and whether bitsandbytes
    (QLoRA, 8-bit and paged optimisers) can be imported. Checks take one, so tests can ask about others."""

    device: torch.device
    dtype: torch.dtype
    bitsandbytes: bool

    @classmethod
    def here(cls) -> Worker:
        return cls(*pick_device(), bitsandbytes=is_bitsandbytes_available())


def available_memory(device: torch.device, cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Bytes a job can still take: the GPU's free memory on CUDA, else the RAM the system can give
    without swapping, or less where the worker's container is limited (``container_headroom``)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    available = psutil.virtual_memory().available
    headroom = container_headroom(cgroup)
    return available if headroom is None else min(available, headroom)


def container_headroom(cgroup: Path) -> int | None:
    """What the container's memory limit leaves (limit less usage), read from cgroup v2
    (``memory.max``, ``memory.current``) or v1 (``memory/memory.limit_in_bytes``, ``usage_in_bytes``);
    None without a limit. psutil reports the host's memory, which a container may not get."""
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = (cgroup / limit_file).read_text().strip()
            usage = int((cgroup / usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # v1 writes "no limit" as a huge number, v2 "max"
            return max(int(limit) - usage, 0)
        return None
    return None


def free_memory() -> None:
    """Collect what Python no longer references and return CUDA's cached blocks to the GPU."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # asking does not initialise CUDA
        torch.cuda.empty_cache()
