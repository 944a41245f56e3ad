"""CPU cost of one participant's walk through the study, in-process: no HTTP, no gunicorn, no client.

The load benchmark (participants.py) shares two cores between the client, gunicorn and PostgreSQL
on a machine whose speed drifts, so its throughput moves by 20% between runs. This script walks the
same participants (the same walk, answers and checks) one after another through Django's WSGI
handler and reports what the app itself costs: CPU per walk and per request kind, the PostgreSQL
backend's CPU per walk, and SQL queries per walk. The process is prepared as gunicorn's master
prepares a worker (tracestudy.prefork: templates compiled, the collector's objects frozen). For a
figure stable to about 1%, count instructions with ``perf`` over two lengths; both include the set-up
(migrate, seed), so the difference divided by 40 is the instructions of one walk::

    perf stat -e instructions:u -- .venv/bin/python bench/walk_cpu.py --participants 5
    perf stat -e instructions:u -- .venv/bin/python bench/walk_cpu.py --participants 45

It drops and re-creates its PostgreSQL database (``bench_walk_cpu`` by default) like participants.py.
Exit status 0 when every walk completed with its answers stored exactly once.
"""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from participants import (
    HOST,
    REPO,
    BackendSampler,
    BenchError,
    Deadline,
    Participant,
    Reply,
    Walk,
    app_environment,
    new_walks,
    page_kind,
    parse_options,
    prepare_database,
    study_codes,
    verify,
)

BASE_URL = f"http://{HOST}:8000"


@dataclass
class Tally:
    """Per method and page kind ("POST trial"): requests, CPU seconds of this thread, SQL queries."""

    requests: Counter = field(default_factory=Counter)
    cpu_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    queries: Counter = field(default_factory=Counter)


class WsgiBrowser:
    """participants.Browser's interface, calling the WSGI application in this process.

    Counts requests, this thread's CPU time and the SQL queries, per method and page kind.
    """

    def __init__(self, application: object, tally: Tally) -> None:
        self.application = application
        self.cookies: dict[str, str] = {}
        self.tally = tally

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Reply:
        from django.db import connection

        parts = urlsplit(url)
        body = urlencode(data).encode() if data is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
            "SERVER_NAME": HOST, "SERVER_PORT": "8000", "HTTP_HOST": f"{HOST}:8000",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": HOST, "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "CONTENT_LENGTH": str(len(body)),
        }
        if data is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply: dict[str, object] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
            reply["status"], reply["headers"] = int(status.split()[0]), headers

        kind = f"{method} {page_kind(url) or 'entry'}"
        executed = 0

        def count(execute, sql, params, many, context):
            nonlocal executed
            executed += 1
            return execute(sql, params, many, context)

        start = time.thread_time()
        with connection.execute_wrapper(count):
            text = b"".join(self.application(environ, start_response)).decode()  # type: ignore[operator]
        self.tally.requests[kind] += 1
        self.tally.cpu_s[kind] += time.thread_time() - start
        self.tally.queries[kind] += executed
        headers: list[tuple[str, str]] = reply["headers"]  # type: ignore[assignment]
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookie, _, rest = value.partition("=")
                self.cookies[cookie.strip()] = rest.split(";", 1)[0]
        location = next((v for k, v in headers if k.lower() == "location"), None)
        return Reply(int(reply["status"]), location, text)  # type: ignore[arg-type]


def walk_all(walks: list[Walk], completion_code: str, application: object, seed: int | None) -> Tally:
    tally = Tally()
    rng = random.Random(seed)
    for walk in walks:
        participant = Participant(BASE_URL, walk, rng, completion_code, threading.Event())
        participant.browser = WsgiBrowser(application, tally)  # type: ignore[assignment]
        participant.run()
    return tally


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--db-name" or a.startswith("--db-name=") for a in argv):
        argv += ["--db-name", "bench_walk_cpu"]
    opts = parse_options(argv, description=__doc__, any_checkout=False)
    deadline = Deadline(opts.time_limit_s)
    with tempfile.TemporaryDirectory(prefix="bench-walk-cpu-") as tmp:
        env = app_environment(opts, Path(tmp) / "var")
        print(f"preparing database {opts.db_name!r} (migrate, collectstatic, seed_demo) ...")
        try:
            prepare_database(opts, env, deadline)
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2
        completion_code, _checks = study_codes(opts)
        os.environ.update(env)
        sys.path.insert(0, str(REPO))
        from django.core.wsgi import get_wsgi_application
        from django.db import connection

        from tracestudy.prefork import prepare_workers

        application = get_wsgi_application()
        prepare_workers()  # as gunicorn's master does before it forks a worker (gunicorn.conf.py)
        warm = new_walks(opts.warmup, timed=False)
        walk_all(warm, completion_code, application, opts.seed)
        measured = new_walks(opts.participants, timed=True)
        # The database's backends, polled: a connection Django closes past CONN_MAX_AGE still counts.
        # The app's CPU is this thread's, without the sampler's.
        sampler, app_before = BackendSampler(opts.db_name), time.thread_time()
        tally = walk_all(
            measured, completion_code, application, None if opts.seed is None else opts.seed + 1
        )
        app_s, database_s = time.thread_time() - app_before, sampler.stop()
        connection.close()
        check = verify(opts, warm + measured)

    n = opts.participants
    print(f"\n{n} walks, one after another, in-process (warm-up {opts.warmup})")
    print(f"app CPU per walk            {1000 * app_s / n:6.1f} ms")
    print(f"PostgreSQL CPU per walk     {1000 * database_s / n:6.1f} ms")
    print(f"SQL queries per walk        {sum(tally.queries.values()) / n:6.1f}   "
          "(BEGIN, COMMIT and the per-request connection check not counted)")
    print("per request                   CPU ms  queries")
    for kind, requests in tally.requests.most_common():
        cpu_ms, queries = 1000 * tally.cpu_s[kind] / requests, tally.queries[kind] / requests
        print(f"  {kind:<26} {cpu_ms:6.2f}  {queries:6.1f}")
    errors = [message for walk in warm + measured for message in walk.errors]
    print(f"errors                      {len(errors)}")
    print(f"answers sent / stored / missing / duplicated / mismatched: "
          f"{check.sent} / {check.stored} / {check.missing} / {check.duplicated} / {check.mismatched}")
    ok = not errors and check.ok and all(walk.completed for walk in measured)
    print("RESULT: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
