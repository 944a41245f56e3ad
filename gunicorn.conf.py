"""gunicorn settings for production; gunicorn reads this file from the working directory.

It refuses to serve with DEBUG on (Django's settings already refuse the demo secret key when DEBUG
is off), and behind the proxy setting it refuses to listen beyond loopback while only loopback is a
trusted proxy, so a production server cannot start in an unsafe configuration.
"""

import ipaddress
import multiprocessing
import os
import sys

from gunicorn.util import parse_address

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# A request may run this long before its worker is killed: the analysis report is computed in its
# request and takes about 18 s for a study of 10,000 participants on an idle 2-core machine, 20-25 s on
# a busy one (docs/benchmarks.md); participants' pages take milliseconds, slow clients wait in nginx.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
max_requests = 2000
max_requests_jitter = 200
# Import Django and every view once, in the master: workers, and the replacements max_requests starts,
# fork ready instead of spending a second of CPU on imports at their first request. (numpy and scipy are
# not among them: a worker imports them with the first report or power plan it computes, 89 MB that a
# worker serving participants never needs.) when_ready then compiles what every worker would (templates,
# URL tables). Nothing here touches the database or CUDA before the fork.
preload_app = True


def listens_beyond_loopback(binds: list[str]) -> bool:
    """Whether another machine (or container) may reach one of these bind addresses: anything but a
    loopback address or a Unix socket (a host name or an inherited file descriptor may, so they count)."""
    for address in map(parse_address, binds):
        if isinstance(address, str):  # unix:PATH
            continue
        if isinstance(address, int) or not _is_loopback(address[0]):
            return True
    return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def on_starting(server: object) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracestudy.settings")
    import django
    from django.conf import settings

    django.setup()
    from studyapp.client_address import trusts_a_proxy_beyond_loopback

    if settings.DEBUG:
        sys.exit("Refusing to serve with gunicorn: DEBUG is on. Set DEBUG=0 and SECRET_KEY for production.")
    binds = server.cfg.bind
    # X-Forwarded-For is believed only from TRUSTED_PROXIES: a proxy elsewhere that is not trusted
    # would have every participant counted at its one address (one arrival limit for all).
    proxy_untrusted = settings.BEHIND_HTTPS_PROXY and not trusts_a_proxy_beyond_loopback()
    if proxy_untrusted and listens_beyond_loopback(binds):
        sys.exit(
            f"Refusing to serve on {', '.join(binds)} with BEHIND_HTTPS_PROXY=1 while TRUSTED_PROXIES "
            "names only loopback: the proxy's X-Forwarded-For would not be believed, and every participant "
            "would share the proxy's address and arrival limit. Set TRUSTED_PROXIES to the proxy's address "
            "or network (compose.yaml sets its nginx's), or, with the proxy on this machine, bind gunicorn "
            "to loopback (GUNICORN_BIND=127.0.0.1:8000)."
        )


def when_ready(server: object) -> None:
    """In the master, before any worker forks: import every view, build the URL tables, compile the
    templates per language and freeze the collector's objects (tracestudy.prefork says why)."""
    from tracestudy.prefork import prepare_workers

    prepare_workers()
