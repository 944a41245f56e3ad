"""Load benchmark: many simulated Prolific participants walking the demo study at once, over HTTP.

What it measures
    Each simulated participant (one thread, its own cookies) arrives through the Prolific
    link and walks the whole study as a browser would: consent, instructions, every trial, the end
    questionnaire and the done page. It GETs each page, then POSTs the page's answers with the CSRF
    token (random 1-5 values, the two attention checks answered as instructed, the reading
    measures the page's script would send) and follows the redirect by hand, so every request is
    timed on its own. The report gives

    * completed participants, page submissions (POSTs), submissions per second (POSTs divided by
      the wall time of the driving phase; warm-up participants excluded),
    * p50/p95/p99 latency of the POSTs per page kind (consent, instructions, trial, questionnaire)
      and overall, and the same for the GETs, both as the client saw them and as gunicorn logged
      them (server time, which excludes waiting in the listen backlog and the client's own delays),
    * how the machine's CPU time was split between this client, gunicorn (workers that max_requests
      retired counted too), the PostgreSQL backends of its database, PostgreSQL's shared background
      processes (reported apart, not charged to the walks) and the rest,
      because on a small machine the client competes with the server for the same cores,
    * errors: any status other than the expected 200/302/303, exceptions, a redirect that does not
      move on, a missing completion code at the end, not exactly the study's attention checks (two
      in the demo),
    * a check through SQL that every answer sent is stored exactly once with the value sent, and
      that every participant completed: answers sent / stored / missing / duplicated / mismatched.

How it runs
    It drops and re-creates a PostgreSQL database (``bench_participants`` by default; left in place
    afterwards for inspection), runs ``migrate``, ``collectstatic`` (``DEBUG=0`` uses the manifest
    storage) and ``seed_demo`` against it, raises the demo study's target so that every simulated
    participant gets a slot, starts gunicorn on a free port of 127.0.0.1 and always stops it at the
    end (also on Ctrl-C or when the wall-clock limit is reached). No traffic leaves 127.0.0.1.

Run (from the repository root)::

    .venv/bin/python bench/participants.py --participants 200 --concurrency 32
    .venv/bin/python bench/participants.py --participants 200 --concurrency 32 --ramp-up 1
    .venv/bin/python bench/participants.py --worker-class gthread --workers 3 --threads 4

The exit status is 0 only when there were no errors and no lost, duplicated or changed answers.
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STUDY_SLUG = "demo"
HOST = "127.0.0.1"
ATTENTION_PREFIX = "item-attention_check"
# the default questionnaire's checks (studyapp/questionnaire.py) and what each instructs; the demo
# shows both, on different trials
ATTENTION_ANSWERS = {"item-attention_check_1": 2, "item-attention_check_2": 4}
POST_KINDS = ("consent", "instructions", "trial", "questionnaire")
GET_KINDS = ("entry", "consent", "instructions", "trial", "questionnaire", "done")
MAX_PAGES = 60  # far more than any study has; stops a participant stuck in a redirect loop
REQUEST_TIMEOUT_S = 30.0

PAGE_PATH = re.compile(r"/study/[-\w]+/p/[0-9a-f-]{36}/([-\w]+)/$")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ITEM_INPUT = re.compile(r'<input type="radio" name="(item-[-\w]+)"')
STIMULUS_INPUT = re.compile(r'name="stimulus" value="(\d+)"')
COMPLETION_CODE = re.compile(r'class="completion-code">([^<]+)<')
DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# (stimulus id or None for the end questionnaire, item code) -> value
AnswerKey = tuple[int | None, str]


class BenchError(Exception):
    """Setting up the benchmark failed (database, migrations, server start)."""


# ----------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class Options:
    participants: int
    concurrency: int
    ramp_up_s: float
    warmup: int
    workers: int
    worker_class: str
    threads: int
    time_limit_s: float
    db_name: str
    pg_host: str
    pg_port: int
    pg_user: str
    seed: int | None
    port: int = 0  # gunicorn's port on 127.0.0.1; 0: a free one
    app_dir: Path = REPO  # the checkout served (an earlier commit's, to compare)

    @property
    def pg_admin_conninfo(self) -> str:
        return f"host={self.pg_host} port={self.pg_port} user={self.pg_user} dbname=postgres"

    @property
    def pg_bench_conninfo(self) -> str:
        return f"host={self.pg_host} port={self.pg_port} user={self.pg_user} dbname={self.db_name}"

    @property
    def database_url(self) -> str:
        return f"postgres://{self.pg_user}@{self.pg_host}:{self.pg_port}/{self.db_name}"

    @property
    def server_connections(self) -> int:
        """Database connections gunicorn may hold: one per worker thread (persistent connections)."""
        return self.workers * (self.threads if self.worker_class == "gthread" else 1)


def parse_options(argv: Sequence[str] | None = None, description: str | None = None,
                  any_checkout: bool = True) -> Options:
    """The benchmark's options; ``any_checkout``: it serves a checkout it is given (walk_cpu.py runs this
    one's code in its own process, so it takes no --app-dir)."""
    parser = argparse.ArgumentParser(description=(description or __doc__ or "").split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=200, help="participants measured [200]")
    parser.add_argument("--concurrency", type=int, default=32, help="participants at once [32]")
    parser.add_argument(
        "--ramp-up", type=float, default=0.0, metavar="SECONDS",
        help="spread the first arrivals of the concurrent participants evenly over this many seconds "
        "(0: all at once, like a study's launch) [0]",
    )
    parser.add_argument(
        "--warmup", type=int, default=8, help="participants walked first, not timed (but verified) [8]"
    )
    # sync x 2 (one per core) measured best on the 2-core machine: the app is CPU-bound there;
    # see bench/README.md
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes [2]")
    parser.add_argument(
        "--worker-class", choices=("sync", "gthread"), default="sync", help="gunicorn worker [sync]"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker [4]")
    parser.add_argument(
        "--time-limit", type=float, default=600.0, help="wall-clock limit of the whole run, s [600]"
    )
    parser.add_argument("--db-name", default="bench_participants", help="database (dropped!) [%(default)s]")
    parser.add_argument("--pg-host", default=HOST, choices=(HOST,), help="PostgreSQL host [%(default)s]")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the answers")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 [a free one]")
    if any_checkout:
        parser.add_argument("--app-dir", type=Path, default=REPO,
                            help="the checkout to serve, e.g. a worktree of an earlier commit [this one]")
    args = parser.parse_args(argv)
    if args.participants < 1 or args.concurrency < 1 or args.warmup < 0 or args.ramp_up < 0:
        parser.error("--participants and --concurrency must be positive, --warmup and --ramp-up not negative")
    if args.workers < 1 or args.threads < 1 or args.time_limit <= 0:
        parser.error("--workers, --threads and --time-limit must be positive")
    if not DB_NAME.match(args.db_name) or args.db_name in ("postgres", "template0", "template1"):
        parser.error("--db-name must be a plain lower-case identifier, not a system database")
    return Options(
        participants=args.participants,
        concurrency=args.concurrency,
        ramp_up_s=args.ramp_up,
        warmup=args.warmup,
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
        time_limit_s=args.time_limit,
        db_name=args.db_name,
        pg_host=args.pg_host,
        pg_port=args.pg_port,
        pg_user=args.pg_user,
        seed=args.seed,
        port=args.port,
        app_dir=args.app_dir.resolve() if any_checkout else REPO,
    )


