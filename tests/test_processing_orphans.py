"""A SIGKILLed owner of an ImageProcessor takes its forkserver and worker processes with it (Linux),
even when the kill comes while a worker is starting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process_support import REPO
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

OWNER = """
import asyncio, sys, time
from photobot.processing import ImageProcessor, Limits

async def main() -> None:
    processor = ImageProcessor(Limits(), workers=2, timeout_seconds=30)
    await processor.warm_up()
    await processor.run(open(sys.argv[1], "rb").read(), "sepia", {})
    print("ready", flush=True)
    time.sleep(120)  # the owner lives on until the test kills it

asyncio.run(main())
"""


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (a dead orphan may wait a while for its new parent to reap it)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


@pytest.mark.slow
def test_sigkill_of_the_owner_leaves_no_pool_process(tmp_path: Path) -> None:
    from tests.conftest import ASTRONAUT

    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(ASTRONAUT)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert owner.stdout is not None
        for line in owner.stdout:  # logs come first
            if line.strip() == b"ready":
                break
        pool = descendants(owner.pid)
        assert len(pool) >= 3, pool  # the forkserver and two workers
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        def alive() -> list[int]:
            return [pid for pid in pool if running(pid)]

        wait_until(lambda: not alive(), 5, lambda: f"the pool to end with its owner; alive: {alive()}")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)


# A worker asks for PR_SET_PDEATHSIG some time after the fork. If photobot is SIGKILLed in that
# window, the forkserver dies with it and the worker is re-parented; comparing with its new parent,
# it would arm against a process that never dies and wait on its call queue forever (the SIGKILL
# chaos test once found one alive after the run). The script forks a stand-in forkserver, which
# imports the preload module as the real one does and forks a worker, then dies before it arms.
RACE = """
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


def run_race(expected: str) -> str:
    """What the worker printed before every process of the script ended (stdout closes then)."""
    done = subprocess.run(
        [sys.executable, "-c", RACE.format(expected=expected)], check=False, cwd=REPO,
        capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_worker_whose_forkserver_died_before_it_armed_exits() -> None:
    assert run_race("lifeline.forkserver_pid()") == ""


def test_comparing_with_the_parent_it_has_now_would_miss_it() -> None:
    """What the worker did before: the check above is what makes the difference."""
    assert run_race("None") == "armed\n"


def test_outside_a_forkserver_there_is_no_forkserver_pid() -> None:
    from photobot.processing.lifeline import forkserver_pid

    assert forkserver_pid() is None
