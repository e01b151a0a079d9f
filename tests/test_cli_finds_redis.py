"""The command-line tools beside a running photobot with the default set-up (REDIS_URL unset): they
find the embedded Redis of DATA_DIR by themselves, and say in one line when no photobot runs there.

Bad input tried: a DATA_DIR where no photobot ever ran, one whose photobot has stopped (its socket
file may be left behind), and a DATA_DIR given by the environment instead of the default."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from photobot.embedded_redis import EmbeddedRedis, running_url
from tests.process_support import REPO, clean_env


async def photobot(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "photobot", *args], cwd=cwd, capture_output=True, text=True,
        timeout=60, check=False, env=clean_env(PYTHONPATH=str(REPO), LOG_FILE="none", **env),
    )


@pytest.mark.slow
async def test_tools_use_the_embedded_redis_of_a_running_photobot(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path / "data" / "redis")  # what `photobot run` starts for DATA_DIR=data
    url = await embedded.start()
    try:
        assert running_url(tmp_path / "data") == url
        stats = await photobot(tmp_path, "stats")
        assert stats.returncode == 0, stats.stderr
        assert "workers" in stats.stdout
        token = await photobot(tmp_path, "token", "issue", "tg:2002")
        assert token.returncode == 0 and len(token.stdout.strip()) > 20, token.stderr
        jobs = await photobot(tmp_path, "jobs", "--limit", "1")
        assert jobs.returncode == 0, jobs.stderr
        elsewhere = await photobot(tmp_path.parent, "stats", DATA_DIR=str(tmp_path / "data"))
        assert elsewhere.returncode == 0, elsewhere.stderr
    finally:
        await embedded.stop()

    for args in (["stats"], ["jobs"], ["show", "x"], ["token", "issue", "tg:1"]):
        stopped = await photobot(tmp_path, *args)
        assert stopped.returncode == 2
        lines = stopped.stderr.strip().splitlines()
        assert len(lines) == 1 and "no photobot is running in DATA_DIR" in lines[0], stopped.stderr
        assert str(tmp_path / "data") in lines[0]


async def test_a_data_dir_where_nothing_ever_ran(tmp_path: Path) -> None:
    assert running_url(tmp_path / "never") is None
    result = await photobot(tmp_path, "stats", DATA_DIR=str(tmp_path / "never"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"photobot: error: REDIS_URL is not set and no photobot is running in DATA_DIR {tmp_path / 'never'}: "
        "start one there (photobot run), or set REDIS_URL"
    )
