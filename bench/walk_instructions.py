"""Instructions the app executes per participant walk, counted by valgrind: a figure the machine's speed
does not move. The walks themselves are drawn at random (condition, stimuli, answers), so the default 10
measured walks of the same code differ by 2-3% between runs; to compare two commits within 1%, run both
at once with more walks (``--long 32``: 30 each, about 10 minutes a checkout).

bench/walk_cpu.py measures a walk's CPU time, which moves by 20% or more between runs on a shared machine;
to say whether one commit's walk costs more than another's, count instructions instead. This runs
walk_cpu.py under valgrind's callgrind (a thread per output file) twice, with ``--short`` and ``--long``
measured walks after the same warm-up, and divides the difference of the main thread's instructions by
the difference of walks: the set-up (imports, migrations in subprocesses that are not traced, the
warm-up) cancels out, and so does the PostgreSQL sampler's thread. PostgreSQL's own work is not counted.

``--warmup`` matters: the first walks of a process fill its caches (each stimulus and condition's text
version, each trace's rendering), which a study's server fills once; 40 walks fill the demo study's.
``--app-dir`` runs another checkout's own walk_cpu.py (a worktree of an earlier commit) the same way,
with this checkout's virtual environment, and prints the ratio. Valgrind slows Python about 60 times: the
default run takes about 10 minutes per checkout (its two lengths run side by side).

    .venv/bin/python bench/walk_instructions.py
    .venv/bin/python bench/walk_instructions.py --app-dir /tmp/walk-base
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from participants import drop_database, parse_options

REPO = Path(__file__).resolve().parents[1]
TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


def main_thread_instructions(out_prefix: Path) -> int:
    """The instructions of the process's first thread (callgrind names its file <prefix>-01)."""
    text = Path(f"{out_prefix}-01").read_text()
    found = TOTALS.search(text)
    if found is None:
        raise RuntimeError(f"no totals in {out_prefix}-01")
    return int(found.group(1))


def run_walks(app_dir: Path, walks: int, warmup: int, db_name: str, out_prefix: Path) -> subprocess.Popen:
    """walk_cpu.py of ``app_dir`` under callgrind, started (waited for by the caller)."""
    command = [
        "valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out_prefix}",
        sys.executable, str(app_dir / "bench" / "walk_cpu.py"), "--participants", str(walks),
        "--warmup", str(warmup), "--db-name", db_name,
    ]
    log = out_prefix.with_suffix(".log").open("w")
    return subprocess.Popen(command, cwd=app_dir, stdout=log, stderr=subprocess.STDOUT)


def per_walk(app_dir: Path, short: int, long: int, warmup: int, tag: str, tmp: Path) -> float:
    """Instructions per walk of one checkout: its two lengths run side by side, each in a database of
    its own, named with this process's id (two runs at once, a test's and yours, must not drop each
    other's database) and dropped afterwards."""
    runs = {}
    for walks in (short, long):
        prefix, database = tmp / f"{tag}-{walks}", f"bench_wi_{tag}_{walks}_{os.getpid()}"
        runs[walks] = (prefix, database, run_walks(app_dir, walks, warmup, database, prefix))
    try:
        for walks, (prefix, _, process) in runs.items():
            if process.wait() != 0:
                log = prefix.with_suffix(".log").read_text()[-3000:]
                raise RuntimeError(f"{app_dir}: {walks} walks under valgrind failed:\n{log}")
    finally:
        for _, database, process in runs.values():
            process.wait()
            drop_database(parse_options(["--db-name", database]))
    counts = {walks: main_thread_instructions(prefix) for walks, (prefix, _, _) in runs.items()}
    return (counts[long] - counts[short]) / (long - short)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", type=int, default=2, help="walks measured in the short run [2]")
    parser.add_argument("--long", type=int, default=12, help="walks measured in the long run [12]")
    parser.add_argument("--warmup", type=int, default=40, help="walks before measuring, in both runs [40]")
    parser.add_argument("--app-dir", type=Path, default=None,
                        help="another checkout to count the same way, and compare with this one")
    args = parser.parse_args(argv)
    if not 1 <= args.short < args.long:
        parser.error("--short must be at least 1 and under --long")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-walk-instructions-") as name:
        tmp = Path(name)
        this = per_walk(REPO, args.short, args.long, args.warmup, "this", tmp)
        other = None if args.app_dir is None else per_walk(
            args.app_dir.resolve(), args.short, args.long, args.warmup, "other", tmp)
    print(f"\ninstructions per walk, app process's main thread ({args.long} - {args.short} walks after "
          f"{args.warmup} warm-up walks, valgrind callgrind)")
    print(f"this checkout        {this / 1e6:8.1f} M")
    if other is not None:
        print(f"{args.app_dir!s:<20} {other / 1e6:8.1f} M")
        print(f"this / other         {this / other:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
