#!/usr/bin/env bash
# The oTree side of bench/otree/compare.py: a virtual environment of its own, bench/otree/.venv, with oTree
# 6.0.15 and the PostgreSQL driver its SQLAlchemy 1.3 uses (psycopg2). oTree never enters the project's
# .venv or requirements.txt: it pins old Starlette, SQLAlchemy and WTForms that would clash with ours.
# Run from anywhere; running it again only re-checks the versions. PYTHON chooses the interpreter
# (oTree 6.0.15 supports Python 3.10 to 3.14; default: python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "otree==6.0.15" "psycopg2-binary>=2.9,<3"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import psycopg2  # noqa: F401  the driver SQLAlchemy 1.3 loads for postgresql:// URLs

version = md.version("otree")
assert version == "6.0.15", f"oTree {version} installed, 6.0.15 expected"
print(f"oTree {version} and psycopg2 {md.version('psycopg2-binary')} in the venv of bench/otree")
PY
