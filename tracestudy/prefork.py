"""What gunicorn's master does once the app is imported, before it forks its workers (gunicorn.conf.py's
``when_ready``); bench/walk_cpu.py does the same, so that its in-process walks cost what a worker's do.

A worker, and every replacement that ``max_requests`` starts, begins as a copy of the master. Whatever
the master has already done, no worker does again:

* the URLconf imported (every view module) and its reversing tables built, per language;
* the site's own templates compiled, per language (tracestudy.translated_templates folds each language's
  translations in at compile time), with each language's catalog loaded: a worker's first participant
  walk cost 280 ms of CPU against 40 ms for the next, most of it compiling templates and URL tables;
* the garbage collector's objects frozen (``gc.freeze``): a worker's full collections then skip the 130,000
  objects imported in the master (a full collection took 50-80 ms, about one per 40 walks) and never
  write to the memory pages the workers share with the master.

Nothing here opens a database connection that outlives it: connections are not shared across a fork. A
template that cannot be compiled stops gunicorn at its start, before any participant meets the page.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.template.loader import get_template
from django.urls import get_resolver
from django.utils import translation


def site_templates() -> Iterator[str]:
    """The names of the templates in the site's own template folders (settings.TEMPLATES' DIRS) and in
    the project's own apps' (participant pages, error pages, staff pages): the installed apps inside the
    repository, not those of the installed packages (Django's admin, DRF), which staff pages reach."""
    folders = [Path(folder) for engine in settings.TEMPLATES for folder in engine.get("DIRS", [])]
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.is_relative_to(settings.BASE_DIR) and not path.is_relative_to(sys.prefix):
            folders.append(path / "templates")
    for folder in folders:
        for path in sorted(folder.rglob("*.html")):
            yield path.relative_to(folder).as_posix()


def prepare_workers() -> None:
    """Import, build and compile in this process what every worker would otherwise do on its own, then
    freeze the collector's objects; call it last, right before the fork."""
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - imports every URL's view module
    names = list(site_templates())
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            resolver.reverse_dict  # noqa: B018 - builds this language's reversing tables
            for name in names:
                get_template(name)
    connections.close_all()
    gc.freeze()
