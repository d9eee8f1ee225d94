# Annotator developer commands. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
# pip-audit lives in its own environment: it checks .venv's pins without being one of them.
AUDIT_VENV := .venv-audit
PIP_AUDIT := pip-audit==2.10.1

.PHONY: help install run test lint format check bench browser audit

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(INSTALLED)

install: $(INSTALLED) ## Create .venv and install the pinned dependencies (again only when pyproject.toml changes)

run: install ## Set up everything on first run (SQLite, demo data, a demo login printed once), then serve on 127.0.0.1:8000
	$(PY) -m annotator.envfile
	$(PY) manage.py quickstart
	$(PY) manage.py serve

browser: ## Make sure Debian's chromium is there for the browser tests (installs it when run as root)
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	  else echo "The browser tests need chromium: sudo apt-get install chromium"; exit 1; fi; }

# Two processes: the suite spends much of its time waiting on chromium, gunicorn and the database.
TEST_WORKERS ?= 2

test: install browser ## Run the whole test suite (unit, integration, browser); DATABASE_URL picks PostgreSQL
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install ## ruff check, ruff format --check, mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy annotator

format: install ## Apply ruff's formatting and safe fixes
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

check: lint test ## lint + test + no model change without its migration
	DJANGO_SETTINGS_MODULE=annotator.settings_test $(PY) manage.py makemigrations --check --dry-run

bench: install ## Run the benchmarks under bench/ (they print figures; set DATABASE_URL for PostgreSQL)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

audit: install ## Check the installed dependencies for known vulnerabilities (pip-audit; needs the internet)
	@test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && $(AUDIT_VENV)/bin/python -m pip install --quiet '$(PIP_AUDIT)'; }
	$(PY) -m pip freeze --exclude-editable > $(AUDIT_VENV)/requirements.txt
	$(AUDIT_VENV)/bin/pip-audit --requirement $(AUDIT_VENV)/requirements.txt --no-deps --disable-pip --strict --progress-spinner off $(AUDIT_ARGS)
