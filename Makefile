# Steady: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv comes from PATH, or is installed for this user with pip on first use.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PYTHON := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help env run test lint bench clean

help:
	@echo "make run    serve the portal with demo data at http://$(HOST):$(PORT) (SQLite, tasks in process)"
	@echo "make test   run the whole test suite (uses DATABASE_URL and CELERY_BROKER_URL when set)"
	@echo "make lint   ruff check and format check"

$(UV):
	python3 -m pip install --user --quiet uv

env: $(UV)
	$(UV) sync --frozen

run: env
	$(PYTHON) manage.py migrate --noinput --verbosity 0
	$(PYTHON) manage.py load_demo
	$(PYTHON) manage.py runserver $(HOST):$(PORT)

# The browser tests drive Debian's Chromium (Playwright cannot download its own browsers here):
# installed once, as root or through sudo, when it is missing.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests (once)"
	@if [ "$$(id -u)" = 0 ]; then run=""; else run="sudo"; fi; \
	  $$run apt-get update -qq && \
	  $$run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Without a broker the suite uses an in-memory one, so the real-worker tests still run a worker.
test: env $(CHROMIUM)
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-memory://}" $(PYTHON) -m pytest $(PYTEST_ARGS)

lint: env
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

clean:
	rm -rf .venv db.sqlite3 staticfiles