class Deadline:
    """The wall-clock limit of the whole run."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return self.left() <= 0.0

    def timeout(self, cap: float) -> float:
        """A timeout for one step: at most `cap`, never past the deadline (and never zero)."""
        left = self.left()
        if left <= 0.0:
            raise BenchError("the wall-clock limit was reached")
        return min(cap, left)


# ----------------------------------------------------------------------------------------------
# Database and app setup


def site_package(app_dir: Path) -> str:
    """The package holding the settings and the WSGI application of the checkout served: ``tracestudy``,
    or ``studyapp`` in commits before 2026-12-06, so that --app-dir serves those too."""
    return "tracestudy" if (app_dir / "tracestudy" / "settings.py").exists() else "studyapp"


def app_environment(opts: Options, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=f"{site_package(opts.app_dir)}.settings",
        DATABASE_URL=opts.database_url,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_COOKIES="0",
        ALLOWED_HOSTS=HOST,
        VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # every simulated participant arrives from 127.0.0.1; the default allows 10 an hour
        ARRIVAL_RATE_LIMIT="1000000/s",
    )
    return env


def check_connection_budget(opts: Options) -> None:
    """Refuse a gunicorn configuration that could hold more connections than PostgreSQL allows."""
    with psycopg.connect(opts.pg_admin_conninfo, autocommit=True) as conn:
        max_row = conn.execute("SHOW max_connections").fetchone()
        used_row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        used = used_row.fetchone()
    assert max_row is not None and used is not None
    available = int(max_row[0]) - int(used[0]) - 5  # room for migrate, the checks, superuser slots
    if opts.server_connections > available:
        raise BenchError(
            f"gunicorn could open {opts.server_connections} database connections "
            f"(workers x threads), but PostgreSQL has only about {available} free"
        )


def recreate_database(opts: Options) -> None:
    drop_database(opts)
    with psycopg.connect(opts.pg_admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(opts.db_name)))


def drop_database(opts: Options) -> None:
    with psycopg.connect(opts.pg_admin_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(opts.db_name)))


def manage(env: dict[str, str], deadline: Deadline, *args: str, app_dir: Path = REPO) -> str:
    command = [sys.executable, str(app_dir / "manage.py"), *args]
    try:
        done = subprocess.run(
            command, cwd=app_dir, env=env, capture_output=True, text=True, timeout=deadline.timeout(300),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"manage.py {args[0]} took too long") from exc
    if done.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare_database(
    opts: Options, env: dict[str, str], deadline: Deadline, target: int | None = None
) -> None:
    """The demo study in a new database, with ``target`` participants per condition (by default more
    than the run brings, so that every simulated participant gets a place)."""
    recreate_database(opts)
    manage(env, deadline, "migrate", "--noinput", "-v", "0", app_dir=opts.app_dir)
    manage(env, deadline, "collectstatic", "--noinput", "-v", "0", app_dir=opts.app_dir)
    manage(env, deadline, "seed_demo", app_dir=opts.app_dir)
    if target is None:
        target = opts.participants + opts.warmup  # per condition: more than enough for any balance
    manage(
        env, deadline, "shell", "-c",
        "from studyapp.models import Study; "
        f"n = Study.objects.filter(slug={STUDY_SLUG!r}).update(target_per_condition={target}); "
        "assert n == 1, 'no demo study'",
        app_dir=opts.app_dir,
    )


def study_codes(opts: Options) -> tuple[str, int]:
    """The demo study's completion code and the attention checks a participant meets, read from the
    database: the demo shows each of its check items once (one before 2026-11-29, two since), so that an
    earlier commit served with --app-dir is checked against its own."""
    with psycopg.connect(opts.pg_bench_conninfo) as conn:
        row = conn.execute(
            "SELECT s.completion_code, (SELECT count(*) FROM studyapp_item i WHERE i.study_id = s.id "
            "AND i.construct = 'attention_check') FROM studyapp_study s WHERE s.slug = %s",
            (STUDY_SLUG,),
        ).fetchone()
    if row is None:
        raise BenchError("the demo study is missing after seeding")
    return str(row[0]), int(row[1])


# ----------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server run as a child process in its own process group: its process tree (for the CPU
    accounting), its stop whatever happens, and the tail of its log (``log``, named ``log_name``)."""

    process: subprocess.Popen[bytes] | None = None
    log: Path
    log_name = "server log"

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        return [self.process.pid, *children_of(self.process.pid)]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no {self.log_name})"


