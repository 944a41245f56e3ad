"""Clients that send their request slowly and stall no longer hold the web workers: behind
deploy/nginx.conf a participant is served while 2 (or 50) such clients hang on. Directly on
gunicorn's two sync workers, two of them are enough to keep every participant waiting."""

from __future__ import annotations

import shutil
import socket

import pytest

from tests.web_servers import gunicorn_behind_nginx, page_seconds, slow_clients

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (shutil.which("nginx") or shutil.which("/usr/sbin/nginx")),
    reason="needs nginx (make test installs Debian's)",
)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with gunicorn_behind_nginx(tmp_path_factory.mktemp("web"), workers=2, timeout_s=30) as both:
        yield both


@pytest.mark.parametrize("count", [2, 50])
def test_behind_nginx_a_participant_is_served_while_slow_clients_hang(servers, count):
    _, nginx = servers
    held = slow_clients(nginx.port, count)
    try:
        page_seconds(nginx.port, "/", timeout_s=10)  # raises if not served: gunicorn's timeout is 30 s
        assert all(client.fileno() != -1 for client in held)  # they were still hanging on meanwhile
    finally:
        for client in held:
            client.close()


def test_directly_on_gunicorn_two_slow_clients_block_every_participant(servers):
    """What the proxy is for (and proof this test can tell): both sync workers wait on the bodies."""
    gunicorn, _ = servers
    held = slow_clients(gunicorn.port, 2)
    try:
        with pytest.raises((TimeoutError, socket.timeout, OSError)):
            page_seconds(gunicorn.port, "/", timeout_s=5)
    finally:
        for client in held:
            client.close()
