"""Fine-tuning benchmark: optimiser steps per second and peak memory of ``traces.modeling.fine_tune``.

What it measures
    The CPU preset (``cpu_small``: LoRA r 8 on all linear layers, batch 2) and, for comparison on
    the same model, full fine-tuning and the authors' recipe without QLoRA (which needs CUDA):
    LoRA r 16 on the projections with gradient accumulation 4 and gradient checkpointing, on
    CoTempQA examples in the paper's format (a prompt with the facts, the decomposition trace and
    answer as the reply). Each run trains ``--steps`` optimiser steps from a fresh output folder and
    reports steps/s and examples/s (wall time of the training call, model loading and saving
    included), and the process's peak resident memory after it (CPU) or the peak CUDA memory
    allocated (GPU). Runs alternate over ``--rounds`` rounds; medians are printed.

Model
    ``--model PATH`` takes a local ``save_pretrained`` directory; by default a random Llama-style
    model built here (hidden 256, 4 layers, as bench/generation.py). On a GPU (``pick_device``),
    pass a real model directory and ``--qlora`` to time the authors' recipe as they ran it.

Run (from the repository root)::

    .venv/bin/python bench/fine_tune.py
    .venv/bin/python bench/fine_tune.py --steps 40 --rounds 3
    .venv/bin/python bench/fine_tune.py --model /models/Llama-3.2-1B-Instruct --qlora   # on a GPU
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from traces.loaders import load_cotempqa  # noqa: E402
from traces.modeling import PRESETS, TrainingSettings, build_tiny_model, fine_tune, pick_device  # noqa: E402
from traces.sft import build_examples  # noqa: E402

DATA = ROOT / "traces" / "data" / "cotempqa"


def examples(n: int) -> list[dict]:
    problems = load_cotempqa(DATA / "equal.json", "equal")[:n]
    return [e.to_dict() for e in build_examples(problems, "decomposition_correct").examples]


def peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="local save_pretrained directory (default: build one)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--qlora", action="store_true", help="the authors' recipe with QLoRA (CUDA only)")
    args = parser.parse_args(argv)
    hf_logging.disable_progress_bar()
    train = examples(args.examples)
    with tempfile.TemporaryDirectory(prefix="bench-fine-tune-") as tmp:
        path = args.model or build_tiny_model(
            Path(tmp) / "model", hidden_size=256, num_layers=4, vocab_size=4000
        )
        device, dtype = pick_device()
        precision = str(dtype).removeprefix("torch.")
        print(f"device {device}, {precision}, {len(train)} examples, {args.steps} steps per run")
        base = {"max_steps": args.steps, "save_steps": 10_000}
        authors = {**PRESETS["authors"], **base, "qlora": args.qlora, "max_length": 4096}
        if not args.qlora:
            authors["optimizer"] = "adamw_torch"
        configurations = {
            "cpu_small (LoRA r 8, batch 2)": TrainingSettings(**{**PRESETS["cpu_small"], **base}),
            "full fine-tuning (batch 2)": TrainingSettings(**{**PRESETS["cpu_small"], **base, "lora": False}),
            "authors' recipe" + (" (QLoRA)" if args.qlora else " without QLoRA"): TrainingSettings(**authors),
        }
        timings: dict[str, list[float]] = {name: [] for name in configurations}
        peaks: dict[str, float] = {}
        for round_ in range(args.rounds):
            for name, settings in configurations.items():
                if torch.cuda.is_available():
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                output = Path(tmp) / f"out-{round_}-{list(configurations).index(name)}"
                fine_tune(path, train, output, settings)
                timings[name].append(time.perf_counter() - start)
                peaks[name] = max(peaks.get(name, 0.0), peak_memory_mb())
    print(f"{'configuration':<40} {'steps/s':>8} {'examples/s':>11} {'peak MB':>9}")
    for name, settings in configurations.items():
        seconds = statistics.median(timings[name])
        per_step = settings.batch_size * settings.gradient_accumulation
        print(f"{name:<40} {args.steps / seconds:>8.2f} {args.steps * per_step / seconds:>11.1f} "
              f"{peaks[name]:>9.0f}")
    print("peak MB: the process's peak resident memory so far (CPU; it only grows) or the run's peak CUDA "
          "memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