class Server(ServerProcess):
    """gunicorn as a child process in its own process group, stopped in `stop()` whatever happens."""

    log_name = "gunicorn error log"

    def __init__(self, opts: Options, env: dict[str, str], log_dir: Path) -> None:
        self.opts = opts
        self.env = env
        self.port = opts.port or free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.access_log = log_dir / "access.log"
        self.error_log = self.log = log_dir / "error.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        command = [
            str(BIN / "gunicorn"), f"{site_package(self.opts.app_dir)}.wsgi",
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(self.opts.workers),
            "--worker-class", self.opts.worker_class,
            "--timeout", "30",
            "--graceful-timeout", "5",
            "--no-control-socket",
            "--access-logfile", str(self.access_log),
            # method, path, status, request time in microseconds (measured inside the worker)
            "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
            "--error-logfile", str(self.error_log),
        ]
        if self.opts.worker_class == "gthread":
            command += ["--threads", str(self.opts.threads)]
        return command

    def start(self, deadline: Deadline) -> None:
        self.process = subprocess.Popen(
            self.command(), cwd=self.opts.app_dir, env=self.env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until = time.monotonic() + deadline.timeout(60)
        while time.monotonic() < wait_until:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                # No PROLIFIC_PID: the app answers 400 with a rendered page and creates nothing.
                response = Browser(timeout=2).request("GET", f"{self.base_url}/study/{STUDY_SLUG}/")
            except OSError:
                time.sleep(0.2)
                continue
            if response.status_code != 400:
                raise BenchError(f"the app answered {response.status_code} to the readiness probe")
            return
        raise BenchError(f"gunicorn did not answer within 60 s:\n{self.log_tail()}")



# ----------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc): who used the cores while the participants were driven


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG_POLL_S = 0.2  # how often BackendSampler reads the database's backends


def children_of(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.name))
    return pids


def process_cpu_s(pids: Iterable[int], reaped_of: int | None = None) -> dict[int, float]:
    """CPU seconds of each process; for ``reaped_of`` (gunicorn's master) also its children that have
    exited and been waited for: workers that max_requests retired mid-run keep counting."""
    cpu = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        if pid == reaped_of:
            ticks += int(fields[13]) + int(fields[14])  # cutime + cstime: its reaped children
        cpu[pid] = ticks / CLOCK_TICKS
    return cpu


def machine_busy_s() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS  # user..steal; guest time is inside user


