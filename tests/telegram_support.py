"""Helpers of the Telegram end-to-end tests: `python -m photobot ...` as a real subprocess against the
fake Bot API and a real redis-server, and small readers of what a chat shows."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis
from PIL import Image

from tests.fakes.telegram import BotMessage, FakeTelegram
from tests.process_support import child_env


def small_image(seed: int, size: int = 48) -> bytes:
    """A little photo of its own (different bytes for every seed)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image.putpixel((seed % size, (seed // size) % size), (255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class BotProcess:
    """One `python -m photobot MODE` child with an explicit environment; logs to a file."""

    def __init__(
        self, tg: FakeTelegram, redis_url: str, workdir: Path, mode: str = "run", **env: Any
    ) -> None:
        self.workdir = workdir
        self.mode = mode
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"photobot-{mode}.log"
        self.env = child_env(
            redis_url,
            workdir,
            **{"BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url, "LOG_FILE": "none", **env},
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, tg: FakeTelegram, timeout: float = 60.0, *, wait_ready: bool = True) -> BotProcess:
        if not wait_ready:  # the worker mode talks to Telegram only when it has a result
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "photobot", "-v", self.mode],
                    cwd=self.workdir,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            return self
        # The menu is set just before polling starts (a long poll enters the call log only when it ends).
        menus_before = len(tg.calls("setMyCommands"))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "photobot", "-v", self.mode],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            tg.wait_for_sync(
                lambda: len(tg.calls("setMyCommands")) >= menus_before + 2 or self._exited(), timeout
            )
        except TimeoutError:
            raise AssertionError(f"photobot did not start polling:\n{self.log_tail()}") from None
        if self._exited():
            raise AssertionError(f"photobot exited at start:\n{self.log_tail()}")
        return self

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"photobot did not stop on SIGTERM:\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL to the whole process group (image workers too), as when a container dies."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        """Never leave a process behind, whatever the test's outcome."""
        if self.process is not None:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def results(tg: FakeTelegram, chat_id: int) -> list[BotMessage]:
    """The chat's visible result messages (a photo or file whose caption starts with ✅)."""
    return [
        m
        for m in tg.visible_messages(chat_id)
        if m.kind in ("photo", "document") and (m.text or "").startswith("✅")
    ]


def texts(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text or "" for m in tg.visible_messages(chat_id) if m.kind == "text"]


def wait_results(
    tg: FakeTelegram, chat_id: int, count: int, timeout: float = 60.0, bot: BotProcess | None = None
) -> list[BotMessage]:
    try:
        tg.wait_for_sync(lambda: len(results(tg, chat_id)) >= count, timeout)
    except TimeoutError:
        seen = [(m.kind, m.text) for m in tg.visible_messages(chat_id)]
        raise AssertionError(
            f"{count} results not seen in chat {chat_id}: {seen}\n{bot.log_tail() if bot else ''}"
        ) from None
    return results(tg, chat_id)


def wait_text(tg: FakeTelegram, chat_id: int, start: str, timeout: float = 30.0) -> str:
    def found() -> bool:
        return any(text.startswith(start) for text in texts(tg, chat_id))

    try:
        tg.wait_for_sync(found, timeout)
    except TimeoutError:
        raise AssertionError(
            f"no message starting {start!r} in chat {chat_id}: {texts(tg, chat_id)}"
        ) from None
    return next(text for text in reversed(texts(tg, chat_id)) if text.startswith(start))


def command(tg: FakeTelegram, user: int, text: str, timeout: float = 30.0) -> str:
    """The user sends `text` (a command); returns the bot's next text message in the chat."""
    before = len(texts(tg, user))
    tg.inject_text(user, text)
    tg.wait_for_sync(lambda: len(texts(tg, user)) > before, timeout)
    return texts(tg, user)[-1]


def sent_photos(tg: FakeTelegram, chat_id: int) -> int:
    """Successful photo or file sends into the chat (a result sent twice would show here)."""
    return sum(
        1
        for call in tg.calls()
        if call.ok
        and str(call.chat_id) == str(chat_id)
        and call.method.lower() in ("sendphoto", "senddocument", "sendmediagroup")
    )


def handled(tg: FakeTelegram, redis_url: str, update_id: int) -> bool:
    """Whether photobot is done with the update: confirmed to Telegram and gone from its inbox."""
    if (tg.confirmed_offset or 0) <= update_id:
        return False
    client = redis.Redis.from_url(redis_url)
    try:
        bot_id = tg.token.split(":", 1)[0]
        return not client.hexists(f"{{photobot}}:tg:inbox:{bot_id}", str(update_id))
    finally:
        client.close()


