"""Every benchmark script still runs: each in a small mode, checked for its exit status and the figures it
prints (never their values: a benchmark measures, a test does not time). The scripts make their own
databases and servers; the CI's PostgreSQL database and Redis broker are kept out of their environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from traces.modeling import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

pytestmark = pytest.mark.slow

#: script and small-mode arguments -> a pattern its report must print
SMALL_RUNS = {
    "behaviour.py": (["--sizes", "20", "--repeat", "1"],
                     r"20 participants x 20 trials .* mixed logistic model [\d.]+ s"),
    "calibration.py": (["--studies", "4", "--power-studies", "2", "--processes", "1", "--per-condition", "4"],
                       r"planned: participants as clusters .* / 4 "),
    "fake_arrivals.py": ([], r"Fake arrivals that arrive and consent: \d+ arrivals from \d+ addresses"),
    "generation.py": (["--prompts", "4", "--max-new-tokens", "4", "--batch-sizes", "1,2", "--no-peers",
                       "--hidden", "32", "--layers", "1", "--vocab", "500"],
                      r"batch 2 vs batch 1: [\d.]+x the tokens per second; outputs identical"),
    "login_flood.py": (["--seconds", "1"], r"behind nginx\s+\d+\s+[\d.]+"),
    "model_outputs.py": (["--outputs", "200", "--repeat", "1"],
                         r"Part 1 \(sqlite\): 12 files, 2850 outputs imported and graded"),
    "slow_clients.py": (["--rounds", "1", "--timeout", "5"], r"behind nginx\s+50\s"),
    "slow_prolific.py": (["--seconds", "2", "--arrivals", "1", "--enrolled", "1", "--rounds", "1"],
                         r"arrivals \(to the consent page\) n=1 .* failures=0"),
}


def run_bench(script: str, args: list[str], tmp_path: Path) -> str:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")}
    env["VAR_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{script} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_a_benchmark_runs_in_its_small_mode(script: str, tmp_path: Path) -> None:
    args, prints = SMALL_RUNS[script]
    assert re.search(prints, run_bench(script, args, tmp_path))


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_the_instruction_count_of_a_walk_runs_under_valgrind(tmp_path: Path) -> None:
    """It prints its count and leaves no database behind (each run's are its own, named with its pid)."""
    before = instruction_databases()
    printed = run_bench("walk_instructions.py", ["--short", "1", "--long", "2", "--warmup", "0"], tmp_path)
    assert re.search(r"this checkout\s+[\d.]+ M", printed)
    assert instruction_databases() <= before


def instruction_databases() -> set[str]:
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_wi_%'").fetchall()
    return {name for (name,) in rows}


def test_the_fine_tuning_benchmark_runs_on_a_tiny_model(tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "model")
    small = ["--model", str(model), "--steps", "2", "--examples", "4", "--rounds", "1"]
    out = run_bench("fine_tune.py", small, tmp_path)
    for configuration in ("cpu_small (LoRA r 8, batch 2)", "full fine-tuning (batch 2)",
                          "authors' recipe without QLoRA"):
        assert re.search(re.escape(configuration) + r"\s+[\d.]+\s+[\d.]+\s+\d+", out)


def test_every_benchmark_script_has_a_small_run_in_the_tests() -> None:
    """A benchmark no test runs rots unseen (bench/export.py failed at its set-up for weeks)."""
    tests = "".join(path.read_text() for path in Path(__file__).parent.glob("test_bench*.py"))
    unrun = [script.name for script in BENCH.glob("*.py") if f'"{script.name}"' not in tests
             and f"bench/{script.name}" not in tests and f'"{script.stem}"' not in tests]
    assert not unrun, f"benchmarks no test runs: {unrun}"
