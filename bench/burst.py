"""A study's launch: many Prolific arrivals within a few seconds, at the entry page, over HTTP.

When a study goes live on Prolific, hundreds of participants open its link within seconds. Each new
arrival is allocated under the study's row lock (studyapp/allocation.py), so arrivals queue behind
each other and behind the CPU they share. This benchmark sets the demo study's target so that the
arrivals fill it exactly (500 arrivals, 4 conditions x 125 by default), sends the arrivals at evenly
spaced moments over ``--seconds`` (one thread each, so a slow server does not slow the arrivals
down), and reports

* the entry page's latency (p50/p95/p99/max) as the arrivals saw it and as gunicorn logged it,
* errors: anything but a redirect to the participant's first page, or (for the ``--over`` arrivals
  beyond the places) the study-full page with ``X-Study-Status: full``,
* the balance, read back through SQL: participants per condition, which must be exactly the target,
  and no PROLIFIC_PID twice,
* the CPU of gunicorn and of the database's PostgreSQL backends per arrival (participants.py's
  accounting: backends that close mid-run still count).

It uses participants.py's set-up (a re-created database, ``seed_demo``, gunicorn on 127.0.0.1) and
its server options::

    .venv/bin/python bench/burst.py                                  # 500 arrivals in 2 s
    .venv/bin/python bench/burst.py --arrivals 40 --seconds 0.5 --over 4   # the small mode CI runs

Exit status 0 when every arrival got what it should, the conditions are exactly balanced and the
entry p95 (client) is under ``--p95-limit`` seconds when one is given; 1 otherwise; 2 when set-up
failed.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from participants import (
    GET_KINDS,
    STUDY_SLUG,
    BackendSampler,
    Browser,
    CpuSnapshot,
    CpuUse,
    Deadline,
    Options,
    Server,
    app_environment,
    check_connection_budget,
    latency_table,
    page_kind,
    parse_options,
    percentile,
    prepare_database,
    run_main,
    server_samples,
)

CONDITIONS = 4  # the demo study's


@dataclass
class Arrival:
    pid: str
    over: bool  # beyond the places: must find the study full
    seconds: float | None = None
    error: str | None = None


@dataclass
class Burst:
    arrivals: list[Arrival]
    wall_s: float = 0.0
    cpu: CpuUse | None = None
    late_starts: int = 0  # arrivals the client itself started more than 50 ms late


def parse(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--arrivals", type=int, default=500,
                        help="arrivals that fill the study exactly (a multiple of 4) [500]")
    parser.add_argument("--seconds", type=float, default=2.0, help="spread over this many seconds [2]")
    parser.add_argument("--over", type=int, default=0,
                        help="arrivals beyond the places, sent last, which must find the study full [0]")
    parser.add_argument("--p95-limit", type=float, default=None, metavar="SECONDS",
                        help="fail when the entry page's p95 (client) is not under this")
    ours, rest = parser.parse_known_args(argv)
    if ours.arrivals < CONDITIONS or ours.arrivals % CONDITIONS or ours.seconds < 0 or ours.over < 0:
        parser.error(f"--arrivals must be a positive multiple of {CONDITIONS}; --seconds and --over "
                     "not negative")
    opts = parse_options(
        [*rest, "--participants", str(ours.arrivals + ours.over), "--warmup", "0"]
        + ([] if any(a.startswith("--db-name") for a in rest) else ["--db-name", "bench_burst"]),
        description=__doc__,
    )
    return opts, ours


def arrive(base_url: str, arrival: Arrival) -> None:
    """One arrival through the Prolific link: timed from the request's start to its answer."""
    link = (f"{base_url}/study/{STUDY_SLUG}/?PROLIFIC_PID={arrival.pid}"
            f"&STUDY_ID={secrets.token_hex(12)}&SESSION_ID={secrets.token_hex(8)}")
    start = time.perf_counter()
    try:
        reply = Browser().request("GET", link)
    except OSError as exc:
        arrival.error = type(exc).__name__
        return
    arrival.seconds = time.perf_counter() - start
    if arrival.over:
        if reply.status_code != 200 or reply.study_status != "full":
            arrival.error = (f"beyond the places: HTTP {reply.status_code}, "
                             f"X-Study-Status {reply.study_status}")
    elif reply.status_code not in (302, 303) or page_kind(reply.location or "") != "consent":
        arrival.error = f"HTTP {reply.status_code} (X-Study-Status {reply.study_status}), not to consent"


def send(base_url: str, burst: Burst, seconds: float) -> None:
    """Start each arrival at its moment, one thread each; then, once all have been answered, the ones
    beyond the places (sent with the others, one of them could take a place first)."""
    arrivals = [a for a in burst.arrivals if not a.over]
    n = len(arrivals)
    threads = []
    start = time.perf_counter()
    for i, arrival in enumerate(arrivals):
        due = start + seconds * i / max(1, n - 1)
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.05:
            burst.late_starts += 1
        thread = threading.Thread(target=arrive, args=(base_url, arrival), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=60)
    burst.wall_s = time.perf_counter() - start
    for arrival in burst.arrivals:
        if arrival.over:
            arrive(base_url, arrival)


