"""Benchmark (not a test): the calibration and power of the report's planned test, by simulating studies
of the paper's design through the report's own functions (``analysis.simulation``).

Null studies (no condition effect on any of four primary outcomes): how often each test rejects one
outcome at .05 (per outcome, over studies x outcomes) and how often the family's decision (Holm across
the four) rejects any (family-wise), side by side for the planned test (the permutation test of the
mixed model's score), the mixed model's asymptotic Wald test the report used before, and Kruskal-Wallis
on participants' scores; on the same simulated studies. Then power: one outcome with the effect (the
last condition +d logits), the others null, the family's decision on it. Then the proportional-odds
check under the null, the cluster-aware one against the independent-answers one it replaced. Each rate
with its Wilson 95% interval. Pure computation: no database, no Django.

    .venv/bin/python bench/calibration.py                                  # 1,000 null studies, 4 x 25
    .venv/bin/python bench/calibration.py --studies 200 --power-studies 100 --processes 2
    .venv/bin/python bench/calibration.py --per-condition 40 --effects 0.5

Goal (issue 22): per-outcome false-positive rate within 4.0-6.0% and family-wise at or below 5.5% in
1,000 null studies of 4 x 25 participants, 5 shared stimuli, participant SD 1, stimulus SD 0.5.
Studies run in chunks of 50 with their own seeds, so the figures do not depend on ``--processes``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.simulation import Design, family_null, po_check_null, power

TESTS = {"ordinal_mixed": "planned: permutation test of the mixed model's score",
         "wald": "before: mixed model's Wald chi-squared (asymptotic)",
         "kruskal": "Kruskal-Wallis on participants' scores"}
CHUNK = 50


def _chunks(total: int) -> list[tuple[int, int]]:
    return [(start, min(CHUNK, total - start)) for start in range(0, total, CHUNK)]


def _merge(parts: list[dict], keys: tuple[str, ...]) -> dict:
    out = {}
    for key in keys:
        count, n = sum(p[key]["count"] for p in parts), sum(p[key]["n"] for p in parts)
        out[key] = (count, n)
    return out


def _null_chunk(args: tuple) -> dict:
    design, test, start, size, seed = args
    return family_null(design, test, size, seed=seed + start)


def _power_chunk(args: tuple) -> dict:
    design, test, start, size, seed = args
    return power(design, test, size, seed=seed + start)


def _po_chunk(args: tuple) -> dict:
    design, start, size, seed = args
    return po_check_null(design, size, seed=seed + start)


def _rate(count: int, n: int) -> str:
    from analysis.stats import wilson

    ci = wilson(count, n)
    return f"{count:>4} / {n:<5} {100 * count / n:5.2f}%  [{100 * ci['low']:.2f}, {100 * ci['high']:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1000, help="null studies (default 1,000)")
    parser.add_argument("--power-studies", type=int, default=500, help="studies per effect (default 500)")
    parser.add_argument("--effects", type=float, nargs="*", default=[0.5, 1.0], help="logits")
    parser.add_argument("--per-condition", type=int, default=25)
    parser.add_argument("--stimuli", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    design = Design(per_condition=args.per_condition, stimuli=args.stimuli, trials=args.stimuli)
    print(f"bench/calibration.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.processes} processes")
    print(f"design: {design.conditions} conditions x {design.per_condition} participants, {design.stimuli} "
          f"shared stimuli, {design.items} items per trial, participant SD {design.participant_sd}, "
          f"stimulus SD {design.stimulus_sd}; 4 primary outcomes, Holm; alpha .05")
    started = time.perf_counter()
    with ProcessPoolExecutor(args.processes) as pool:
        print(f"\nNull studies: {args.studies} (seed {args.seed})")
        print(f"{'test':<55} {'per outcome':<38} family-wise")
        for test, name in TESTS.items():
            parts = list(pool.map(_null_chunk, [(design, test, s, n, args.seed)
                                                for s, n in _chunks(args.studies)]))
            merged = _merge(parts, ("per_outcome", "familywise"))
            print(f"{name:<55} {_rate(*merged['per_outcome']):<38} {_rate(*merged['familywise'])}")
        for effect in args.effects:
            print(f"\nPower, one outcome +{effect:g} logit (last condition), {args.power_studies} studies: "
                  "the family's decision on it / the outcome's own test at .05")
            effect_design = replace(design, effect=effect)
            for test, name in TESTS.items():
                parts = list(pool.map(_power_chunk, [(effect_design, test, s, n, args.seed)
                                                     for s, n in _chunks(args.power_studies)]))
                merged = _merge(parts, ("power", "power_alone"))
                print(f"{name:<55} {_rate(*merged['power']):<38} {_rate(*merged['power_alone'])}")
        for items in (2, 4):
            print(f"\nProportional-odds check, null outcomes with {items} items per trial ({args.studies}):")
            parts = list(pool.map(_po_chunk, [(replace(design, items=items), s, n, args.seed)
                                              for s, n in _chunks(args.studies)]))
            merged = _merge(parts, ("clustered", "independent"))
            print(f"{'planned: participants as clusters (jackknife, F)':<55} {_rate(*merged['clustered'])}")
            print(f"{'before: likelihood ratio, answers independent':<55} {_rate(*merged['independent'])}")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
