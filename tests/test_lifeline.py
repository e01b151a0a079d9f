"""A pool worker whose forkserver died before the worker asked to die with it does not live on.

The worker asks for PR_SET_PDEATHSIG some time after the fork. If photobot is SIGKILLed in that
window, the forkserver dies with it and the worker is re-parented; comparing with its new parent, it
would arm against a process that never dies and wait on its call queue forever (a chaos run once
found one such worker alive after the test). Each script below forks a stand-in forkserver, which
imports the preload module as the real one does and forks a worker, then dies before the worker arms.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.process_support import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

SCRIPT = """
import os, sys, time
from photobot.processing import lifeline

if os.fork() == 0:  # the forkserver
    from photobot.processing import forkserver_preload
    if os.fork() == 0:  # its worker: arms only once the forkserver is gone, as in the race
        while os.getppid() == forkserver_preload.PID:
            time.sleep(0.01)
        lifeline.die_with_parent({expected})
        print("armed", flush=True)  # alive, against a parent that will never die
        time.sleep(0.5)
        os._exit(0)
    os._exit(0)
os.wait()
"""


def run(expected: str) -> str:
    """What the worker printed before every process of the script ended (stdout closes then)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(expected=expected)], check=False, cwd=REPO,
        capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_worker_whose_forkserver_died_before_it_armed_exits() -> None:
    assert run("lifeline.forkserver_pid()") == ""


def test_comparing_with_the_parent_it_has_now_would_miss_it() -> None:
    """What the worker did before: the check above is what makes the difference."""
    assert run("None") == "armed\n"


def test_outside_a_forkserver_there_is_no_forkserver_pid() -> None:
    from photobot.processing.lifeline import forkserver_pid

    assert forkserver_pid() is None