@dataclass
class Balance:
    per_condition: Counter
    participants: int
    distinct_pids: int


def balance(opts: Options) -> Balance:
    with psycopg.connect(opts.pg_bench_conninfo) as conn:
        rows = conn.execute(
            "SELECT c.code, count(*) FROM studyapp_participant p JOIN studyapp_condition c "
            "ON c.id = p.condition_id GROUP BY c.code"
        ).fetchall()
        totals = conn.execute(
            "SELECT count(*), count(DISTINCT prolific_pid) FROM studyapp_participant"
        ).fetchone()
    assert totals is not None
    return Balance(Counter(dict(rows)), int(totals[0]), int(totals[1]))


def report(
    opts: Options, ours: argparse.Namespace, server: Server, burst: Burst, found: Balance, log_offset: int
) -> bool:
    target = ours.arrivals // CONDITIONS
    times = sorted(a.seconds for a in burst.arrivals if a.seconds is not None and not a.over)
    errors = Counter(a.error for a in burst.arrivals if a.error)
    print()
    print(f"{opts.app_dir}: gunicorn {opts.worker_class}, {opts.workers} workers; {ours.arrivals} arrivals "
          f"({CONDITIONS} x {target}) + {ours.over} beyond the places, over {ours.seconds:g} s")
    print(f"sent over                   {burst.wall_s:.2f} s (until the last answer); "
          f"{burst.late_starts} arrivals started over 50 ms late by this client")
    for line in latency_table("entry (client)", {"entry": times}, ("entry",))[:2]:
        print(line)
    for line in latency_table("entry (server)", server_samples(server.access_log, log_offset).get("GET", {}),
                              GET_KINDS)[:2]:
        print(line)
    if burst.cpu is not None:
        cpu = burst.cpu
        n = len(burst.arrivals)
        print(f"CPU: gunicorn {cpu.server_s:.2f} s, PostgreSQL backends {cpu.database_s:.2f} s, this client "
              f"{cpu.client_s:.2f} s, other processes {cpu.other_s:.2f} s")
        print(f"  server + database CPU per arrival: {1000 * (cpu.server_s + cpu.database_s) / n:.1f} ms")
    print(f"participants per condition  {dict(sorted(found.per_condition.items()))} (target {target})")
    balanced = (sorted(found.per_condition.values()) == [target] * CONDITIONS
                and found.participants == found.distinct_pids == ours.arrivals)
    print(f"exact balance               {'yes' if balanced else 'NO'}; participants {found.participants}, "
          f"distinct PIDs {found.distinct_pids}")
    print(f"errors                      {sum(errors.values())}")
    for message, count in errors.most_common(10):
        print(f"  {count:>5} x {message}")
    p95 = percentile(times, 95)
    fast_enough = ours.p95_limit is None or p95 < ours.p95_limit
    if not fast_enough:
        print(f"entry p95 {p95:.3f} s is not under --p95-limit {ours.p95_limit:g} s")
    ok = balanced and not errors and len(times) == ours.arrivals and fast_enough
    print("RESULT: " + ("OK" if ok else "FAILED"))
    return ok


def run(opts: Options, ours: argparse.Namespace) -> bool:
    deadline = Deadline(opts.time_limit_s)
    check_connection_budget(opts)
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        tmp_dir = Path(tmp)
        env = app_environment(opts, tmp_dir / "var")
        print(f"preparing database {opts.db_name!r} (migrate, collectstatic, seed_demo) ...")
        prepare_database(opts, env, deadline, target=ours.arrivals // CONDITIONS)
        server = Server(opts, env, tmp_dir)
        burst = Burst([Arrival(secrets.token_hex(12), over=False) for _ in range(ours.arrivals)]
                      + [Arrival(secrets.token_hex(12), over=True) for _ in range(ours.over)])
        try:
            server.start(deadline)
            print(f"gunicorn up at {server.base_url}; sending {len(burst.arrivals)} arrivals ...")
            time.sleep(0.5)
            access_log_start = server.access_log.stat().st_size if server.access_log.exists() else 0
            before = CpuSnapshot.take(server, opts.db_name)
            sampler = BackendSampler(opts.db_name)
            send(server.base_url, burst, ours.seconds)
            database_s = sampler.stop()
            burst.cpu = CpuUse.between(before, CpuSnapshot.take(server, opts.db_name), database_s)
            time.sleep(0.3)  # the last access-log lines
        finally:
            server.stop()
        return report(opts, ours, server, burst, balance(opts), access_log_start)


def main(argv: Sequence[str] | None = None) -> int:
    opts, ours = parse(argv)
    return run_main(lambda: run(opts, ours))


if __name__ == "__main__":
    sys.exit(main())
