"""bench/export.py still works: its smoke run (2,000 rows) sets up its database, streams every export
through the real API and gets every row back. Its speed is the benchmark's business, not the test's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent


def postgres_server() -> str | None:
    """libpq conninfo of the PostgreSQL server the tests run on (DATABASE_URL), or None on SQLite."""
    url = urlsplit(os.environ.get("DATABASE_URL", ""))
    if url.scheme not in ("postgres", "postgresql"):
        return None
    return f"host={url.hostname or '127.0.0.1'} port={url.port or 5432} user={url.username or 'postgres'}"


SERVER = postgres_server()

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    SERVER is None, reason="needs PostgreSQL: DATABASE_URL names none (CI's does)",
)]


def test_the_export_benchmark_runs_and_exports_every_row():
    database = f"bench_export_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    done = subprocess.run(
        [sys.executable, "bench/export.py", "--smoke", "--pg", SERVER, "--db-name", database],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Loaded 2,000 responses" in done.stdout
    for export in ("responses:csv", "responses:json"):
        assert re.search(rf"^{export} +2,000 response rows in .* rows/s", done.stdout, re.M), done.stdout
        assert f"{export}: " in done.stdout  # its rate and memory against the targets
    assert "responses-wide:csv" in done.stdout
