"""Where the model runs and in which precision, and giving its memory back."""

from __future__ import annotations

import gc

import torch


def pick_device() -> tuple[torch.device, torch.dtype]:
    """CUDA in bf16 where the GPU supports it (Ampere and later), fp16 on older GPUs; else the CPU
    in float32 (faster there, and exact enough for tests). Never touches CUDA when
    ``torch.cuda.is_available()`` is False."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cpu"), torch.float32


def free_memory() -> None:
    """Collect what Python no longer references and return CUDA's cached blocks to the GPU."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # asking does not initialise CUDA
        torch.cuda.empty_cache()
