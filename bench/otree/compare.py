"""Our participant path against oTree 6.0.15's on the same study and the same load: CPU per participant walk.

What it runs
    ``--pairs`` pairs of runs, alternating: ours (gunicorn ``sync`` x 2 workers, as bench/participants.py
    serves it), then oTree (``otree prodserver``: one process, uvicorn, with its timeout worker, as
    oTree deploys), then ours again ... Each run drops and re-creates its PostgreSQL database, walks
    ``--warmup`` participants untimed, then ``--participants`` at ``--concurrency``, with the same client:
    participants.py's walking (one thread and one cookie jar per participant, every request timed, random
    1-5 answers, the attention checks answered as instructed), its CPU accounting (the server's process
    tree, reaped children included, and the database's PostgreSQL backends, polled) and its checks. The
    oTree side is the demo study mirrored page by page in ``bench/otree/trace_study`` and walked from a
    Prolific-style link, oTree's session-wide link with ``participant_label=<PROLIFIC_PID>``.

What it prints
    Per run and as medians per side: server + PostgreSQL CPU per participant walk (what the app costs,
    wherever the client runs), page submissions per second, the POSTs' client-side p50/p95, the answers
    sent / stored / missing / duplicated / mismatched (read back through SQL: oTree's player table for
    oTree, our Response rows for ours), and the ratio oTree / ours of the CPU per walk.

Run (from the repository root; ``bench/otree/setup.sh`` first, once)::

    .venv/bin/python bench/otree/compare.py                      # 200 walks at concurrency 32, 1 pair
    .venv/bin/python bench/otree/compare.py --pairs 2
    .venv/bin/python bench/otree/compare.py --small               # 4 walks at concurrency 2: a check
    .venv/bin/python bench/otree/compare.py --otree-only --participants 50

Exit status 0 only when every run completed every walk with no error and every answer stored exactly
once with the value sent; 2 when a set-up failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/: participants.py

import participants as bench  # noqa: E402
from participants import (  # noqa: E402
    ATTENTION_ANSWERS,
    ATTENTION_PREFIX,
    HOST,
    BenchError,
    Deadline,
    Options,
    Phase,
    Verification,
    Walk,
    app_environment,
    check_connection_budget,
    compare_answers,
    free_port,
    manage,
    percentile,
    prepare_database,
    recreate_database,
    run_main,
    study_codes,
    verify,
    warm_and_measure,
)

OTREE_VENV = HERE / ".venv"
OTREE_VERSION = "6.0.15"
OTREE_APP = "trace_study"
OTREE_PAGE = re.compile(r"^/p/\w+/study/(\w+)/\d+$")
OTREE_KINDS = {"Consent": "consent", "Instructions": "instructions", "Trial": "trial",
               "Questionnaire": "questionnaire", "Done": "done"}
OTREE_RADIO = re.compile(r'<input[^>]*type="radio"[^>]*>')
NAME_ATTR = re.compile(r'name="(\w+)"')
DATA_STIMULUS = re.compile(r'data-stimulus="(\d+)"')

# The demo study's texts as the oTree app shows them: run in our app's `manage.py shell`.
EXPORT_TEXTS = """
import json
from studyapp.models import Item, Study
from studyapp.rendering import render_trace
study = Study.objects.get(slug="demo")
paragraphs = lambda text: [p.strip() for p in text.split("\\n\\n") if p.strip()]
stimuli = []
for s in study.stimuli.filter(is_practice=False).prefetch_related("traces").order_by("pk"):
    stimuli.append(dict(id=s.pk, code=s.code, facts=list(s.context_facts), question=s.question,
                        answer=s.model_answer, traces={t.condition: str(render_trace(t.text))
                                                       for t in s.traces.all()}))
texts = dict(
    title=study.title, completion_code=study.completion_code, estimated_minutes=study.estimated_minutes,
    trials=study.trials_per_participant,
    consent=paragraphs(study.consent_text), debriefing=paragraphs(study.debriefing_text),
    conditions=[dict(code=c.code, heading=c.trace_heading)
                for c in study.conditions.order_by("position")],
    items=[dict(code=i.code, per_trial=i.scope == Item.Scope.TRIAL)
           for i in study.items.order_by("position")],
    stimuli=stimuli,
)
with open(PATH, "w", encoding="utf8") as handle:
    json.dump(texts, handle)
