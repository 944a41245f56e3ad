"""Export benchmark: stream a study's long responses export (1,000,000 rows by default) as CSV and JSON.

What it measures
    The long (tidy) responses export, ``GET /api/v1/studies/<slug>/responses/?format=csv``, run
    through the real view (URL routing, middleware, token authentication, the researchers'
    permission, exports.py) with Django's test Client, reading ``response.streaming_content`` chunk
    by chunk as a WSGI server would. It reports rows per second (from the request until the last
    byte), the exporting process's CPU time (steadier than the wall time on a shared machine), the
    time to the first byte, the bytes written, and the peak resident memory (VmHWM) of the exporting
    process, which does nothing else. Then the same export as a JSON array, and, for comparison, the
    wide export (one row per participant) as CSV, each in a process of its own. Every export's rows
    are counted and must be the rows loaded.

    Targets: the long CSV export at 200,000 rows a second or more and the JSON at 150,000, each
    adding at most 50 MB to the process (peak VmHWM minus VmRSS just before the request). The exit
    status is 0 when all are met, 1 when not, 2 when set-up or an export failed. ``--smoke`` (what
    the tests run, 2,000 rows) checks that everything runs and every row comes out, not the targets.

How it runs
    It drops and re-creates the PostgreSQL database ``bench_export`` (``--db-name``), migrates it,
    creates one live study (5 trials, the default questionnaire: 46 answers per completed
    participant, and 16 stimuli), then bulk-loads participants and their answers with COPY; the
    database is dropped at the end unless ``--keep``. Needs PostgreSQL (``--pg``, a libpq conninfo;
    default 127.0.0.1:5432, user ``postgres``, trust auth).

Run (from the repository root)::

    .venv/bin/python bench/export.py                 # 1,000,000 rows
    .venv/bin/python bench/export.py --rows 200000 --keep
    .venv/bin/python bench/export.py --smoke         # 2,000 rows: does it all still work?
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
from psycopg.conninfo import conninfo_to_dict

REPO = Path(__file__).resolve().parent.parent
SLUG = "bench"
TRIALS = 5
N_STIMULI = 16
TARGETS_ROWS_PER_S = {"responses:csv": 200_000, "responses:json": 150_000}
TARGET_GROWTH_MB = 50
SMOKE_ROWS = 2000


def parse_options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, help="Response rows to export (default 1,000,000).")
    parser.add_argument("--smoke", action="store_true", help=(
        f"Check that it works, not its speed: {SMOKE_ROWS:,} rows unless --rows, no targets."))
    parser.add_argument("--db-name", default="bench_export")
    parser.add_argument("--pg", default="host=127.0.0.1 port=5432 user=postgres", help="libpq conninfo.")
    parser.add_argument("--keep", action="store_true", help="Leave the database in place afterwards.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: the exporting child process
    parser.add_argument("--token", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.rows is None:
        opts.rows = SMOKE_ROWS if opts.smoke else 1_000_000
    return opts


def environment(opts: argparse.Namespace) -> dict[str, str]:
    server = conninfo_to_dict(opts.pg)
    user = server.get("user", "postgres")
    host, port = server.get("host", "127.0.0.1"), server.get("port", "5432")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}@{host}:{port}/{opts.db_name}",
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

    from studyapp.models import Item, Role, Stimulus, StimulusTrace, Study, StudyMember
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
    StudyMember.objects.create(study=study, user=staff, role=Role.ANALYST)  # who reads a study's exports
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
            "prolific_status, prolific_problem, language) FROM STDIN"
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
                    json.dumps(plan), 0, True, start, "desktop", "", TRIALS + 3, "", False, "", "", "en",
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
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.get(url, {"format": fmt})
    assert response.status_code == 200, response.status_code
    first_byte = None
    n_bytes = newlines = objects = 0
    for chunk in response.streaming_content:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        n_bytes += len(chunk)
        newlines += chunk.count(b"\n")
        objects += chunk.count(b'{"study":')  # JSON: the writers yield whole rows, each object's first key
    response.close()
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({
        "export": name, "format": fmt, "seconds": seconds, "cpu_s": cpu_s, "first_byte_s": first_byte,
        "bytes": n_bytes, "rows": objects if fmt == "json" else newlines - 1, "rss_before_mb": rss_before,
        "peak_rss_mb": vm_hwm_mb(),
    }))


def run_child(opts: argparse.Namespace, env: dict[str, str], token: str, what: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--db-name", opts.db_name, "--pg", opts.pg, "--measure", what,
         "--token", token],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"export {what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def verdict(results: dict[str, dict], rows: int) -> bool:
    """Print each long export's rate and memory against its target; whether all are met."""
    ok = True
    for what, target in TARGETS_ROWS_PER_S.items():
        r = results[what]
        rate, growth = rows / r["seconds"], r["peak_rss_mb"] - r["rss_before_mb"]
        met = rate >= target and growth <= TARGET_GROWTH_MB
        ok &= met
        print(
            f"{what}: {rate:,.0f} rows/s (target {target:,}); the export's memory {growth:.0f} MB above "
            f"the process's {r['rss_before_mb']:.0f} MB before the request (target <= {TARGET_GROWTH_MB} "
            f"MB): {'OK' if met else 'MISSED'}"
        )
    return ok


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
            long = r["export"] == "responses"
            unit = "response rows" if long else "participant rows"
            n, cpu_s = r["rows"], max(r["cpu_s"], 1e-6)
            print(
                f"{what:20} {n:>9,} {unit} in {r['seconds']:6.2f} s = {n / r['seconds']:>9,.0f} rows/s, "
                f"CPU {r['cpu_s']:5.2f} s = {n / cpu_s:>9,.0f} rows/CPU-s; "
                f"first byte {r['first_byte_s']:.2f} s; {r['bytes'] / 1e6:,.0f} MB sent; "
                f"peak RSS {r['peak_rss_mb']:.0f} MB (before the request {r['rss_before_mb']:.0f} MB)"
            )
            if long and r["rows"] != rows:
                raise RuntimeError(f"{what} gave {r['rows']:,} rows of the {rows:,} loaded")
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 2
    finally:
        if not opts.keep:
            recreate_database(opts, drop_only=True)
    ok = verdict(results, rows)
    if opts.smoke:
        print("Smoke run: every export ran and gave every row; the targets are not judged on so few rows.")
        return 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
