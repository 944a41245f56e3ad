"""How long a participant waits for a page while clients hold the server with slow, stalled uploads:
gunicorn alone (the repository's gunicorn.conf.py, 2 sync workers) against gunicorn behind nginx
(deploy/nginx.conf), in the same run, alternating.

Each slow client sends a login POST that declares 1,000 more body bytes than it sends, then waits.
For each number of slow clients the participant's GET of the home page is timed (seconds; "failed"
when it did not come back with a 200 within --timeout).

    .venv/bin/python bench/slow_clients.py [--rounds 2] [--timeout 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.web_servers import gunicorn_behind_nginx, page_seconds, slow_clients


def timed(port: int, holders: int, holder_port: int, timeout_s: float) -> float | None:
    held = slow_clients(holder_port, holders) if holders else []
    try:
        return page_seconds(port, "/", timeout_s=timeout_s)
    except OSError:
        return None
    finally:
        for client in held:
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a participant waits at most")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, gunicorn_behind_nginx(
        Path(tmp), workers=2, timeout_s=30
    ) as (gunicorn, nginx):
        results: dict[tuple[str, int], list[float | None]] = {}
        for _ in range(opts.rounds):
            for holders in (0, 2, 50):
                for name, port in (("gunicorn alone", gunicorn.port), ("behind nginx", nginx.port)):
                    if name == "gunicorn alone" and holders == 50:
                        continue  # 25 rounds of its 30 s timeout; 2 already show it
                    waited = timed(port, holders, port, opts.timeout)
                    results.setdefault((name, holders), []).append(waited)
    print(f"participant's page while slow clients hang ({opts.rounds} rounds, timeout {opts.timeout:g} s)")
    print(f"{'server':<16} {'slow clients':>12} {'median s':>10} {'failed':>7}")
    for (name, holders), values in results.items():
        served = [v for v in values if v is not None]
        median = f"{statistics.median(served):.3f}" if served else "-"
        print(f"{name:<16} {holders:>12} {median:>10} {len(values) - len(served):>7}")


if __name__ == "__main__":
    main()