def postgres_pids(db_name: str, background: bool = False) -> list[int]:
    """The PostgreSQL backends connected to `db_name` (not other databases'); with ``background``,
    instead the server's shared processes (checkpointer, WAL writer, autovacuum launcher ...), which
    work for every database and are reported apart."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        is_backend = re.search(r"\(\d+\)|\[local\]", cmdline) is not None
        if (not is_backend) if background else db_name in cmdline.split():
            pids.append(int(entry.name))
    return pids


class BackendSampler:
    """The CPU of the PostgreSQL backends connected to one database, polled every `interval_s` from
    /proc, keeping the last value seen of each backend.

    A backend's CPU can be read only while it runs, and nobody waits for it but the postmaster, whose
    reaped-children total mixes every database's. Read only at the start and the end of a run, the
    backends that closed meanwhile (a worker retired by max_requests, a connection past CONN_MAX_AGE)
    fell out: 3.5 ms per walk instead of 16.5 in the issue's pair of runs. Polled, a closed backend keeps the
    CPU of its last poll; at most `interval_s` of its work goes uncounted. Backends present at the
    start count from their CPU then; those that appear later count from 0."""

    def __init__(self, db_name: str, interval_s: float = PG_POLL_S) -> None:
        self.db_name = db_name
        self.interval_s = interval_s
        self.start_s: dict[int, float] = process_cpu_s(postgres_pids(db_name))
        self.last_s: dict[int, float] = dict(self.start_s)
        self.retired_s = 0.0  # backends whose pid a later backend took over
        self.closed = 0  # backends seen that were gone at the end
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pg-cpu-sampler")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def poll(self) -> None:
        """One reading of every backend of the database."""
        for pid, seconds in process_cpu_s(postgres_pids(self.db_name)).items():
            if pid not in self.last_s:
                self.start_s[pid] = 0.0
            elif seconds < self.last_s[pid]:  # the pid was reused by a new backend
                self.retired_s += self.last_s[pid] - self.start_s[pid]
                self.start_s[pid] = 0.0
            self.last_s[pid] = seconds

    def stop(self) -> float:
        """Stop polling after a last reading; the backends' CPU seconds since the sampler started."""
        self._stop.set()
        self._thread.join()
        self.poll()
        alive = set(postgres_pids(self.db_name))
        self.closed = sum(pid not in alive for pid in self.last_s)
        return self.retired_s + sum(t - self.start_s[pid] for pid, t in self.last_s.items())


@dataclass(frozen=True)
class CpuSnapshot:
    machine_s: float
    client_s: float
    server_s: dict[int, float]
    background_s: dict[int, float]

    @classmethod
    def take(cls, server: Server, db_name: str) -> CpuSnapshot:
        times = os.times()
        master = server.process.pid if server.process is not None else None
        return cls(
            machine_busy_s(),
            times.user + times.system,
            process_cpu_s(server.worker_pids(), reaped_of=master),
            process_cpu_s(postgres_pids(db_name, background=True)),
        )


