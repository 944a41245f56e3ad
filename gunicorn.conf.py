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


def on_starting(server: object) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    import django
    from django.conf import settings

    django.setup()
    if settings.DEBUG:
        sys.exit("Refusing to serve with gunicorn: DEBUG is on. Set DEBUG=0 and SECRET_KEY for production.")
