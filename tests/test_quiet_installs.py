"""`make` and `.ci/run` install quietly: one line per step when it works, and the step's own error
(and a stop) when it does not, instead of pip's chatter or a failure hidden behind a filter.

Bad input tried: a requirements lock with a line that is no requirement (for `make venv` and for
`.ci/run`), a command that fails after printing, and this machine's pip index notes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.process_support import REPO, clean_env, layered_venv
from tests.test_quickstart import fresh_clone

QUIETLY = REPO / ".ci" / "quietly"


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_quietly_hides_a_success_and_shows_a_failure(tmp_path: Path) -> None:
    chatter = "echo Collecting x; echo 'WARNING: Location file:///x is ignored: it is neither' >&2"
    ok = run(["bash", str(QUIETLY), "sh", "-c", f"{chatter}; exit 0"], tmp_path)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    failed = run(["bash", str(QUIETLY), "sh", "-c", f"{chatter}; echo 'ERROR: no such package' >&2; exit 3"],
                 tmp_path)
    assert failed.returncode == 3 and failed.stdout == ""
    assert "ERROR: no such package" in failed.stderr and "Collecting x" in failed.stderr
    lines = failed.stderr.splitlines()
    assert not any(line.startswith("WARNING: Location") for line in lines) and "failed (exit 3)" in lines[-1]


@pytest.mark.slow
def test_make_venv_says_one_line_and_stops_on_a_broken_lock(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "photobot")
    venv = layered_venv(tmp_path / "venv")
    quiet = run(["make", "-s", "venv", f"VENV={venv}"], clone)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines() == [f"== installing photobot and its requirements into {venv}"]
    assert quiet.stderr == ""

    (venv / ".photobot-requirements").unlink()  # install again, now from a broken lock
    with (clone / "requirements.txt").open("a") as lock:
        lock.write("this is not a requirement!\n")
    broken = run(["make", "-s", "venv", f"VENV={venv}"], clone)
    assert broken.returncode != 0
    assert "Invalid requirement" in broken.stderr and "failed (exit" in broken.stderr, broken.stderr
    assert not (venv / ".photobot-requirements").exists()


def test_ci_run_stops_at_a_failed_install(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "photobot")
    venv = layered_venv(tmp_path / "venv")
    with (clone / "requirements-dev.txt").open("a") as lock:
        lock.write("this is not a requirement!\n")
    result = subprocess.run(["bash", ".ci/run"], cwd=clone, capture_output=True, text=True, timeout=300,
                            check=False, env=clean_env(VENV=str(venv)))
    assert result.returncode != 0
    assert "Invalid requirement" in result.stderr, result.stderr
    assert "== ruff" not in result.stdout and "== pytest" not in result.stdout
