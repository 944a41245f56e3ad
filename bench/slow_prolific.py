"""How long participants already in the study wait for their pages while new arrivals wait on a hanging
Prolific: gunicorn with the repository's configuration (2 sync workers, the cache in Redis as in
production) on SQLite, and the local Prolific stand-in (tests/prolific_server.py), which answers normally
while the enrolled participants arrive, then not at all. Every ``--every`` seconds ``--arrivals`` new
participants arrive at once; each enrolled participant reloads their page every ``--pace`` seconds.

The issue measured, before the door check was bounded: with 2 arrivals waiting, an enrolled participant
waited 28 s for a page; with 5 behind nginx, 62 s, and arrivals got 500s. Give ``--app-dir`` a checkout of
an earlier commit (``git worktree add /tmp/before <commit>``) to run it side by side; several are run in
turn, alternating, ``--rounds`` times. ``--cache-url ''`` runs with each worker's own memory as the cache
(the demo's), where each worker makes its own door check.

    .venv/bin/python bench/slow_prolific.py [--seconds 30] [--app-dir . --app-dir /tmp/before]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from tests.prolific_server import FakeProlific
from tests.web_servers import ROOT, Gunicorn

TOKEN = "bench-prolific-token-0123456789"  # noqa: S105 - the local stand-in's
STUDY_ID = "BENCHSTUDY1"


@dataclass
class Waits:
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def line(self, what: str) -> str:
        kinds = f" {sorted(set(self.failures))[:3]}" if self.failures else ""
        if not self.seconds:
            return f"{what:<28} none answered; failures={len(self.failures)}{kinds}"
        ms = sorted(1000 * s for s in self.seconds)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        return (f"{what:<28} n={len(ms):<5} p50={statistics.median(ms):8.0f} ms  p95={p95:8.0f} ms  "
                f"max={ms[-1]:8.0f} ms  failures={len(self.failures)}{kinds}")


def browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def timed(opener: urllib.request.OpenerDirector, url: str, waits: Waits, timeout_s: float) -> str | None:
    """GET (following redirects); record the wait or the failure; the final URL."""
    start = time.perf_counter()
    try:
        with opener.open(url, timeout=timeout_s) as response:
            response.read()
            waits.seconds.append(time.perf_counter() - start)
            return response.url
    except urllib.error.HTTPError as error:
        waits.failures.append(str(error.code))
    except OSError as error:
        waits.failures.append(type(error).__name__)
    return None


def run(app_dir: Path, opts: argparse.Namespace) -> None:
    prolific = FakeProlific(TOKEN)
    if opts.cache_url:  # an empty database of its own: no pause or slot left from an earlier run
        import redis

        redis.Redis.from_url(opts.cache_url).flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        server = Gunicorn(Path(tmp), workers=opts.workers, app_dir=app_dir, env={
            "PROLIFIC_API_TOKEN": TOKEN, "PROLIFIC_API_URL": prolific.url, "ARRIVAL_RATE_LIMIT": "100000/m",
            "CACHE_URL": opts.cache_url})
        try:
            server.manage("seed_demo")
            server.manage("shell", "-c", "from studyapp.models import Study; "
                          f"Study.objects.filter(slug='demo').update(prolific_study_id='{STUDY_ID}', "
                          "target_per_condition=100000)")
            base = f"http://127.0.0.1:{server.port}/study/demo/"

            def link(pid: str) -> str:
                return base + "?" + urllib.parse.urlencode(
                    {"PROLIFIC_PID": pid, "STUDY_ID": STUDY_ID, "SESSION_ID": f"session-{pid}"})

            people = []
            for _ in range(opts.enrolled):  # Prolific answers: they are checked and verified at the door
                pid = secrets.token_hex(12)
                prolific.add(STUDY_ID, f"session-{pid}", pid)
                opener = browser()
                with opener.open(link(pid), timeout=60) as response:
                    people.append((opener, response.url))
            prolific.hang = True
            stop = threading.Event()
            page_waits, arrival_waits = Waits(), Waits()
            arrivals: list[threading.Thread] = []

            def arrive_in_waves() -> None:
                while not stop.is_set():
                    wave = [threading.Thread(target=timed, args=(browser(), link(secrets.token_hex(12)),
                                                                 arrival_waits, 90))
                            for _ in range(opts.arrivals)]
                    for thread in wave:
                        thread.start()
                    arrivals.extend(wave)
                    stop.wait(opts.every)

            def keep_reading(opener: urllib.request.OpenerDirector, page: str) -> None:
                while not stop.is_set():
                    timed(opener, page, page_waits, timeout_s=90)
                    stop.wait(opts.pace)

            threads = [threading.Thread(target=arrive_in_waves)]
            threads += [threading.Thread(target=keep_reading, args=person) for person in people]
            for thread in threads:
                thread.start()
            time.sleep(opts.seconds)
            stop.set()
            for thread in threads + arrivals:
                thread.join(timeout=120)
            door_checks = sum("/submissions/session-" in r for r in prolific.requests) - opts.enrolled
            cache = "Redis" if opts.cache_url else "each worker's memory"
            print(f"{app_dir}: {opts.seconds:g} s, {opts.workers} sync workers, cache in {cache}; "
                  f"{opts.arrivals} arrivals every {opts.every:g} s, {opts.enrolled} enrolled participants "
                  f"reloading every {opts.pace:g} s")
            print("  " + page_waits.line("enrolled participants' pages"))
            print("  " + arrival_waits.line("arrivals (to the consent page)"))
            print(f"  door checks sent to the hanging Prolific: {door_checks}")
        finally:
            prolific.close()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long Prolific hangs [30]")
    parser.add_argument("--arrivals", type=int, default=5, help="new participants arriving at once [5]")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between waves of arrivals [3]")
    parser.add_argument("--enrolled", type=int, default=4, help="participants in the study, reloading [4]")
    parser.add_argument("--pace", type=float, default=0.25, help="seconds between their reloads [0.25]")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers [2]")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/15",
                        help="the cache, as CACHE_URL (flushed!); '' for each worker's memory [%(default)s]")
    parser.add_argument("--app-dir", type=Path, action="append",
                        help="a checkout to serve; repeat to compare, run in turn [this one]")
    parser.add_argument("--rounds", type=int, default=1, help="times each checkout is run, alternating [1]")
    opts = parser.parse_args()
    for _ in range(opts.rounds):
        for app_dir in opts.app_dir or [ROOT]:
            run(app_dir.resolve(), opts)


if __name__ == "__main__":
    main()
