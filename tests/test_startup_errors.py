"""Start-up problems an operator can fix are one line naming the setting, exit code 2, no traceback;
and /readyz says which chat platform the process cannot reach.

Bad input tried: an HTTP port another program holds (for `run` and for `sandbox --port`), a
TELEGRAM_API_URL where nothing listens, a REDIS_URL where nothing answers yet, a port that is not a
number, an out-of-range port, and a Bot API that stops answering while photobot runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from photobot.bot.i18n import t
from photobot.bot.reachable import Reachable
from photobot.config import Settings
from tests.chaos.support import Photobot, base_env
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer, free_port
from tests.process_support import REPO, child_env, clean_env
from tests.waiting import wait_until
from tests.web_support import web_stack


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def photobot(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "photobot", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def the_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line; logs (JSON lines) may come before it on stderr, a traceback never."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("photobot: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.slow
def test_a_busy_http_port_is_one_line_naming_http_port(
    tg: FakeTelegram, redis_url: str, tmp_path: Path, busy_port: int
) -> None:
    env = child_env(redis_url, tmp_path, BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.base_url,
                    HTTP_ENABLED="true", HTTP_PORT=busy_port)
    line = the_error(photobot(["run"], env, tmp_path))
    assert line.startswith(f"photobot: error: HTTP_PORT: port {busy_port} on 127.0.0.1 is already in use")


@pytest.mark.slow
def test_a_busy_sandbox_port_names_the_flag(tmp_path: Path, busy_port: int) -> None:
    result = photobot(["sandbox", "--port", str(busy_port)], clean_env(PYTHONPATH=str(REPO)), tmp_path)
    assert the_error(result).startswith(f"photobot: error: --port: port {busy_port} on 127.0.0.1 is already")
    assert result.stdout == ""


@pytest.mark.slow
def test_an_unreachable_telegram_at_start_is_one_line(redis_url: str, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = child_env(redis_url, tmp_path, BOT_TOKEN="123456:AAsecret-token-value", TELEGRAM_API_URL=nowhere)
    result = photobot(["run"], env, tmp_path)
    line = the_error(result)
    assert line.startswith(f"photobot: error: TELEGRAM_API_URL: cannot reach {nowhere} (tried for ")
    assert "TELEGRAM_PROXY" in line and "AAsecret-token-value" not in result.stderr


@pytest.mark.slow
def test_a_redis_that_does_not_answer_is_waited_for_with_a_clear_line(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    """Redis does not answer when photobot starts (compose's Redis not healthy yet, a wrong host, a
    Redis restarting): photobot neither exits nor crash-loops; it says which Redis it cannot reach
    and that it retries, keeps waiting, and answers /start as soon as that Redis is up."""
    redis = RedisServer(tmp_path / "redis")  # its port chosen; nothing listens there yet
    bot = Photobot(base_env(tg, redis.url, tmp_path / "bot"), tmp_path / "bot").start()
    try:
        log = Path(bot.env["LOG_FILE"])
        wait_until(lambda: "redis unavailable; retrying" in (log.read_text() if log.exists() else ""), 60,
                   lambda: f"the line that says Redis is unavailable:\n{bot.tail()}")
        time.sleep(5)  # several retries' worth: still waiting, not exited, each part said it once
        assert bot.running, bot.tail()
        said = [json.loads(line) for line in log.read_text().splitlines() if "redis unavailable" in line]
        assert all(f"127.0.0.1:{redis.port}" in entry["detail"] for entry in said), said
        parts = [entry["part"] for entry in said]
        assert "worker" in parts and len(parts) == len(set(parts)), parts
        redis.start()
        tg.inject_text(4343, "/start")
        tg.wait_for_sync(lambda: any(m.text == t("start", "en") for m in tg.visible_messages(4343)), 60)
        assert "Traceback" not in bot.tail(400)
    finally:
        code = bot.stop()
        bot.clean_up()
        redis.stop()
    assert code == 0, bot.tail()


@pytest.mark.parametrize(("value", "named"), [("abc", "HTTP_PORT"), ("70000", "HTTP_PORT")])
def test_a_bad_setting_is_one_line(tmp_path: Path, value: str, named: str) -> None:
    result = photobot(["stats"], clean_env(PYTHONPATH=str(REPO), HTTP_PORT=value), tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"photobot: error: {named}")


def bot_at(url: str) -> Bot:
    return Bot("123456:AAprobe", session=AiohttpSession(api=TelegramAPIServer.from_base(url)))


async def test_readyz_names_the_chat_platform_it_cannot_reach(
    async_tg: FakeTelegram, tg_bot: Bot, settings: Settings, tmp_path: Path
) -> None:
    reachable, gone = tg_bot, bot_at(f"http://127.0.0.1:{free_port()}")
    try:
        platforms = {"telegram": Reachable("telegram", reachable.get_me, ttl=0)}
        async with web_stack(settings, tmp_path, platforms=platforms) as stack:
            status, body = await stack.call("GET", "/readyz")
            assert status == 200 and body["checks"]["telegram"] == "ok"
        platforms = {"telegram": Reachable("telegram", gone.get_me, ttl=60), "vk": platforms["telegram"]}
        async with web_stack(settings, tmp_path, platforms=platforms) as stack:
            status, body = await stack.call("GET", "/readyz")
            assert status == 503 and body["checks"] == {
                "redis": "ok", "storage": "ok", "workers": "ok", "telegram": "fail", "vk": "ok"}
            assert body["reasons"] == ["telegram: not reachable"]
            calls = len(async_tg.calls("getMe"))
            await stack.call("GET", "/readyz")  # within the ttl: the last answer, no new call
            assert len(async_tg.calls("getMe")) == calls + 1  # only the ttl=0 probe called again
    finally:
        await gone.session.close()
