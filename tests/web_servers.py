"""gunicorn with the repository's gunicorn.conf.py and nginx with deploy/nginx.conf, started for real on
127.0.0.1 (for the slow-client test and bench/slow_clients.py), and clients that send their request
slowly and then stall, as a bad connection or an attacker does."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - http on 127.0.0.1
                return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer within 90 s:\n{log.read_text()[-3000:]}")


class Gunicorn:
    """gunicorn studyapp.wsgi in production mode (DEBUG off) on a SQLite database made here."""

    def __init__(self, workdir: Path, workers: int = 2, timeout_s: int = 30) -> None:
        self.port, self.log = free_port(), workdir / "gunicorn.log"
        self.env = {
            **os.environ, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_COOKIES": "0", "WEB_CONCURRENCY": str(workers), "GUNICORN_TIMEOUT": str(timeout_s),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}", "VAR_DIR": str(workdir), "BEHIND_HTTPS_PROXY": "1",
        }
        self.env.pop("CELERY_BROKER_URL", None)
        for command in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=self.env, check=True,
                           capture_output=True, timeout=300)
        self.process = subprocess.Popen([str(BIN / "gunicorn"), "studyapp.wsgi"], cwd=ROOT, env=self.env,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        _wait_for(f"http://127.0.0.1:{self.port}/", self.process, "gunicorn", self.log)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


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
        _wait_for(f"http://127.0.0.1:{self.port}/", self.process, "nginx", self.log)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


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
