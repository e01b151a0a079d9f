"""A SIGKILLed process leaves no image workers behind: the forkserver and the pool process of an
ImageProcessor end within a few seconds of their parent's death (a killed parent cannot shut its
pool down, so each worker watches for it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests.process_support import REPO

pytestmark = pytest.mark.slow

SCRIPT = """
import asyncio, sys
from photobot.processing import ImageProcessor
from photobot.processing.limits import Limits
from photobot.config import Settings

async def main():
    settings = Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0", log_file="none")
    processor = ImageProcessor(Limits.from_settings(settings), 2, 30.0)
    await processor.run(open(sys.argv[1], "rb").read(), "grayscale", {})
    print("ready", flush=True)
    for _ in range(20):
        print(flush=True)
    await asyncio.sleep(120)  # the owner lives on until the test kills it

asyncio.run(main())
"""


def test_image_workers_end_with_a_sigkilled_parent(tmp_path: object) -> None:
    from tests.chaos.support import tiny_jpeg

    image = os.path.join(str(tmp_path), "photo.jpg")
    with open(image, "wb") as file:
        file.write(tiny_jpeg(1))
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, image], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        lines = [parent.stdout.readline().strip() for _ in range(20)]  # log lines may come first
        assert "ready" in lines, lines
        children = psutil.Process(parent.pid).children(recursive=True)
        assert len(children) >= 3, "expected a forkserver and two pool processes"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"outlived their parent: {[(p.pid, p.name()) for p in alive]}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
