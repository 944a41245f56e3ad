"""The participant benchmarks (participants.py, walk_cpu.py, burst.py, side_by_side.py) still work: each runs
in a small mode against PostgreSQL (their timing is not checked), and the PostgreSQL CPU they report counts
backends that close mid-run."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from participants import BackendSampler  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres() -> dict[str, str]:
    """The PostgreSQL server the test database is on (the benchmarks need one on 127.0.0.1)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (make test does on CI)")
    settings = connection.settings_dict
    return {"port": str(settings.get("PORT") or 5432), "user": settings.get("USER") or "postgres"}


@pytest.fixture
def scratch_database(postgres: dict[str, str]):
    """An empty database of its own, dropped afterwards."""
    name = f"bench_test_{secrets.token_hex(4)}"
    admin = f"host=127.0.0.1 port={postgres['port']} user={postgres['user']} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name, admin.replace("dbname=postgres", f"dbname={name}")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_backend_that_closes_mid_run_keeps_its_cpu(scratch_database):
    name, conninfo = scratch_database
    sampler = BackendSampler(name, interval_s=0.05)
    with psycopg.connect(conninfo) as conn:  # opens after the sampler started, closes before it stops
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
        conn.execute("SELECT pg_sleep(0.2)")  # a poll after the work, before the backend goes
    database_s = sampler.stop()
    assert sampler.closed == 1
    assert database_s > 0


def _run(script: str, postgres: dict[str, str], *args: str) -> str:
    command = [sys.executable, str(ROOT / "bench" / script), "--pg-port", postgres["port"],
               "--pg-user", postgres["user"], *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_load_benchmark_runs_in_a_small_mode(postgres):
    out = _run("participants.py", postgres, "--participants", "4", "--concurrency", "2", "--warmup", "1",
               "--db-name", "bench_participants_ci", "--time-limit", "400")
    assert "RESULT: OK" in out
    assert "PostgreSQL backends: polled every" in out


def test_the_walk_cpu_benchmark_runs_in_a_small_mode(postgres):
    out = _run("walk_cpu.py", postgres, "--participants", "2", "--warmup", "1",
               "--db-name", "bench_walk_cpu_ci")
    assert "RESULT: OK" in out


def test_the_launch_burst_benchmark_runs_in_a_small_mode(postgres):
    out = _run("burst.py", postgres, "--arrivals", "40", "--seconds", "0.5", "--over", "4",
               "--db-name", "bench_burst_ci")
    assert "exact balance               yes" in out
    assert "RESULT: OK" in out  # no errors: the 4 beyond the places were told the study is full


def test_two_checkouts_run_side_by_side_in_a_small_mode(postgres):
    out = _run("side_by_side.py", postgres, "--app-dir", str(ROOT), "--small")
    assert re.search(r"^  1 +[\d.]+ +[\d.]+ +[\d.]+$", out, re.MULTILINE)
    assert re.search(r"this / other: median [\d.]+, mean [\d.]+", out)
    assert "RESULT: OK" in out
