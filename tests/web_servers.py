"""Real servers on 127.0.0.1 for the tests and benchmarks: gunicorn with the repository's
gunicorn.conf.py and nginx with deploy/nginx.conf (the slow-client test, bench/slow_clients.py and
bench/login_flood.py), clients that send their request slowly and then stall, as a bad connection or an
attacker does; and what every local server here shares (a free port, waiting for it, stopping it, a
request handler that answers JSON)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, what: str, log: Path, timeout_s: float = 90) -> None:
    """Until ``url`` answers; RuntimeError with the log's end if the process exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - http on 127.0.0.1
                return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer within {timeout_s:g} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen | None) -> None:
    """Terminate a server process, killing it if it has not ended within 30 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


class JSONHandler(BaseHTTPRequestHandler):
    """A quiet request handler whose answers are JSON (the local stand-ins for outside APIs)."""

    def log_message(self, *args) -> None:
        pass

    def send_json(self, status: int, payload: dict | str, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class Gunicorn:
    """gunicorn tracestudy.wsgi in production mode (DEBUG off) on a SQLite database made here; ``env``
    adds to or overrides the environment (settings such as ARRIVAL_RATE_LIMIT or TRUSTED_PROXIES)."""

    def __init__(self, workdir: Path, workers: int = 2, timeout_s: int = 30, threads: int = 1,
                 env: dict[str, str] | None = None, app_dir: Path = ROOT) -> None:
        """``app_dir``: the checkout to serve (a benchmark compares this one with an earlier commit's)."""
        self.port, self.log, self.app_dir = free_port(), workdir / "gunicorn.log", app_dir
        self.env = {
            **os.environ, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_COOKIES": "0", "WEB_CONCURRENCY": str(workers), "GUNICORN_TIMEOUT": str(timeout_s),
            "GUNICORN_THREADS": str(threads), "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "VAR_DIR": str(workdir), "BEHIND_HTTPS_PROXY": "1", **(env or {}),
        }
        self.env.pop("CELERY_BROKER_URL", None)
        for command in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
            self.manage(*command)
        self.process = subprocess.Popen([str(BIN / "gunicorn"), "tracestudy.wsgi"], cwd=app_dir, env=self.env,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        wait_for(f"http://127.0.0.1:{self.port}/", self.process, "gunicorn", self.log)

    def manage(self, *command: str) -> str:
        """Run a manage.py command on this server's database and settings; its standard output."""
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=self.app_dir, env=self.env,
                              check=True, capture_output=True, text=True, timeout=300)
        return done.stdout

    def stop(self) -> None:
        stop(self.process)


class Nginx:
    """nginx with deploy/nginx.conf's server block, its upstream pointed at ``upstream_port``."""

    def __init__(self, workdir: Path, upstream_port: int) -> None:
        executable = shutil.which("nginx") or "/usr/sbin/nginx"
        self.port, self.log = free_port(), workdir / "nginx-error.log"
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        site = site.replace("server web:8000;", f"server 127.0.0.1:{upstream_port};")
        site = site.replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
        for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (workdir / folder).mkdir(exist_ok=True)
        conf = workdir / "nginx.conf"
        conf.write_text(
            f"worker_processes 1;\npid {workdir / 'nginx.pid'};\nerror_log {self.log} warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"  access_log off;\n  client_body_temp_path {workdir / 'client_body'};\n"
            f"  proxy_temp_path {workdir / 'proxy'};\n  fastcgi_temp_path {workdir / 'fastcgi'};\n"
            f"  uwsgi_temp_path {workdir / 'uwsgi'};\n  scgi_temp_path {workdir / 'scgi'};\n"
            f"{site}\n}}\n"
        )
        command = [executable, "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(f"http://127.0.0.1:{self.port}/", self.process, "nginx", self.log)

    def stop(self) -> None:
        stop(self.process)


@contextmanager
def gunicorn_behind_nginx(workdir: Path, **gunicorn_options: object) -> Iterator[tuple[Gunicorn, Nginx]]:
    """gunicorn (``Gunicorn``'s options) with nginx in front, both stopped on the way out, whatever
    happens (nginx failing to start included)."""
    gunicorn = Gunicorn(workdir, **gunicorn_options)
    try:
        nginx = Nginx(workdir, gunicorn.port)
        try:
            yield gunicorn, nginx
        finally:
            nginx.stop()
    finally:
        gunicorn.stop()


def csrf_cookie(port: int) -> str:
    """The CSRF cookie the login page sets: with it, Django reads a login POST's body (without it,
    it refuses the POST before reading anything)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=30) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    return next(c.split(";", 1)[0] for c in cookies if c.startswith("csrftoken="))


def slow_clients(port: int, count: int, declared: int = 2000, sent: int = 1000) -> list[socket.socket]:
    """``count`` connections, each sending a login POST that declares ``declared`` body bytes and sends
    ``sent`` of them, then nothing: a worker reading that body waits until its timeout."""
    cookie = csrf_cookie(port)
    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(
            f"POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode() + b"x" * sent
        )
        clients.append(client)
    return clients


def page_seconds(port: int, path: str = "/", timeout_s: float = 60) -> float:
    """Seconds a participant waits for a page (its status must be 200), or the timeout as an error."""
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout_s) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
    return time.perf_counter() - start
