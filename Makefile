# Two commands for a fresh clone: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-fast lint chromium nginx

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

## demo: set up SQLite, seed the demo study and an admin account, and serve on http://127.0.0.1:8000
demo: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py demo_admin --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py seed_traces_demo
	@echo "To run model jobs launched in the admin, start a worker in another terminal:"
	@echo "  $(BIN)/celery -A tracestudy worker -Q gpu --pool=solo --concurrency=1"
	@echo "and the scheduler (Celery beat and the default queue: finds jobs whose worker died, syncs with"
	@echo "Prolific, makes the Prolific calls and pilot runs asked for in the admin) in a third:"
	@echo "  $(BIN)/celery -A tracestudy worker -B -s var/celerybeat-schedule -Q celery --pool=solo"
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## test: install what the tests need (Chromium included) and run ruff and the whole suite, on every core
test: $(VENV)/.dev-installed chromium nginx lint
	$(BIN)/python -m pytest -n auto

## test-fast: the same without the tests marked slow (real browsers, servers, workers, model training)
test-fast: $(VENV)/.dev-installed lint
	$(BIN)/python -m pytest -n auto -m "not slow"

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

# Debian's nginx for the slow-client test (tests start their own, on a free port; none is left running).
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		echo "Installing Debian's nginx for the slow-client test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx >/dev/null; \
	fi

# Debian's Chromium for the browser test (Playwright drives it; it downloads no browser of its own).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's chromium for the browser test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi
