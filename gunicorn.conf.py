"""gunicorn settings for production; gunicorn reads this file from the working directory.

It refuses to serve with DEBUG on (Django's settings already refuse the demo secret key when DEBUG
is off), so a production server cannot start in an unsafe configuration.
"""

import multiprocessing
import os
import sys

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
max_requests = 2000
max_requests_jitter = 200
# Import Django and every view (the URLconf pulls in scipy for the reports) once, in the master:
# workers, and the replacements max_requests starts, fork ready instead of spending seconds of CPU
# on imports at their first request. Nothing here touches the database or CUDA before the fork.
preload_app = True


def on_starting(server: object) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    import django
    from django.conf import settings

    django.setup()
    if settings.DEBUG:
        sys.exit("Refusing to serve with gunicorn: DEBUG is on. Set DEBUG=0 and SECRET_KEY for production.")


def when_ready(server: object) -> None:
    """In the master, before any worker forks: load the URLconf, then drop any connection opened."""
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every URL's view module
    connections.close_all()
