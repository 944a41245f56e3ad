"""Two checkouts under the same load at the same time, over HTTP: which one's participant walk costs less.

Why at the same time
    Run after run, participants.py cannot tell two commits apart within 10%: this machine's speed drifts
    by more than that between runs (its reference loop took 27 ms before a run and 49 ms after it; the
    client, doing the same work each time, moved by the same ratio as the server). This runs
    participants.py for this checkout and for ``--app-dir`` at once, each with its own gunicorn, database
    and client on the same cores, so both meet the machine at the same speed; each counts only its own
    server's processes and its own database's PostgreSQL backends. (Each run's "other (not ours)" CPU is
    then the other side's, and participants.py says so with a warning.)

What it prints
    Per run, both sides' server + PostgreSQL CPU per participant walk and the ratio this / other; then
    the median and mean ratio, with each side's answers-stored check. The two sides' set-up (migrations,
    seeding) takes about as long, so their timed phases overlap by most of their length, not exactly.

Run (from the repository root; the other checkout as a worktree)::

    git worktree add /tmp/walk-base b0254d7
    .venv/bin/python bench/side_by_side.py --app-dir /tmp/walk-base
    .venv/bin/python bench/side_by_side.py --app-dir /tmp/walk-base --runs 8 --participants 200
    .venv/bin/python bench/side_by_side.py --app-dir . --small    # this checkout against itself: a check

Exit status 0 only when every run of both sides completed every walk with every answer stored exactly once.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from participants import drop_database, parse_options

REPO = Path(__file__).resolve().parents[1]
PER_WALK = re.compile(r"server \+ database CPU per participant walk: ([\d.]+) ms")


@dataclass
class Side:
    """One checkout's participants.py run: its CPU per walk (None if it printed none), whether it passed."""

    per_walk_ms: float | None
    ok: bool
    output: str


def run_both(app_dirs: dict[str, Path], options: list[str], postgres: list[str],
             seed: int) -> dict[str, Side]:
    """participants.py once per checkout, started together; each side in a database of its own on the
    server `postgres` names, named with this process's id, dropped afterwards."""
    started = {}
    for name, app_dir in app_dirs.items():
        database = f"bench_side_{name}_{os.getpid()}"
        command = [sys.executable, str(REPO / "bench" / "participants.py"), *options, *postgres,
                   "--seed", str(seed), "--app-dir", str(app_dir), "--db-name", database]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        started[name] = (database, process)
    sides = {}
    for name, (database, process) in started.items():
        output, _ = process.communicate()
        found = PER_WALK.search(output)
        sides[name] = Side(float(found.group(1)) if found else None,
                           process.returncode == 0 and "RESULT: OK" in output, output)
        drop_database(parse_options([*postgres, "--db-name", database]))
    return sides


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--app-dir", type=Path, required=True, help="the other checkout (a worktree)")
    parser.add_argument("--runs", type=int, default=6, help="runs, both sides at once in each [6]")
    parser.add_argument("--participants", type=int, default=150, help="participants measured per side [150]")
    parser.add_argument("--concurrency", type=int, default=16, help="participants at once per side [16]")
    parser.add_argument("--warmup", type=int, default=8, help="participants walked first per side [8]")
    parser.add_argument("--pg-port", default="5432")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--small", action="store_true", help="one run of 3 walks at concurrency 2: a check")
    args = parser.parse_args(argv)
    if args.small:
        args.runs, args.participants, args.concurrency, args.warmup = 1, 3, 2, 1
    options = ["--participants", str(args.participants), "--concurrency", str(args.concurrency),
               "--warmup", str(args.warmup)]
    postgres = ["--pg-port", args.pg_port, "--pg-user", args.pg_user]
    app_dirs = {"this": REPO, "other": args.app_dir.resolve()}
    print(f"this checkout: {REPO}\nother:         {app_dirs['other']}\n{args.runs} runs, each side "
          f"{args.participants} walks at concurrency {args.concurrency}, both sides at once\n")
    print("run   this ms/walk  other ms/walk  this / other")
    ratios, ok = [], True
    for run in range(1, args.runs + 1):
        sides = run_both(app_dirs, options, postgres, seed=run)
        this, other = sides["this"], sides["other"]
        for name, side in sides.items():
            if not side.ok:
                ok = False
                print(f"{name} side failed in run {run}:\n{side.output[-3000:]}", file=sys.stderr)
        if this.per_walk_ms and other.per_walk_ms:
            ratios.append(this.per_walk_ms / other.per_walk_ms)
            print(f"{run:>3}   {this.per_walk_ms:12.1f}  {other.per_walk_ms:13.1f}  {ratios[-1]:12.3f}")
    if ratios:
        print(f"\nthis / other: median {statistics.median(ratios):.3f}, mean {statistics.fmean(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f} ({len(ratios)} runs)")
    print("RESULT: " + ("OK" if ok and ratios else "FAILED"))
    return 0 if ok and ratios else 1


if __name__ == "__main__":
    sys.exit(main())
