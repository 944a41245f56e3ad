"""gunicorn's master prepares what every worker needs before it forks them (tracestudy.prefork): a worker
then serves its first participant without compiling a template, its collections skip what the master
imported, and it inherits no database connection."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# After prepare_workers(), any template compiled from its file would go through _FoldingLoader.
PROBE = """
import gc, json
import django
django.setup()
from django.conf import settings
from django.db import connections
from django.template.loader import get_template
from django.utils import translation
from tracestudy import prefork, translated_templates

connections["default"].ensure_connection()  # opened while the app is imported: must not survive
prefork.prepare_workers()
open_after = [alias for alias in connections if connections[alias].connection is not None]
frozen, collecting = gc.get_freeze_count(), gc.isenabled()
compiled = []
def compiling(self, name, skip=None):
    compiled.append(name)
    raise AssertionError(name)
translated_templates._FoldingLoader.get_template = compiling
pages = [name for name in prefork.site_templates() if name.startswith("studyapp/")]
for code, _ in settings.LANGUAGES:
    with translation.override(code):
        for name in [*pages, "base.html", "404.html", "500.html"]:
            get_template(name)
print(json.dumps({"open": open_after, "frozen": frozen, "collecting": collecting, "compiled": compiled,
                  "pages": pages}))
"""


def test_the_master_compiles_every_page_per_language_freezes_its_objects_and_drops_connections(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tracestudy.settings", "PYTHONPATH": str(REPO),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["compiled"] == []
    assert {"studyapp/consent.html", "studyapp/trial.html", "studyapp/questionnaire.html",
            "studyapp/done.html"} <= set(found["pages"])
    assert found["open"] == []
    assert found["frozen"] > 10_000 and found["collecting"]
