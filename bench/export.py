"""Export benchmark: stream a study's long responses export (1,000,000 rows by default) as CSV.

What it measures
    The long (tidy) responses export, ``GET /api/v1/studies/<slug>/responses/?format=csv``, run
    through the real view (URL routing, middleware, token authentication, the researchers'
    permission, exports.py) with Django's test Client, reading ``response.streaming_content`` chunk
    by chunk as a WSGI server would. It reports rows per second (from the request until the last
    byte), the time to the first byte, the bytes written, and the peak resident memory (VmHWM) of
    the exporting process, which does nothing else. Also, for comparison, the same export as a
    JSON array and the wide export (one row per participant) as CSV, each in a process of its own.

    Targets: the long CSV export at 100,000 rows a second or more, under 300 MB resident. The exit
    status is 0 when both are met, 1 when not, 2 when set-up failed. The memory target is checked on
    what the export adds (peak VmHWM minus VmRSS just before the request): a Django process of this
    project already holds about 430 MB before any request, because the traces app's admin imports
    torch and transformers at start-up (traces.admin -> traces.jobs -> traces.modeling).

How it runs
    It drops and re-creates the PostgreSQL database ``bench_export`` (``--db-name``), migrates it,
    creates one live study (5 trials, the default questionnaire: 46 answers per completed
    participant, and 16 stimuli), then bulk-loads participants and their answers with COPY; the
    database is dropped at the end unless ``--keep``. Needs PostgreSQL on 127.0.0.1:5432 (user
    ``postgres``, trust auth).

Run (from the repository root)::

    .venv/bin/python bench/export.py                 # 1,000,000 rows
    .venv/bin/python bench/export.py --rows 200000 --keep
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
SLUG = "bench"
TRIALS = 5
N_STIMULI = 16
TARGET_ROWS_PER_S = 100_000
TARGET_RSS_MB = 300


def parse_options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Response rows to export.")
    parser.add_argument("--db-name", default="bench_export")
    parser.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres", help="libpq conninfo.")
    parser.add_argument("--keep", action="store_true", help="Leave the database in place afterwards.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: the exporting child process
    parser.add_argument("--token", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def environment(opts: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{opts.db_name}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-export-" + "x" * 40,
        "ALLOWED_HOSTS": "localhost",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "tracestudy.settings",
        "PYTHONPATH": str(REPO),
    }


def recreate_database(opts: argparse.Namespace, *, drop_only: bool = False) -> None:
    name = sql.Identifier(opts.db_name)
    with psycopg.connect(f"{opts.pg} dbname=postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def build(opts: argparse.Namespace) -> tuple[str, int, float]:
    """Study through the ORM, participants and answers through COPY; returns (token, rows, seconds)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from studyapp.models import Item, Stimulus, StimulusTrace, Study
    from studyapp.study_setup import add_defaults

    started = time.perf_counter()
    study = Study.objects.create(
        slug=SLUG, title="Export benchmark", target_per_condition=100_000,
        trials_per_participant=TRIALS, completion_code="C1", no_consent_code="C2", failed_attention_code="C3",
    )
    add_defaults(study)
    stimuli = []
    for n in range(N_STIMULI):
        stimulus = Stimulus.objects.create(
            study=study, code=f"cotempqa-bench-{n}", context_facts=["a", "b"], question="q?",
            gold_answers=["g"], model_answer="m",
        )
        StimulusTrace.objects.bulk_create(
            StimulusTrace(stimulus=stimulus, condition=c.code, text="t") for c in study.conditions.all()
        )
        stimuli.append(stimulus.id)
    conditions = list(study.conditions.values_list("id", "code"))
    trial_items = list(study.items.filter(scope=Item.Scope.TRIAL).exclude(construct="attention_check")
                       .values_list("id", flat=True))
    checks = list(study.items.filter(construct="attention_check").values_list("id", flat=True))
    end_items = list(study.items.filter(scope=Item.Scope.END).values_list("id", flat=True))
    per_participant = TRIALS * len(trial_items) + len(checks) + len(end_items)
    n_participants = -(-opts.rows // per_participant)
    staff = User.objects.create_user("bench-staff", is_staff=True)
    token = Token.objects.create(user=staff).key

    rng = random.Random(7)
    t0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
    conninfo = f"{opts.pg} dbname={opts.db_name}"
    with psycopg.connect(conninfo) as conn:
        plans = []
        with conn.cursor() as cur, cur.copy(
            "COPY studyapp_participant (study_id, condition_id, token, prolific_pid, prolific_study_id, "
            "prolific_session_id, is_preview, status, started_at, ended_at, stimulus_sequence, "
            "trial_conditions, item_order, end_item_order, attention_plan, attention_failures, "
            "attention_passed, consented_at, device_class, user_agent, pages_done, comment, test_run, "
            "prolific_status, prolific_problem) FROM STDIN"
        ) as copy:
            for n in range(n_participants):
                sequence = rng.sample(stimuli, TRIALS)
                start = t0 + timedelta(seconds=7 * n)
                # each check on its own trial, as allocation.attention_plan places them
                on_trials = sorted(rng.sample(range(1, TRIALS + 1), len(checks)))
                plan = [{"trial": t, "position": 3, "item": c}
                        for t, c in zip(on_trials, checks, strict=True)]
                plans.append((sequence, start, {p["trial"]: p["item"] for p in plan}))
                condition_id, code = conditions[n % len(conditions)]
                copy.write_row((
                    study.id, condition_id, uuid.uuid4(), f"{n:024x}", "abc", "xyz", False,
                    "completed", start, start + timedelta(minutes=20), json.dumps(sequence),
                    json.dumps([code] * TRIALS), json.dumps(trial_items), json.dumps(end_items),
                    json.dumps(plan), 0, True, start, "desktop", "", TRIALS + 3, "", False, "", "",
                ))
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM studyapp_participant WHERE study_id = %s ORDER BY id", [study.id]
        )]
        written = 0
        with conn.cursor() as cur, cur.copy(
            "COPY studyapp_response (participant_id, stimulus_id, item_id, value, position, "
            "time_on_page_ms, submitted_at) FROM STDIN"
        ) as copy:
            for pid, (sequence, start, checks_on) in zip(ids, plans, strict=True):
                at = start
                pages = [(s, list(trial_items) + ([checks_on[t]] if t in checks_on else []))
                         for t, s in enumerate(sequence, start=1)]
                pages.append((None, end_items))
                for stimulus, items in pages:
                    ms = rng.randint(5_000, 120_000)
                    at = at + timedelta(milliseconds=ms)
                    for position, item in enumerate(items, start=1):
                        if written == opts.rows:
                            break
                        copy.write_row((pid, stimulus, item, rng.randint(1, 5), position, ms, at))
                        written += 1
        conn.execute("ANALYZE")
    return token, written, time.perf_counter() - started