"""


# ----------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class CompareOptions:
    participants: int
    concurrency: int
    warmup: int
    pairs: int
    otree_only: bool
    workers: int
    time_limit_s: float
    pg_port: int
    pg_user: str
    seed: int | None

    def ours(self) -> Options:
        """participants.py's options for our side (its database: bench_compare_ours)."""
        return Options(
            participants=self.participants, concurrency=self.concurrency, ramp_up_s=0.0, warmup=self.warmup,
            workers=self.workers, worker_class="sync", threads=1, time_limit_s=self.time_limit_s,
            db_name="bench_compare_ours", pg_host=HOST, pg_port=self.pg_port, pg_user=self.pg_user,
            seed=self.seed,
        )

    @property
    def otree_db(self) -> str:
        return "bench_compare_otree"


def parse_options(argv: Sequence[str] | None = None) -> CompareOptions:
    """The command line; ``--small`` is the quick check the tests run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=200, help="walks measured per run [200]")
    parser.add_argument("--concurrency", type=int, default=32, help="participants at once [32]")
    parser.add_argument("--warmup", type=int, default=8, help="walks first, untimed (but verified) [8]")
    parser.add_argument("--pairs", type=int, default=1, help="pairs of runs, ours then oTree [1]")
    parser.add_argument("--small", action="store_true",
                        help="a quick check: 4 walks at concurrency 2, warm-up 1, 1 pair")
    parser.add_argument("--otree-only", action="store_true", help="run only oTree's side")
    parser.add_argument("--workers", type=int, default=2, help="our gunicorn sync workers [2]")
    parser.add_argument("--time-limit", type=float, default=600.0, help="wall-clock limit per run, s [600]")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the answers")
    args = parser.parse_args(argv)
    if args.small:
        args.participants, args.concurrency, args.warmup, args.pairs = 4, 2, 1, 1
    if min(args.participants, args.concurrency, args.pairs, args.workers) < 1 or args.warmup < 0:
        parser.error("--participants, --concurrency, --pairs and --workers must be positive")
    return CompareOptions(
        participants=args.participants, concurrency=args.concurrency, warmup=args.warmup, pairs=args.pairs,
        otree_only=args.otree_only, workers=args.workers, time_limit_s=args.time_limit,
        pg_port=args.pg_port, pg_user=args.pg_user, seed=args.seed,
    )


# ----------------------------------------------------------------------------------------------
# oTree's server


def otree_ready() -> Path:
    """The otree command of bench/otree/.venv, or why it cannot run."""
    command = OTREE_VENV / "bin" / "otree"
    if not command.exists():
        raise BenchError(f"{OTREE_VENV} is missing: run bench/otree/setup.sh first")
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60,
                             cwd=HERE, check=False).stdout.strip()
    if version != OTREE_VERSION:
        raise BenchError(f"bench/otree/.venv has oTree {version or '?'}, not {OTREE_VERSION}: "
                         "run bench/otree/setup.sh")
    return command


class OTreeServer(bench.ServerProcess):
    """``otree prodserver`` (production: OTREE_PRODUCTION=1, OTREE_AUTH_LEVEL=STUDY) in its own process
    group, with participants.Server's interface for the CPU accounting (``process``, ``worker_pids``)."""

    log_name = "oTree log"

    def __init__(self, command: Path, database_url: str, texts: Path, log_dir: Path) -> None:
        self.command = command
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log = log_dir / "otree.log"
        self.rest_key = secrets.token_urlsafe(24)
        env = {k: v for k, v in os.environ.items()
               if k not in ("DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        env.update(
            DATABASE_URL=database_url,
            OTREE_PRODUCTION="1",
            OTREE_AUTH_LEVEL="STUDY",
            OTREE_ADMIN_PASSWORD=secrets.token_urlsafe(16),
            OTREE_SECRET_KEY=secrets.token_urlsafe(32),
            OTREE_REST_KEY=self.rest_key,
            TRACE_STUDY_STIMULI=str(texts),
            # prodserver starts its timeout worker as `otree timeoutsubprocess`, found on PATH
            PATH=f"{command.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, deadline: Deadline) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(self.command), "prodserver", f"{HOST}:{self.port}"], cwd=HERE, env=self.env,
                start_new_session=True, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        wait_until = time.monotonic() + deadline.timeout(120)
        while time.monotonic() < wait_until:
            if self.process.poll() is not None:
                raise BenchError(
                    f"otree prodserver exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                status, _ = self.rest("GET", "/api/otree_version", timeout=2)
            except OSError:
                time.sleep(0.2)
                continue
            if status != 200:
                raise BenchError(f"oTree answered {status} to the readiness probe:\n{self.log_tail()}")
            return
        raise BenchError(f"otree prodserver did not answer within 120 s:\n{self.log_tail()}")

    def rest(
        self, method: str, path: str, payload: dict | None = None, timeout: float = 300
    ) -> tuple[int, str]:
        """oTree's REST API (the key in the otree-rest-key header)."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            body = json.dumps(payload).encode() if payload is not None else None
            connection.request(method, path, body=body, headers={"otree-rest-key": self.rest_key})
            response = connection.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            connection.close()

    def create_session(self, participants: int) -> str:
        """A session for this many participants, as a researcher creates one; its session-wide link's path."""
        status, text = self.rest("POST", "/api/sessions",
                                 {"session_config_name": OTREE_APP, "num_participants": participants})
        if status != 200:
            raise BenchError(f"oTree did not create the session ({status}): {text[:500]}\n{self.log_tail()}")
        return urlsplit(json.loads(text)["session_wide_url"]).path


# ----------------------------------------------------------------------------------------------
# One simulated participant on oTree's pages


def otree_page_kind(url: str) -> str | None:
    """'consent', 'instructions', 'trial', 'questionnaire' or 'done' for an oTree page of the app."""
    match = OTREE_PAGE.match(urlsplit(url).path)
    return OTREE_KINDS.get(match.group(1)) if match else None


class OTreeParticipant(bench.Participant):
    """participants.Participant's walk on oTree's pages: the same requests, answers, timings and checks.

    The entry is oTree's session-wide link with the PROLIFIC_PID as participant label (Prolific adds
    STUDY_ID and SESSION_ID too; oTree keeps only the label); oTree redirects twice (the link, then
    InitializeParticipant) before the first page. Its forms carry no CSRF token and name their fields
    without our ``item-`` prefix; the trial page gives its stimulus in ``data-stimulus``."""

    join_path = ""  # the session's link: set on a subclass per run (see run_otree)

    def enter(self) -> str | None:
        query = urlencode({"participant_label": self.walk.pid, "STUDY_ID": secrets.token_hex(12),
                           "SESSION_ID": secrets.token_hex(8)})
        url = f"{self.base_url}{self.join_path}?{query}"
        for _ in range(2):
            response = self.request("GET", "entry", url)
            if response.status_code not in (302, 303, 307):  # Starlette's RedirectResponse: 307
                self.fail(f"GET entry: HTTP {response.status_code}")
                return None
            url = urljoin(self.base_url, response.location or "")
        return url

    def page_kind(self, url: str) -> str | None:
        return otree_page_kind(url)

    def answers(self, kind: str, html: str) -> dict[str, str] | None:
        """The form data of this page (as participants.Participant.answers), recording every answer sent."""
        if kind == "consent":
            return {"consent": "yes"}
        if kind == "instructions":
            return {}
        data: dict[str, str] = {}
        stimulus: int | None = None
        if kind == "trial":
            found = DATA_STIMULUS.search(html)
            if found is None:
                self.fail("GET trial: no stimulus on the page")
                return None
            stimulus = int(found.group(1))
            visible_ms = self.rng.randint(2000, 60000)
            data["trace_visible_ms"] = str(visible_ms)
            data["trace_end_seen"] = "1"
            data["trace_end_first_seen_ms"] = str(self.rng.randint(500, visible_ms))
            data["trace_end_visible_ms"] = str(self.rng.randint(0, visible_ms))
        names = list(dict.fromkeys(
            named.group(1) for tag in OTREE_RADIO.findall(html) if (named := NAME_ATTR.search(tag))
        ))
        if not names:
            self.fail(f"GET {kind}: no items")
            return None
        for name in names:
            check = f"item-{name}".startswith(ATTENTION_PREFIX)
            value = ATTENTION_ANSWERS[f"item-{name}"] if check else self.rng.randint(1, 5)
            self.walk.attention_checks += check
            data[name] = str(value)
            self.walk.sent[(stimulus, name)] = value
        if kind == "questionnaire" and self.rng.random() < 0.5:
            data["comment"] = f"benchmark comment {self.rng.randint(0, 10**6)}"
        return data


def verify_otree(conninfo: str, walks: list[Walk], items: list[dict]) -> Verification:
    """Compare, per participant, the answers sent with oTree's player rows (one per participant and round,
    one column per item): every answer there once, with the value sent, and nothing else."""
    columns = [item["code"] for item in items]
    per_trial = {item["code"] for item in items if item["per_trial"]}
    query = sql.SQL(
        "SELECT p.label, pl.stimulus, {} FROM trace_study_player pl "
        "JOIN otree_participant p ON p.id = pl.participant_id ORDER BY p.id, pl.round_number"
    ).format(sql.SQL(", ").join(sql.Identifier("pl", c) for c in columns))
    stored: dict[str, dict[tuple[int | None, str], list[int]]] = {}
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(query).fetchall()
        finished = dict(conn.execute(
            "SELECT label, _current_page_name = 'Done' AND _index_in_pages = _max_page_index "
            "FROM otree_participant WHERE label IS NOT NULL"
        ).fetchall())
    stored_count = 0
    for label, stimulus, *values in rows:
        mine = stored.setdefault(label, {})
        for code, value in zip(columns, values, strict=True):
            if value is not None:
                stored_count += 1
                mine.setdefault((stimulus if code in per_trial else None, code), []).append(value)
    return compare_answers(walks, stored, finished, stored_count)


# ----------------------------------------------------------------------------------------------
# A run of either side


@dataclass
class RunFigures:
    side: str
    measured: Phase
    check: Verification
    errors: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(walk.completed for walk in self.measured.walks)

    @property
    def posts(self) -> list[float]:
        return sorted(t.seconds for walk in self.measured.walks for t in walk.timings if t.method == "POST")

    @property
    def server_db_s(self) -> float:
        cpu = self.measured.cpu
        return cpu.server_s + cpu.database_s if cpu else float("nan")

    @property
    def cpu_per_walk_ms(self) -> float:
        return 1000 * self.server_db_s / max(1, self.completed)

    @property
    def submissions_per_s(self) -> float:
        return len(self.posts) / self.measured.wall_s if self.measured.wall_s else float("nan")

    @property
    def answers_per_walk(self) -> float:
        walks = self.measured.walks
        return sum(len(walk.sent) for walk in walks) / max(1, len(walks))

    @property
    def ok(self) -> bool:
        return not self.errors and self.check.ok and self.completed == len(self.measured.walks)


def errors_of(walks: list[Walk]) -> list[str]:
    return [message for walk in walks for message in walk.errors]


def run_ours(opts: CompareOptions, tmp: Path, label: str) -> RunFigures:
    """Our side, as participants.py runs it: fresh database, migrate, seed_demo, gunicorn."""
    ours = opts.ours()
    deadline = Deadline(opts.time_limit_s)
    check_connection_budget(ours)
    env = app_environment(ours, tmp / "var")
    print(f"[{label}] preparing {ours.db_name} (migrate, collectstatic, seed_demo) ...", flush=True)
    prepare_database(ours, env, deadline)
    completion_code, attention_checks = study_codes(ours)
    server = bench.Server(ours, env, tmp)
    try:
        server.start(deadline)
        warm, measured = warm_and_measure(
            server, ours.db_name, completion_code, attention_checks, deadline, warmup=opts.warmup,
            participants=opts.participants, concurrency=opts.concurrency, seed=opts.seed, label=label)
    finally:
        server.stop()
    walks = warm + measured.walks
    return RunFigures("ours", measured, verify(ours, walks), errors_of(walks))


def export_texts(opts: CompareOptions, tmp: Path) -> tuple[Path, dict]:
    """The demo study's texts for the oTree app, from a freshly seeded database of ours."""
    ours = opts.ours()
    deadline = Deadline(opts.time_limit_s)
    env = app_environment(ours, tmp / "var")
    print(f"exporting the demo study's texts for oTree (seeding {ours.db_name}) ...", flush=True)
    prepare_database(ours, env, deadline)
    path = tmp / "trace_study.json"
    manage(env, deadline, "shell", "-c", f"PATH = {str(path)!r}\n{EXPORT_TEXTS}")
    return path, json.loads(path.read_text())


def run_otree(opts: CompareOptions, command: Path, texts_path: Path, texts: dict, tmp: Path,
              label: str) -> RunFigures:
    """oTree's side: fresh database, prodserver, a session for every walk, walked from its session link."""
    deadline = Deadline(opts.time_limit_s)
    db = replace(opts.ours(), db_name=opts.otree_db)
    recreate_database(db)
    # SQLAlchemy 1.3 (oTree's) names the dialect postgresql://
    server = OTreeServer(command, db.database_url.replace("postgres://", "postgresql://", 1), texts_path, tmp)
    print(f"[{label}] starting otree prodserver on {opts.otree_db} ...", flush=True)
    try:
        server.start(deadline)
        join_path = server.create_session(opts.warmup + opts.participants)
        checks = sum(item["code"].startswith("attention_check") for item in texts["items"])
        walk_class = type("OTreeWalk", (OTreeParticipant,), {"join_path": join_path})
        warm, measured = warm_and_measure(
            server, opts.otree_db, texts["completion_code"], checks, deadline,  # type: ignore[arg-type]
            warmup=opts.warmup, participants=opts.participants, concurrency=opts.concurrency,
            seed=opts.seed, label=label, participant_class=walk_class)
    finally:
        server.stop()
    walks = warm + measured.walks
    check = verify_otree(db.pg_bench_conninfo, walks, texts["items"])
    return RunFigures("oTree", measured, check, errors_of(walks))


# ----------------------------------------------------------------------------------------------
# The report


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


HEADER = (f"{'run':<9} {'side':<6} {'walks':>9} {'wall s':>7} {'subm/s':>7} {'POST p50':>9} {'POST p95':>9} "
          f"{'server s':>9} {'PG s':>6} {'CPU/walk ms':>12} {'sent/stored/missing/dup/mism':>30}")


def run_line(name: str, run: RunFigures) -> str:
    cpu = run.measured.cpu
    posts = run.posts
    check = run.check
    answers = f"{check.sent}/{check.stored}/{check.missing}/{check.duplicated}/{check.mismatched}"
    return (f"{name:<9} {run.side:<6} {run.completed:>4}/{len(run.measured.walks):<4} "
            f"{run.measured.wall_s:>7.1f} "
            f"{run.submissions_per_s:>7.1f} {_ms(percentile(posts, 50)):>9} {_ms(percentile(posts, 95)):>9} "
            f"{cpu.server_s if cpu else float('nan'):>9.2f} {cpu.database_s if cpu else float('nan'):>6.2f} "
            f"{run.cpu_per_walk_ms:>12.1f} {answers:>30}")


def print_run(name: str, run: RunFigures) -> None:
    cpu = run.measured.cpu
    print(HEADER)
    print(run_line(name, run))
    if cpu is not None:
        before, after = run.measured.reference_ms
        print(f"          client {cpu.client_s:.1f} core-s, PostgreSQL background {cpu.background_s:.1f}, "
              f"other (not ours) {cpu.other_s:.1f}; {run.measured.backends_closed} backends closed; "
              f"machine speed {before:.0f}/{after:.0f} ms; {run.answers_per_walk:.0f} answers per walk")
    for message in sorted(set(run.errors))[:5]:
        print(f"          error: {run.errors.count(message)} x {message}")
    if run.check.unexpected or run.check.not_completed or run.check.unknown_participants:
        print(f"          stored but never sent {run.check.unexpected}, not completed "
              f"{run.check.not_completed}, participants nobody simulated {run.check.unknown_participants}")
    print(f"          {'OK' if run.ok else 'FAILED'}", flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(runs: list[RunFigures], opts: CompareOptions) -> bool:
    print()
    print(f"{opts.participants} walks per run at concurrency {opts.concurrency} (warm-up {opts.warmup}); "
          f"ours: gunicorn sync x {opts.workers} workers; oTree {OTREE_VERSION}: otree prodserver "
          f"(1 process + its timeout worker); both on PostgreSQL; {os.cpu_count()} cores")
    print(HEADER)
    for i, run in enumerate(runs, start=1):
        print(run_line(f"run {i}", run))
    print()
    print(f"{'medians':<9} {'side':<6} {'runs':>4} {'CPU/walk ms':>12} {'server ms':>10} {'PG ms':>7} "
          f"{'subm/s':>7} {'POST p50':>9} {'POST p95':>9}")
    by_side: dict[str, list[RunFigures]] = {}
    for run in runs:
        by_side.setdefault(run.side, []).append(run)
    medians: dict[str, float] = {}
    for side, mine in by_side.items():
        medians[side] = median([r.cpu_per_walk_ms for r in mine])
        server_ms = median([1000 * r.measured.cpu.server_s / max(1, r.completed)
                            for r in mine if r.measured.cpu])
        db_ms = median([1000 * r.measured.cpu.database_s / max(1, r.completed)
                        for r in mine if r.measured.cpu])
        print(f"{'':<9} {side:<6} {len(mine):>4} {medians[side]:>12.1f} {server_ms:>10.1f} {db_ms:>7.1f} "
              f"{median([r.submissions_per_s for r in mine]):>7.1f} "
              f"{_ms(median([percentile(r.posts, 50) for r in mine])):>9} "
              f"{_ms(median([percentile(r.posts, 95) for r in mine])):>9}")
    if "ours" in medians and "oTree" in medians:
        pairs = [o.cpu_per_walk_ms / u.cpu_per_walk_ms
                 for u, o in zip(by_side["ours"], by_side["oTree"], strict=False) if u.cpu_per_walk_ms]
        print(f"server + PostgreSQL CPU per participant walk, oTree / ours: "
              f"{medians['oTree'] / medians['ours']:.2f}x (medians; per pair: "
              f"{', '.join(f'{r:.2f}x' for r in pairs)})")
        mismatch = {r.answers_per_walk for r in runs}
        if len(mismatch) > 1:
            print(f"WARNING: the two sides' walks sent different numbers of answers: {sorted(mismatch)}")
            return False
    speeds = [ms for run in runs for ms in run.measured.reference_ms if ms > 0]
    if speeds and max(speeds) > 1.25 * min(speeds):
        print(f"WARNING: the machine's speed drifted (reference loop {min(speeds):.0f} to "
              f"{max(speeds):.0f} ms): trust the pairs whose runs had similar speeds")
    ok = all(run.ok for run in runs)
    print("RESULT: " + ("OK" if ok else "FAILED"))
    return ok


def run(opts: CompareOptions) -> bool:
    command = otree_ready()
    runs: list[RunFigures] = []
    with tempfile.TemporaryDirectory(prefix="bench-otree-") as tmp_name:
        tmp = Path(tmp_name)
        texts_path, texts = export_texts(opts, tmp)
        for pair in range(1, opts.pairs + 1):
            sides = ["oTree"] if opts.otree_only else ["ours", "oTree"]
            for side in sides:
                label = f"run {len(runs) + 1}: {side}"
                run_dir = tmp / f"run{len(runs) + 1}"
                run_dir.mkdir()
                if side == "ours":
                    figures = run_ours(opts, run_dir, label)
                else:
                    figures = run_otree(opts, command, texts_path, texts, run_dir, label)
                print_run(f"run {len(runs) + 1}", figures)
                runs.append(figures)
            print(f"pair {pair} of {opts.pairs} done", flush=True)
    return report(runs, opts)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_options(argv)
    return run_main(lambda: run(opts))


if __name__ == "__main__":
    sys.exit(main())
