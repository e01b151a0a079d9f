# The two commands of the quick start. Both work on a fresh Debian or Ubuntu machine.
.PHONY: test lint venv

venv: .venv/bin/python
.venv/bin/python: requirements.txt requirements-dev.txt
	python3 -m venv .venv
	.venv/bin/python -m pip install -q -r requirements-dev.txt
	touch .venv/bin/python

# What CI runs: installs redis-server when missing, ruff, mypy, pytest.
test:
	bash .ci/run

lint: venv
	.venv/bin/ruff check photobot tests bench
	.venv/bin/mypy
