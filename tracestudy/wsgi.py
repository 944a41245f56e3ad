"""WSGI entry point (gunicorn ``tracestudy.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracestudy.settings")

application = get_wsgi_application()
