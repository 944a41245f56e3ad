"""Behind the proxy setting, X-Forwarded-For is believed only from a trusted proxy: a client that
reaches gunicorn directly is counted at its own address, whatever it writes there (before, it took
as many arrivals as it made up addresses); through nginx each client is still counted at the address
nginx saw; and gunicorn refuses to listen beyond loopback while no proxy beyond it is trusted."""

from __future__ import annotations

import http.client
import ipaddress
import os
import secrets
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.web_servers import BIN, ROOT, free_port, gunicorn_behind_nginx

pytestmark = pytest.mark.slow

LIMIT = 3  # arrivals an hour per address in these servers

needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx") or shutil.which("/usr/sbin/nginx")),
    reason="needs nginx (make test installs Debian's)",
)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """gunicorn behind the proxy setting (one worker: the limit counts in its memory) serving the
    demo study, trusting nginx on 127.0.0.1; nginx with deploy/nginx.conf in front."""
    env = {"ARRIVAL_RATE_LIMIT": f"{LIMIT}/h", "TRUSTED_PROXIES": "127.0.0.1"}
    with gunicorn_behind_nginx(tmp_path_factory.mktemp("proxy"), workers=1, env=env) as (gunicorn, nginx):
        gunicorn.manage("seed_demo")
        yield gunicorn, nginx


def arrive(port: int, client_address: str, forwarded_for: str) -> int:
    """A new arrival with a made-up PID, sent from ``client_address`` (on loopback) with its own
    X-Forwarded-For; the status (302 to the consent page, 429 over the limit)."""
    pid = secrets.token_hex(12)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(client_address, 0))
    try:
        connection.request("GET", f"/study/demo/?PROLIFIC_PID={pid}&STUDY_ID=abc&SESSION_ID=s-{pid}",
                           headers={"X-Forwarded-For": forwarded_for})
        return connection.getresponse().status
    finally:
        connection.close()


@needs_nginx
def test_a_client_reaching_gunicorn_directly_cannot_make_up_addresses(servers):
    """The issue: one client took 79 places by writing a new address into X-Forwarded-For each time."""
    gunicorn, _ = servers
    statuses = [arrive(gunicorn.port, "127.0.0.5", f"203.0.113.{n}") for n in range(LIMIT + 3)]
    assert statuses == [302] * LIMIT + [429] * 3


@needs_nginx
def test_through_nginx_each_client_is_counted_at_the_address_nginx_saw(servers):
    _, nginx = servers
    statuses = [arrive(nginx.port, "127.0.0.6", f"198.51.100.{n}") for n in range(LIMIT + 1)]
    assert statuses == [302] * LIMIT + [429]  # made-up entries before nginx's change nothing
    assert arrive(nginx.port, "127.0.0.7", "198.51.100.1") == 302  # another participant, same proxy


def _production(**env: str) -> dict[str, str]:
    """The environment of a production start: DEBUG off, a strong key, no TRUSTED_PROXIES unless given."""
    clean = {k: v for k, v in os.environ.items() if k not in {"TRUSTED_PROXIES", "DATABASE_URL"}}
    return {**clean, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), **env}


def test_gunicorn_refuses_to_listen_beyond_loopback_while_no_proxy_there_is_trusted():
    """A real gunicorn: it refuses on start-up, before it listens (a timeout here means it served)."""
    env = _production(BEHIND_HTTPS_PROXY="1", GUNICORN_BIND=f"0.0.0.0:{free_port()}", WEB_CONCURRENCY="1")
    result = subprocess.run([str(BIN / "gunicorn"), "tracestudy.wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stderr[-2000:]
    assert "Refusing to serve" in result.stderr and "Set TRUSTED_PROXIES" in result.stderr


def _starts(bind: str, **env: str) -> subprocess.CompletedProcess:
    """gunicorn.conf.py's start-up checks alone, for a bind address, with the environment given."""
    script = ("import runpy, types; conf = runpy.run_path('gunicorn.conf.py'); "
              f"conf['on_starting'](types.SimpleNamespace(cfg=types.SimpleNamespace(bind=[{bind!r}])))")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_production(**env),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("bind", "env", "refused"), [
    ("127.0.0.1:8000", {"BEHIND_HTTPS_PROXY": "1"}, False),  # nginx on this machine, gunicorn on loopback
    ("unix:/run/study.sock", {"BEHIND_HTTPS_PROXY": "1"}, False),
    ("[::]:8000", {"BEHIND_HTTPS_PROXY": "1"}, True),
    ("0.0.0.0:8000", {"BEHIND_HTTPS_PROXY": "1", "TRUSTED_PROXIES": "127.0.0.1"}, True),
    ("0.0.0.0:8000", {"BEHIND_HTTPS_PROXY": "1", "TRUSTED_PROXIES": "10.1.2.0/24"}, False),
    ("0.0.0.0:8000", {"BEHIND_HTTPS_PROXY": "0"}, False),  # no proxy: every client is its own address
])
def test_which_start_ups_gunicorn_refuses(bind, env, refused):
    result = _starts(bind, **env)
    assert (result.returncode != 0) == refused, result.stderr[-2000:]


def test_compose_trusts_its_nginx_and_so_starts():
    """compose.yaml's web service listens on 0.0.0.0:8000 for the proxy container: the proxy's fixed
    address must be in the subnet and in TRUSTED_PROXIES (docker does not run here; this reads it)."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    web, proxy = compose["services"]["web"], compose["services"]["proxy"]
    proxy_address = ipaddress.ip_address(proxy["networks"]["default"]["ipv4_address"])
    subnet = ipaddress.ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    trusted = [ipaddress.ip_network(entry) for entry in web["environment"]["TRUSTED_PROXIES"].split(",")]
    assert proxy_address in subnet and any(proxy_address in network for network in trusted)
    assert web["environment"]["BEHIND_HTTPS_PROXY"] == "${BEHIND_HTTPS_PROXY:-1}"
    assert _starts("0.0.0.0:8000", BEHIND_HTTPS_PROXY="1",
                   TRUSTED_PROXIES=web["environment"]["TRUSTED_PROXIES"]).returncode == 0


def test_a_malformed_trusted_proxy_is_an_error_that_names_it():
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "TRUSTED_PROXIES": "10.0.0.5,nginx"}, timeout=120)
    assert result.returncode != 0 and "TRUSTED_PROXIES: 'nginx' is not an address" in result.stderr

