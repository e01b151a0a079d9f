# The commands of the quick start, for a Debian or Ubuntu machine without Docker:
#   make run    create .venv, install photobot (.venv/bin/photobot) and its requirements, run the bot
#   make sandbox  try the bot without Telegram: a chat page at http://127.0.0.1:8088/ (no token)
#   make test   what CI runs (.ci/run): redis-server if missing, ruff, mypy, pytest
# VENV=path uses another virtualenv; PYTHON=python3.12 picks the interpreter that creates it.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# Rewritten whenever requirements.txt changes, so `make run` installs only after a change.
INSTALLED := $(VENV)/.photobot-requirements

# BOT_TOKEN (or VK_TOKEN for a VK-only bot) from the environment or from .env; photobot checks it
# again, but a newcomer should not wait for an install to learn that it is missing.
TOKEN_IN_ENV_FILE := $(shell grep -sEi '^[[:space:]]*(export[[:space:]]+)?(BOT|VK)_TOKEN[[:space:]]*=[[:space:]]*[^[:space:]#]' .env)

.PHONY: run sandbox test lint venv check-token

run: check-token venv
	exec $(PY) -m photobot run

sandbox: venv
	exec $(PY) -m photobot sandbox

check-token:
	$(if $(strip $(BOT_TOKEN)$(VK_TOKEN)$(TOKEN_IN_ENV_FILE)),@:,$(error BOT_TOKEN is not set: put BOT_TOKEN=<token from @BotFather> in .env (cp .env.example .env)))

venv: $(INSTALLED)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m photobot.processing.face_model
	@cp requirements.txt $@

# What CI runs: installs redis-server when missing, the dev requirements, ruff, mypy, pytest.
test:
	VENV=$(VENV) PYTHON=$(PYTHON) bash .ci/run

lint: venv
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m ruff check photobot tests bench
	$(PY) -m mypy
