"""Models and tokenizers from local directories only: a worker never reaches the network, and a
study is reproducible from the files it names. A checkpoint is either a whole model
(``save_pretrained``) or a LoRA adapter saved alone, loaded onto its base."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .device import pick_device

ADAPTER_CONFIG = "adapter_config.json"


@contextmanager
def quiet_peft() -> Iterator[None]:
    """peft 0.21 calls a transformers 5 method that is deprecated (not wrong): keep the logs quiet."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def local_dir(path: str | Path) -> Path:
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"model directory not found: {directory} (only local directories are loaded)")
    return directory


def is_adapter(path: str | Path) -> bool:
    """Whether a checkpoint directory holds a LoRA adapter (to load onto its base) and not a model."""
    return (Path(path) / ADAPTER_CONFIG).is_file()


def adapter_base(path: str | Path) -> str:
    """The base model an adapter was trained on, as its adapter_config.json names it."""
    return json.loads((Path(path) / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]


def weights_dir(path: str | Path, base: str | Path | None = None) -> Path:
    """The directory whose weights a checkpoint loads: its own, or an adapter's base (``base``, by
    default the one its adapter_config.json names)."""
    directory = local_dir(path)
    return local_dir(base or adapter_base(directory)) if is_adapter(directory) else directory


def saved_dtype(path: str | Path) -> torch.dtype:
    """The dtype a model directory's weights were saved in (float32 when its config does not say)."""
    config = json.loads((local_dir(path) / "config.json").read_text())
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    return getattr(torch, str(name).removeprefix("torch."), torch.float32)


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerBase:
    """The directory's tokenizer, with a pad token (EOS where it has none)."""
    tokenizer = AutoTokenizer.from_pretrained(local_dir(directory), local_files_only=True)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer in {directory} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    path: str | Path, base: str | Path | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer of a checkpoint, ready for ``generate`` on ``pick_device()`` in eval mode.

    An adapter directory is loaded onto ``base`` (default: the base its adapter_config.json names)
    and merged in memory, so generation runs at the speed of a plain model. The tokenizer pads on
    the left (generation continues from the last position of every row)."""
    directory = local_dir(path)
    device, dtype = pick_device()
    tokenizer = load_tokenizer(directory)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(
        weights_dir(directory, base), dtype=dtype, local_files_only=True
    )
    if is_adapter(directory):
        from peft import PeftModel

        with quiet_peft():
            model = PeftModel.from_pretrained(model, directory, local_files_only=True).merge_and_unload()
    model.to(device)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
