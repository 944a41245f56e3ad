"""The web process starts without the heavy libraries: torch and transformers are imported only where a job
runs or a model is loaded (a worker, a command), statsmodels (and with it pandas) only where a report
computes a statistic that needs it, numpy and scipy only where a report, a table's tests or a power
simulation is computed; never by django.setup(), the URLs, the admin or the templates compiled before
gunicorn forks, whose every web worker would otherwise hold them (hundreds of MB; statsmodels and pandas
65 MB, numpy and scipy 89 MB) for nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ["torch", "transformers", "accelerate", "peft", "datasets", "statsmodels", "pandas", "scipy", "numpy"]

PROBE = """
import json, sys
import django
django.setup()
from django.urls import get_resolver, reverse
import tracestudy.wsgi
get_resolver().url_patterns
reverse("admin:index")
from django.contrib import admin
[admin.site._registry[model].get_urls() for model in admin.site._registry]
from tracestudy.prefork import prepare_workers
prepare_workers()  # gunicorn's master: templates compiled before the fork
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in sys.argv[1:])))
"""


def test_the_web_app_starts_without_the_heavy_libraries():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tracestudy.settings", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PROBE, *HEAVY], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