def _grown(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


@dataclass(frozen=True)
class CpuUse:
    machine_s: float
    client_s: float
    server_s: float
    database_s: float
    background_s: float  # PostgreSQL's shared processes: not charged to the walks

    @property
    def other_s(self) -> float:
        """Everything else the machine did meanwhile: other people's jobs, the kernel's own work."""
        ours = self.client_s + self.server_s + self.database_s + self.background_s
        return max(0.0, self.machine_s - ours)

    @classmethod
    def between(cls, before: CpuSnapshot, after: CpuSnapshot, database_s: float) -> CpuUse:
        """``database_s``: the database's backends, from a BackendSampler running between the two."""
        return cls(
            after.machine_s - before.machine_s,
            after.client_s - before.client_s,
            _grown(before.server_s, after.server_s),
            database_s,
            _grown(before.background_s, after.background_s),
        )


# ----------------------------------------------------------------------------------------------
# One simulated participant


@dataclass
class Timing:
    method: str
    kind: str
    seconds: float


@dataclass
class Walk:
    pid: str
    timed: bool
    sent: dict[AnswerKey, int] = field(default_factory=dict)
    timings: list[Timing] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: bool = False
    attention_checks: int = 0


def page_kind(url: str) -> str | None:
    """'consent', 'instructions', 'trial', 'questionnaire' or 'done' for a participant page URL."""
    match = PAGE_PATH.search(urlsplit(url).path)
    if match is None:
        return None
    page = match.group(1)
    return "trial" if page.startswith("trial-") else page


@dataclass(frozen=True)
class Reply:
    status_code: int
    location: str | None
    text: str
    study_status: str | None = None  # the X-Study-Status header: why an arrival was not taken


class Browser:
    """The little of a browser the walk needs: cookies, form posts, no redirects followed.

    Plain ``http.client`` rather than ``requests``: the client shares the server's two cores, and
    ``requests`` spent about three times the CPU per request (2.3 against 0.8 ms). gunicorn's sync
    workers close every connection, so each request opens its own, as through a proxy without
    keep-alive.
    """

    def __init__(self, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Reply:
        parts = urlsplit(url)
        if parts.hostname != HOST or parts.port is None:
            raise ValueError(f"refusing to leave {HOST}: {url}")
        headers = {"Host": parts.netloc}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            return Reply(response.status, response.getheader("Location"), text,
                         response.getheader("X-Study-Status"))
        finally:
            connection.close()


class Participant:
    """Walks one participant through the study with its own cookies, timing every request."""

    def __init__(
        self, base_url: str, walk: Walk, rng: random.Random, completion_code: str, stop: threading.Event,
        attention_checks: int = len(ATTENTION_ANSWERS),
    ) -> None:
        self.base_url = base_url
        self.walk = walk
        self.rng = rng
        self.completion_code = completion_code
        self.attention_checks = attention_checks
        self.stop = stop
        self.browser = Browser()

    def request(self, method: str, kind: str, url: str, data: dict[str, str] | None = None) -> Reply:
        start = time.perf_counter()
        response = self.browser.request(method, url, data)
        if self.walk.timed:
            self.walk.timings.append(Timing(method, kind, time.perf_counter() - start))
        return response

    def fail(self, message: str) -> None:
        self.walk.errors.append(message)

    def run(self) -> None:
        try:
            self._run()
        except (OSError, http.client.HTTPException) as exc:
            self.fail(f"{type(exc).__name__}")

    def enter(self) -> str | None:
        """Arrive by the study's Prolific link; the first page's URL, or None (and an error)."""
        entry = (
            f"{self.base_url}/study/{STUDY_SLUG}/?PROLIFIC_PID={self.walk.pid}"
            f"&STUDY_ID={secrets.token_hex(12)}&SESSION_ID={secrets.token_hex(8)}"
        )
        response = self.request("GET", "entry", entry)
        if response.status_code not in (302, 303):
            self.fail(f"GET entry: HTTP {response.status_code}")
            return None
        return urljoin(self.base_url, response.location or "")

    def page_kind(self, url: str) -> str | None:
        """Which page of the walk a URL is (another platform's walk names its own pages)."""
        return page_kind(url)

    def _run(self) -> None:
        url = self.enter()
        if url is None:
            return
        for _ in range(MAX_PAGES):
            if self.stop.is_set():
                return self.fail("stopped at the wall-clock limit")
            kind = self.page_kind(url)
            if kind is None:
                return self.fail(f"redirected off the study: {urlsplit(url).path}")
            response = self.request("GET", kind, url)
            if response.status_code != 200:
                return self.fail(f"GET {kind}: HTTP {response.status_code}")
            if kind == "done":
                return self.finish(response.text)
            data = self.answers(kind, response.text)
            if data is None:
                return
            response = self.request("POST", kind, url, data)
            if response.status_code not in (302, 303):
                return self.fail(f"POST {kind}: HTTP {response.status_code}")
            next_url = urljoin(self.base_url, response.location or "")
            if next_url == url:
                return self.fail(f"POST {kind}: the page did not move on")
            url = next_url
        return self.fail(f"more than {MAX_PAGES} pages")

    def answers(self, kind: str, html: str) -> dict[str, str] | None:
        """The form data for this page; records every answer as sent. None (and an error) if unusable."""
        token = CSRF_INPUT.search(html)
        if token is None:
            self.fail(f"GET {kind}: no CSRF token in the form")
            return None
        data = {"csrfmiddlewaretoken": token.group(1)}
        if kind == "consent":
            data["consent"] = "yes"
            return data
        if kind == "instructions":
            return data
        stimulus: int | None = None
        if kind == "trial":
            found = STIMULUS_INPUT.search(html)
            if found is None:
                self.fail("GET trial: no stimulus field")
                return None
            stimulus = int(found.group(1))
            data["stimulus"] = found.group(1)
            # what the page's script measures in a browser
            visible_ms = self.rng.randint(2000, 60000)
            data["trace_visible_ms"] = str(visible_ms)
            data["trace_end_seen"] = "1"
            data["trace_end_first_seen_ms"] = str(self.rng.randint(500, visible_ms))
            data["trace_end_visible_ms"] = str(self.rng.randint(0, visible_ms))
        names = list(dict.fromkeys(ITEM_INPUT.findall(html)))
        if not names:
            self.fail(f"GET {kind}: no items")
            return None
        for name in names:
            value = ATTENTION_ANSWERS[name] if name.startswith(ATTENTION_PREFIX) else self.rng.randint(1, 5)
            self.walk.attention_checks += name.startswith(ATTENTION_PREFIX)
            data[name] = str(value)
            self.walk.sent[(stimulus, name.removeprefix("item-"))] = value
        if kind == "questionnaire" and self.rng.random() < 0.5:
            data["comment"] = f"benchmark comment {self.rng.randint(0, 10**6)}"
        return data

    def finish(self, html: str) -> None:
        code = COMPLETION_CODE.search(html)
        if code is None:
            return self.fail("done page without a completion code")
        if code.group(1) != self.completion_code:
            return self.fail(f"done page shows code {code.group(1)!r}, not the completion code")
        expected = self.attention_checks
        if self.walk.attention_checks != expected:
            return self.fail(f"saw {self.walk.attention_checks} attention checks, not {expected}")
        self.walk.completed = True


# ----------------------------------------------------------------------------------------------
# Driving many participants


@dataclass
class Phase:
    walks: list[Walk]
    wall_s: float
    cpu: CpuUse | None = None
    log_offset: int = 0
    reference_ms: tuple[float, float] = (0.0, 0.0)  # the machine's speed before and after
    backends_closed: int = 0  # PostgreSQL backends of the database that closed during the phase


def reference_loop_ms(repeats: int = 5) -> float:
    """A fixed pure-Python loop, best of `repeats`: how fast this machine runs Python right now.

    The same code ran twice as fast on one day as on another on this kind of machine; figures from
    runs whose reference differs are not comparable."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def drive(
    base_url: str,
    walks: list[Walk],
    concurrency: int,
    completion_code: str,
    seed: int | None,
    deadline: Deadline,
    label: str,
    ramp_up_s: float = 0.0,
    attention_checks: int = len(ATTENTION_ANSWERS),
    participant_class: type[Participant] = Participant,
) -> float:
    """Walk all `walks` with `concurrency` threads, each walk by a `participant_class`; return the wall
    time. Stops at the deadline.

    With `ramp_up_s`, thread i of n starts its first walk i/n of the way into the ramp-up.
    Started all at once, the threads walk in step: walks of equal length end together, so the next
    participants arrive in bursts of `concurrency` for the rest of the run."""
    todo: queue.SimpleQueue[tuple[Walk, int]] = queue.SimpleQueue()
    master = random.Random(seed)
    for walk in walks:
        todo.put((walk, master.getrandbits(64)))
    stop = threading.Event()

    def worker(delay_s: float) -> None:
        stop.wait(delay_s)
        while not stop.is_set():
            try:
                walk, walk_seed = todo.get_nowait()
            except queue.Empty:
                return
            participant_class(
                base_url, walk, random.Random(walk_seed), completion_code, stop, attention_checks
            ).run()

    n_threads = min(concurrency, len(walks))
    threads = [
        threading.Thread(target=worker, args=(ramp_up_s * i / n_threads,), daemon=True)
        for i in range(n_threads)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    next_report = start + 5.0
    try:
        while any(thread.is_alive() for thread in threads):
            if deadline.expired():
                stop.set()
                break
            time.sleep(0.2)
            if time.perf_counter() >= next_report:
                finished = sum(w.completed or bool(w.errors) for w in walks)
                print(f"  [{label}] {time.perf_counter() - start:5.1f} s: {finished}/{len(walks)} done")
                next_report += 5.0
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)
    wall = time.perf_counter() - start
    if deadline.expired():
        for walk in walks:
            if not walk.completed and not walk.errors:
                walk.errors.append("not finished within the wall-clock limit")
    return wall


# ----------------------------------------------------------------------------------------------
# Statistics and the report


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_table(title: str, samples: dict[str, list[float]], kinds: Sequence[str]) -> list[str]:
    lines = [f"{title:<22} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
    everything: list[float] = []
    for kind in (*kinds, "all"):
        values = sorted(everything) if kind == "all" else sorted(samples.get(kind, []))
        if kind != "all":
            everything.extend(values)
        if not values:
            continue
        row = [percentile(values, q) * 1000 for q in (50, 95, 99)] + [values[-1] * 1000]
        lines.append(f"  {kind:<20} {len(values):>6} " + " ".join(f"{v:>8.1f}" for v in row))
    return lines


def server_samples(access_log: Path, offset: int) -> dict[str, dict[str, list[float]]]:
    """method -> page kind -> server-side request times (s) from gunicorn's access log."""
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    try:
        with access_log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return samples
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        method, path, _status, micros = parts
        kind = page_kind(path) or ("entry" if path == f"/study/{STUDY_SLUG}/" else "other")
        samples[method][kind].append(int(micros) / 1e6)
    return samples


@dataclass
class Verification:
    sent: int = 0
    stored: int = 0
    missing: int = 0
    duplicated: int = 0
    mismatched: int = 0
    unexpected: int = 0
    not_completed: int = 0
    unknown_participants: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.missing or self.duplicated or self.mismatched or self.unexpected
            or self.not_completed or self.unknown_participants
        ) and self.sent == self.stored


def verify(opts: Options, walks: list[Walk]) -> Verification:
    """Compare, per participant, the answers sent with the Response rows stored."""
    stored: dict[str, dict[AnswerKey, list[int]]] = defaultdict(lambda: defaultdict(list))
    with psycopg.connect(opts.pg_bench_conninfo) as conn:
        rows = conn.execute(
            "SELECT p.prolific_pid, r.stimulus_id, i.code, r.value "
            "FROM studyapp_response r "
            "JOIN studyapp_participant p ON p.id = r.participant_id "
            "JOIN studyapp_item i ON i.id = r.item_id"
        ).fetchall()
        statuses = dict(conn.execute("SELECT prolific_pid, status FROM studyapp_participant").fetchall())
    for pid, stimulus_id, code, value in rows:
        stored[pid][(stimulus_id, code)].append(value)
    completed = {pid: status == "completed" for pid, status in statuses.items()}
    return compare_answers(walks, stored, completed, len(rows))


def compare_answers(walks: list[Walk], stored: Mapping[str, Mapping[AnswerKey, list[int]]],
                    completed: Mapping[str, bool], stored_count: int) -> Verification:
    """Every answer each participant sent against those stored for them (by PID, then (stimulus, item)),
    and whether each finished; ``completed`` names every participant the database holds."""
    result = Verification(stored=stored_count)
    result.unknown_participants = len(set(completed) - {walk.pid for walk in walks})
    for walk in walks:
        result.sent += len(walk.sent)
        mine = stored.get(walk.pid, {})
        for key, value in walk.sent.items():
            values = mine.get(key, [])
            if not values:
                result.missing += 1
            elif any(v != value for v in values):
                result.mismatched += 1
        result.duplicated += sum(len(values) - 1 for values in mine.values())
        result.unexpected += sum(1 for key in mine if key not in walk.sent)
        if not completed.get(walk.pid):
            result.not_completed += 1
    return result


def report(
    opts: Options, server: Server, measured: Phase, all_walks: list[Walk], check: Verification
) -> bool:
    walks = measured.walks
    timings = [t for walk in walks for t in walk.timings]
    client: dict[str, dict[str, list[float]]] = {"POST": defaultdict(list), "GET": defaultdict(list)}
    for t in timings:
        client[t.method][t.kind].append(t.seconds)
    posts = sum(len(v) for v in client["POST"].values())
    gets = sum(len(v) for v in client["GET"].values())
    errors = Counter(message for walk in all_walks for message in walk.errors)
    completed = sum(walk.completed for walk in walks)
    wall = measured.wall_s

    config = f"{opts.worker_class}, {opts.workers} workers"
    if opts.worker_class == "gthread":
        config += f" x {opts.threads} threads"
    print()
    arrivals = f"first arrivals over {opts.ramp_up_s:g} s" if opts.ramp_up_s else "first arrivals at once"
    print(f"{opts.app_dir}: gunicorn {config}; {opts.participants} participants, concurrency "
          f"{opts.concurrency} ({arrivals}), warm-up {opts.warmup}")
    print(f"completed participants      {completed} / {len(walks)}")
    print(f"page submissions (POSTs)    {posts}   (GETs {gets})")
    print(f"driving phase wall time     {wall:.2f} s")
    print(f"page submissions per second {posts / wall:.1f}   (all requests {(posts + gets) / wall:.1f}/s)")
    print()
    for line in latency_table("POST latency (client)", client["POST"], POST_KINDS):
        print(line)
    for line in latency_table("GET latency (client)", client["GET"], GET_KINDS):
        print(line)
    server_side = server_samples(server.access_log, measured.log_offset)
    for line in latency_table("POST time (server)", server_side.get("POST", {}), POST_KINDS):
        print(line)
    for line in latency_table("GET time (server)", server_side.get("GET", {}), GET_KINDS):
        print(line)
    if measured.cpu is not None and wall > 0:
        cpu = measured.cpu
        cores = os.cpu_count() or 1
        print()
        print(f"CPU during the driving phase ({cores} cores = {cores * wall:.1f} core-s available):")
        for name, seconds in (
            ("machine busy", cpu.machine_s),
            ("this client", cpu.client_s),
            ("gunicorn", cpu.server_s),
            ("PostgreSQL backends", cpu.database_s),
            ("PostgreSQL background", cpu.background_s),
            ("other (not ours)", cpu.other_s),
        ):
            share = 100 * seconds / (cores * wall)
            print(f"  {name:<20} {seconds:7.1f} core-s  {share:5.1f} % of the machine")
        print(f"  PostgreSQL backends: polled every {PG_POLL_S:g} s; {measured.backends_closed} closed "
              "during the run (counted up to their last poll)")
        print(f"  machine speed: a reference Python loop took {measured.reference_ms[0]:.0f} ms before "
              f"and {measured.reference_ms[1]:.0f} ms after (compare runs only at similar speeds)")
        if cpu.other_s > 0.1 * cores * wall:
            print(f"  WARNING: processes outside this benchmark used {cpu.other_s:.1f} core-s; "
                  "the figures understate what the app can do on an idle machine")
        server_cpu = cpu.server_s + cpu.database_s
        if posts and server_cpu > 0:
            per_walk_ms = 1000 * server_cpu / max(1, completed)
            print(f"  server + database CPU per participant walk: {per_walk_ms:.1f} ms "
                  f"({1000 * server_cpu / posts:.1f} ms per submission incl. its GETs)")
            print(f"  => with all {cores} cores for the server (client elsewhere): about "
                  f"{posts * cores / server_cpu:.0f} submissions/s at full CPU")
    print()
    print(f"errors                      {sum(errors.values())}")
    for message, count in errors.most_common(10):
        print(f"  {count:>5} x {message}")
    print(f"answers sent / stored / missing / duplicated / mismatched: "
          f"{check.sent} / {check.stored} / {check.missing} / {check.duplicated} / {check.mismatched}")
    if check.unexpected or check.not_completed or check.unknown_participants:
        print(f"  stored but never sent: {check.unexpected}; participants not completed in the database: "
              f"{check.not_completed}; participants nobody simulated: {check.unknown_participants}")
    ok = not errors and check.ok and completed == len(walks)
    print("RESULT: " + ("OK" if ok else "FAILED"))
    return ok


# ----------------------------------------------------------------------------------------------


def new_walks(n: int, timed: bool) -> list[Walk]:
    return [Walk(pid=secrets.token_hex(12), timed=timed) for _ in range(n)]


def warm_and_measure(
    server: Server, db_name: str, completion_code: str, attention_checks: int, deadline: Deadline, *,
    warmup: int, participants: int, concurrency: int, seed: int | None, ramp_up_s: float = 0.0,
    label: str = "", participant_class: type[Participant] = Participant,
) -> tuple[list[Walk], Phase]:
    """The warm-up walks, then the measured ones, with the server's and PostgreSQL's CPU around them (a
    server of another platform needs ``base_url``, ``process`` and ``worker_pids()``)."""
    warm = new_walks(warmup, timed=False)
    if warm:
        drive(server.base_url, warm, min(concurrency, warmup), completion_code, seed, deadline,
              f"{label} warm-up".strip(), attention_checks=attention_checks,
              participant_class=participant_class)
    measured = Phase(walks=new_walks(participants, timed=True), wall_s=0.0)
    time.sleep(0.5)  # let the access log of the warm-up settle
    access_log = getattr(server, "access_log", None)
    measured.log_offset = access_log.stat().st_size if access_log and access_log.exists() else 0
    reference_before = reference_loop_ms()
    before = CpuSnapshot.take(server, db_name)
    sampler = BackendSampler(db_name)
    measured.wall_s = drive(
        server.base_url, measured.walks, concurrency, completion_code, None if seed is None else seed + 1,
        deadline, label or "measured", ramp_up_s, attention_checks, participant_class,
    )
    database_s = sampler.stop()
    measured.cpu = CpuUse.between(before, CpuSnapshot.take(server, db_name), database_s)
    measured.backends_closed = sampler.closed
    measured.reference_ms = (reference_before, reference_loop_ms())
    return warm, measured


def run(opts: Options) -> bool:
    deadline = Deadline(opts.time_limit_s)
    check_connection_budget(opts)
    with tempfile.TemporaryDirectory(prefix="bench-participants-") as tmp:
        tmp_dir = Path(tmp)
        env = app_environment(opts, tmp_dir / "var")
        print(f"preparing database {opts.db_name!r} (migrate, collectstatic, seed_demo) ...")
        prepare_database(opts, env, deadline)
        completion_code, attention_checks = study_codes(opts)
        server = Server(opts, env, tmp_dir)
        try:
            server.start(deadline)
            print(f"gunicorn up at {server.base_url} ({' '.join(server.command()[1:8])} ...)")
            warm, measured = warm_and_measure(
                server, opts.db_name, completion_code, attention_checks, deadline, warmup=opts.warmup,
                participants=opts.participants, concurrency=opts.concurrency, seed=opts.seed,
                ramp_up_s=opts.ramp_up_s,
            )
            time.sleep(0.3)  # the last access-log lines
        finally:
            server.stop()
        all_walks = warm + measured.walks
        check = verify(opts, all_walks)
        return report(opts, server, measured, all_walks, check)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_main(run_benchmark: Callable[[], bool]) -> int:
    """Exit status of a benchmark run: 0 when it met its checks, 1 when not, 130 when interrupted, 2 when
    it failed. Ctrl-C and SIGTERM both end the run through the `finally` that stops gunicorn, also when
    the shell started us with SIGINT ignored (a background job)."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return 0 if run_benchmark() else 1
    except KeyboardInterrupt:
        print("\ninterrupted; gunicorn stopped", file=sys.stderr)
        return 130
    except (BenchError, psycopg.Error) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_options(argv)
    return run_main(lambda: run(opts))


if __name__ == "__main__":
    sys.exit(main())
