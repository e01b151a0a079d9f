# The commands of the quick start, for a Debian or Ubuntu machine without Docker:
#   make run    create .venv, install photobot (.venv/bin/photobot) and its requirements, run the bot
#   make sandbox  try the bot without Telegram: a chat page at http://127.0.0.1:8088/ (no token)
#   make test   what CI runs (.ci/run): redis-server if missing, ruff, mypy, pytest
#   make test-fast  the tests not marked slow (no bot processes, browsers, clusters or chaos), on every core
#   make messages  after editing a .po in photobot/locales: update every language from English, compile .mo
#   make lock   re-lock requirements.txt and requirements-dev.txt from the .in files (pip-tools)
#   make container-test   build the image and test the compose deployment (deploy/container-test.sh)
# VENV=path uses another virtualenv; PYTHON=python3.12 picks the interpreter that creates it.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# Rewritten whenever the lock requirements.txt changes, so `make run` installs only after a change.
INSTALLED := $(VENV)/.photobot-requirements

# BOT_TOKEN (or VK_TOKEN for a VK-only bot) from the environment or from .env; photobot checks it
# again, but a newcomer should not wait for an install to learn that it is missing.
TOKEN_IN_ENV_FILE := $(shell grep -sEi '^[[:space:]]*(export[[:space:]]+)?(BOT|VK)_TOKEN[[:space:]]*=[[:space:]]*[^[:space:]#]' .env)

.PHONY: run sandbox test test-fast lint venv check-token lock container-test messages

run: check-token venv
	exec $(PY) -m photobot run

sandbox: venv
	exec $(PY) -m photobot sandbox

check-token:
	$(if $(strip $(BOT_TOKEN)$(VK_TOKEN)$(TOKEN_IN_ENV_FILE)),@:,$(error BOT_TOKEN is not set: put BOT_TOKEN=<token from @BotFather> in .env (cp .env.example .env)))

venv: $(INSTALLED)

$(PY):
	@echo "== creating $(VENV)"
	@bash .ci/quietly $(PYTHON) -m venv $(VENV)

# Quiet: one line per step; a failed step shows its whole output and stops make (.ci/quietly).
$(INSTALLED): requirements.txt | $(PY)
	@echo "== installing photobot and its requirements into $(VENV)"
	@bash .ci/quietly $(PY) -m pip install --require-hashes -r requirements.txt
	@bash .ci/quietly $(PY) -m pip install --no-deps --no-build-isolation -e .
	@bash .ci/quietly $(PY) -m photobot.processing.face_model
	@cp requirements.txt $@

# What CI runs: installs redis-server when missing, the dev requirements, ruff, mypy, pytest.
test:
	VENV=$(VENV) PYTHON=$(PYTHON) bash .ci/run

test-fast: ; $(PY) -m pytest -m "not slow" -n auto $(PYTEST_ARGS)

lint: venv
	@bash .ci/quietly $(PY) -m pip install --require-hashes -r requirements-dev.txt
	$(PY) -m ruff check photobot tests bench deploy
	$(PY) -m mypy

# The message catalogs (photobot/locales, with the dev requirements' Babel): a template of the
# English catalog's keys, every language's .po updated from it (a new key comes in empty, a removed
# one goes), and each compiled to the .mo that photobot reads. A test fails while a .mo is stale.
LOCALES := photobot/locales
PYBABEL := $(VENV)/bin/pybabel

messages:
	@template=$$(mktemp --suffix=.pot) && \
	PYTHONPATH=$(CURDIR) $(PYBABEL) -q extract --no-location -F $(LOCALES)/babel.cfg -o $$template $(LOCALES) && \
	$(PYBABEL) -q update --no-fuzzy-matching --ignore-obsolete --width=100 -i $$template -d $(LOCALES) -D photobot; \
	status=$$?; rm -f $$template; exit $$status
	$(PYBABEL) -q compile -d $(LOCALES) -D photobot

# The locks: every package pinned with its hashes, for Python 3.11 (the image's). Edit the .in files,
# then run this; it takes pip-tools into a venv of its own.
LOCK_VENV ?= .venv-lock
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url

lock: $(LOCK_VENV)/bin/pip-compile
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

$(LOCK_VENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q 'pip-tools==7.7.0'

container-test: venv
	PYTHON=$(PY) bash deploy/container-test.sh
