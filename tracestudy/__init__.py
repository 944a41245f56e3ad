"""The site: settings, root URLs, the Celery app and the WSGI/ASGI entry points, apart from the apps.

The apps import upward only (traces, then studyapp, then analysis); this package sits above them all
and wires them together. The Celery app is imported here so that ``@shared_task`` functions bind to
it whenever Django starts.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
