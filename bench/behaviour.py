"""Benchmark (not a test): time the statistics of a behavioural task (verification) for synthetic studies.

For each size (participants x trials each, 4 conditions between participants, a pool of stimuli each
participant draws its trials from), it times the per-condition figures (``analysis.stats.binary.behaviour``:
accuracy, Wilson interval, calibration, signal detection, median time) and the mixed logistic regression
with crossed random intercepts for participant and stimulus (``analysis.stats.glmm.mixed_logistic``: the
model, its refit without condition for the likelihood-ratio test, Wald tests), and prints the median and
the fastest of the repeats with the machine it ran on. Pure computation: no database, no Django.

    .venv/bin/python bench/behaviour.py                         # 100 and 1,000 participants x 20 trials
    .venv/bin/python bench/behaviour.py --sizes 100 --repeat 10 --stimuli 40

Goal (issue 20): the report with the mixed logistic model for 100 participants under 2 s.

BLAS threads: the crossed model's Schur complement is a few dense products (participants x stimuli), which
OpenBLAS splits over every core. On a machine whose cores are busy those threads wait for each other:
on 2026-12-06 (2 shared cores, load about 3.4) the 1,000-participant model took 4.6 s with OpenBLAS's
default threads and 0.78 s with ``OPENBLAS_NUM_THREADS=1`` (100 participants: 0.19 s and 0.13 s). Compare
both:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/behaviour.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.binary import behaviour
from analysis.stats.glmm import mixed_logistic

CONDITIONS = ("none", "decomposition", "reasoning", "summary")
EFFECTS = (0.0, 0.6, 0.3, -0.2)  # logit-scale accuracy differences from the first condition


def study(rng: np.random.Generator, participants: int, trials: int, stimuli: int) -> dict:
    """A verification study: half the stimuli show a right model answer; a participant accepts an answer
    as right with a probability that depends on its truth, their condition, their own and the stimulus's
    random intercepts."""
    part = np.repeat(np.arange(participants), trials)
    cond = part % len(CONDITIONS)
    stim = np.concatenate([rng.choice(stimuli, trials, replace=False) for _ in range(participants)])
    right = stim % 2 == 0
    eta = (0.5 + np.asarray(EFFECTS)[cond] + rng.normal(0, 0.8, participants)[part]
           + rng.normal(0, 0.5, stimuli)[stim])
    correct = rng.random(len(eta)) < 1 / (1 + np.exp(-eta))
    return {
        "correct": correct, "said_yes": correct == right, "answer_correct": right,
        "condition": np.array(CONDITIONS)[cond], "participant": part, "stimulus": stim,
        "confidence": rng.integers(1, 6, len(eta)), "rt_ms": rng.lognormal(9, 0.5, len(eta)),
    }


def run_once(data: dict) -> tuple[float, float, dict]:
    start = time.perf_counter()
    for c in CONDITIONS:
        mine = data["condition"] == c
        behaviour(data["correct"][mine], data["confidence"][mine], data["rt_ms"][mine].tolist(),
                  data["participant"][mine].tolist(), 2, said_yes=data["said_yes"][mine],
                  answer_correct=data["answer_correct"][mine])
    middle = time.perf_counter()
    model = mixed_logistic(data["correct"], data["condition"],
                           {"participant": data["participant"], "stimulus": data["stimulus"]},
                           conditions=CONDITIONS)
    return middle - start, time.perf_counter() - middle, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="participants per study")
    parser.add_argument("--trials", type=int, default=20, help="trials per participant")
    parser.add_argument("--stimuli", type=int, default=40, help="stimuli in the pool")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()} on "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start "
          "(other processes' work slows the figures)")
    for size in args.sizes:
        rng = np.random.default_rng(args.seed)
        data = study(rng, size, args.trials, args.stimuli)
        figures, models = [], []
        for _ in range(args.repeat):
            summary_s, model_s, model = run_once(data)
            figures.append(summary_s)
            models.append(model_s)
        print(f"{size} participants x {args.trials} trials ({args.stimuli} stimuli):"
              f" per-condition figures {statistics.median(figures):.3f} s (fastest {min(figures):.3f}),"
              f" mixed logistic model {statistics.median(models):.3f} s (fastest {min(models):.3f});"
              f" converged {model['converged']}, LR chi2 {model['lr']['chi2']:.1f},"
              f" SDs {', '.join(f'{k} {v:.2f}' for k, v in model['random_sd'].items())}")


if __name__ == "__main__":
    main()
