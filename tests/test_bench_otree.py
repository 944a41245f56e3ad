"""The comparison with oTree (bench/otree/compare.py) still runs: its small mode, both sides, against
PostgreSQL, checked for its exit status and the figures it prints (never their values: tests do not time).

oTree lives in a virtual environment of its own, bench/otree/.venv, which bench/otree/setup.sh makes;
without it, or without PostgreSQL, the test is skipped and says why."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
COMPARE = ROOT / "bench" / "otree" / "compare.py"
OTREE = ROOT / "bench" / "otree" / ".venv" / "bin" / "otree"

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres() -> dict[str, str]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (make test does on CI)")
    if not OTREE.exists():
        pytest.skip("needs oTree in bench/otree/.venv: run bench/otree/setup.sh")
    settings = connection.settings_dict
    return {"port": str(settings.get("PORT") or 5432), "user": settings.get("USER") or "postgres"}


def test_the_otree_comparison_runs_in_its_small_mode(postgres: dict[str, str]) -> None:
    command = [sys.executable, str(COMPARE), "--small", "--pg-port", postgres["port"],
               "--pg-user", postgres["user"]]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    # each side walked every participant, and every answer came back once: sent/stored/0/0/0
    assert re.search(r"^run 1\s+ours\s+4/4 .* (\d+)/\1/0/0/0$", out, re.MULTILINE)
    assert re.search(r"^run 2\s+oTree\s+4/4 .* (\d+)/\1/0/0/0$", out, re.MULTILINE)
    assert re.search(r"^\s+ours\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+", out, re.MULTILINE)
    assert re.search(r"^\s+oTree\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+", out, re.MULTILINE)
    assert re.search(r"CPU per participant walk, oTree / ours: [\d.]+x", out)
    assert "RESULT: OK" in out
