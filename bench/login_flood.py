"""How long a participant waits for a page while clients flood the admin login with wrong passwords,
with the login limits on (django-axes; nginx's limit_req in front): gunicorn with the repository's
configuration (2 sync workers) on SQLite, alone and behind deploy/nginx.conf, no flood against 4
flooding clients, alternating.

Each flooding client posts wrong passwords for one account as fast as the server answers. Without
limits every attempt costs a password hash (about 0.1 s of CPU), so four clients kept the workers busy
(the issue measured a participant's page go from 13 ms to 1,353 ms); with them, after 10 failures the
flooding address is locked (the account is not: the admin still logs in from elsewhere) and an attempt
costs no hash.

    .venv/bin/python bench/login_flood.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.web_servers import ROOT, csrf_cookie, gunicorn_behind_nginx, page_seconds


def flood(port: int, cookie: str, stop: threading.Event, counts: list[int]) -> None:
    """Wrong passwords for "admin" until stopped. The CSRF cookie is fetched once, before any lockout:
    a locked address gets 429 for the login page too, which stopped the flood of every later phase."""
    token = cookie.split("=", 1)[1]
    form = {"username": "admin", "password": "wrong", "csrfmiddlewaretoken": token}
    body = urllib.parse.urlencode(form).encode()
    while not stop.is_set():
        request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/login/", data=body,
                                         headers={"Cookie": cookie, "Referer": f"http://127.0.0.1:{port}/"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                response.read()
        except OSError:
            pass  # 429 when locked out: still a request answered
        counts.append(1)


def participant_ms(port: int, seconds: float) -> list[float]:
    end, waits = time.monotonic() + seconds, []
    while time.monotonic() < end:
        waits.append(1000 * page_seconds(port, "/"))
        time.sleep(0.05)
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--app-dir", type=Path, default=ROOT,
                        help="the checkout to serve, e.g. a worktree of an earlier commit [this one]")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, gunicorn_behind_nginx(
        Path(tmp), workers=2, app_dir=opts.app_dir.resolve()
    ) as (server, proxy):
        rows = []
        cookies = {port: csrf_cookie(port) for port in (server.port, proxy.port)}
        for _ in range(2):
            for name, port in (("gunicorn alone", server.port), ("behind nginx", proxy.port)):
                for flooders in (0, 4):
                    stop, counts = threading.Event(), []
                    threads = [threading.Thread(target=flood, args=(port, cookies[port], stop, counts))
                               for _ in range(flooders)]
                    for thread in threads:
                        thread.start()
                    waits = participant_ms(port, opts.seconds)
                    stop.set()
                    for thread in threads:
                        thread.join()
                    rows.append((name, flooders, statistics.median(waits), max(waits),
                                 len(counts) / opts.seconds))
    print(f"{opts.app_dir.resolve()}: participant's page while the admin login is flooded (limits on; "
          f"{opts.seconds:g} s a phase)")
    print(f"{'server':<16} {'flooding clients':>16} {'median ms':>10} {'max ms':>8} {'attempts/s':>11}")
    for name, flooders, median, worst, rate in rows:
        print(f"{name:<16} {flooders:>16} {median:>10.1f} {worst:>8.1f} {rate:>11.1f}")


if __name__ == "__main__":
    main()
