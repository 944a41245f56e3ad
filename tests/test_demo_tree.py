"""A demo run writes only where .gitignore says: the database, the demo's model, the queue's folders
and the workers' files all go under var/, so `git status` stays clean (the demo's folder transport once
left control/ at the root). Run on a copy of the working tree, as a fresh clone would be."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GIT = shutil.which("git") or "git"
pytestmark = pytest.mark.slow


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run([GIT, *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_a_demo_run_leaves_git_status_clean(tmp_path):
    clone = tmp_path / "clone"
    for name in _git(ROOT, "ls-files", "-z").split("\0"):
        if name and (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    _git(clone, "init", "-q")
    _git(clone, "add", "-A")
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "tree")
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "VAR_DIR", "DJANGO_SETTINGS_MODULE")}
    for step in (["migrate", "--noinput", "-v", "0"], ["seed_demo"], ["demo_admin"], ["seed_traces_demo"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=clone, env=env, check=True,
                       capture_output=True, timeout=600)
    # the worker `make demo` tells the admin to start, on the demo's folder transport, for a moment
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "tracestudy", "worker", "-Q", "gpu",
                               "--pool=solo", "--loglevel=WARNING"], cwd=clone, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    assert (clone / "var" / "db.sqlite3").is_file()
    assert _git(clone, "status", "--porcelain") == ""