def vm_hwm_mb() -> float:
    status = Path("/proc/self/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return kb / 1024


def vm_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kb / 1024


def measure(opts: argparse.Namespace) -> None:
    """In the child: one export through the real view, streamed; prints a JSON line of figures."""
    import django

    django.setup()
    from django.test import Client
    from django.urls import reverse

    name, fmt = opts.measure.split(":")
    client = Client(HTTP_AUTHORIZATION=f"Token {opts.token}", SERVER_NAME="localhost")
    url = reverse(f"api:{name}", args=[SLUG])
    client.get(reverse("api:study-list"))  # warm up imports and the connection
    rss_before = vm_rss_mb()
    started = time.perf_counter()
    response = client.get(url, {"format": fmt})
    assert response.status_code == 200, response.status_code
    first_byte = None
    n_bytes = newlines = 0
    for chunk in response.streaming_content:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        n_bytes += len(chunk)
        newlines += chunk.count(b"\n")
    response.close()
    seconds = time.perf_counter() - started
    print(json.dumps({
        "export": name, "format": fmt, "seconds": seconds, "first_byte_s": first_byte, "bytes": n_bytes,
        "csv_lines": newlines, "rss_before_mb": rss_before, "peak_rss_mb": vm_hwm_mb(),
    }))


def run_child(opts: argparse.Namespace, env: dict[str, str], token: str, what: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--db-name", opts.db_name, "--measure", what, "--token", token],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"export {what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    opts = parse_options(argv)
    sys.path.insert(0, str(REPO))
    env = environment(opts)
    if opts.measure:
        os.environ.update(env)
        measure(opts)
        return 0
    try:
        recreate_database(opts)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=REPO, check=True)
        os.environ.update(env)
        token, rows, build_s = build(opts)
    except Exception as exc:
        print(f"set-up failed: {exc}", file=sys.stderr)
        return 2
    print(f"Loaded {rows:,} responses in {build_s:.1f} s (database {opts.db_name}).")
    results = {}
    try:
        for what in ["responses:csv", "responses:json", "responses-wide:csv"]:
            r = results[what] = run_child(opts, env, token, what)
            n = rows if r["export"] == "responses" else r["csv_lines"] - 1
            unit = "response rows" if r["export"] == "responses" else "participant rows"
            print(
                f"{what:20} {n:>9,} {unit} in {r['seconds']:6.2f} s = {n / r['seconds']:>9,.0f} rows/s; "
                f"first byte {r['first_byte_s']:.2f} s; {r['bytes'] / 1e6:,.0f} MB sent; "
                f"peak RSS {r['peak_rss_mb']:.0f} MB (before the request {r['rss_before_mb']:.0f} MB)"
            )
    finally:
        if not opts.keep:
            recreate_database(opts, drop_only=True)
    long_csv = results["responses:csv"]
    assert long_csv["csv_lines"] == rows + 1, (long_csv["csv_lines"], rows)
    rate = rows / long_csv["seconds"]
    growth = long_csv["peak_rss_mb"] - long_csv["rss_before_mb"]
    ok = rate >= TARGET_ROWS_PER_S and growth < TARGET_RSS_MB
    print(
        f"Long CSV export: {rate:,.0f} rows/s (target {TARGET_ROWS_PER_S:,}); the export's memory "
        f"{growth:.0f} MB above the process's {long_csv['rss_before_mb']:.0f} MB before the request, "
        f"peak {long_csv['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB} MB for the export): "
        f"{'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
