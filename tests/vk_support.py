"""Helpers of the VK end-to-end tests: `python -m photobot run` as a real subprocess against the fake
VK (and, for the two-platform run, the fake Bot API) and a real redis-server, and small readers of
what a VK conversation shows."""

from __future__ import annotations

import io
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from tests.fakes.vk import FakeVK, VisibleMessage
from tests.process_support import child_env


def photo(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small photo of its own (different bytes for every seed)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for x in range(0, size[0], 4):
        image.putpixel((x, seed % size[1]), (255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class PhotobotProcess:
    """One `python -m photobot run` child with an explicit environment; logs to a file."""

    def __init__(self, vk: FakeVK | None, redis_url: str, workdir: Path, **env: Any) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "photobot.log"
        platform = {"VK_TOKEN": vk.token, "VK_GROUP_ID": vk.group_id, "VK_API_URL": vk.api_url} if vk else {}
        self.env = child_env(redis_url, workdir, **{"LOG_FILE": "none", **platform, **env})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, vk: FakeVK, timeout: float = 60.0) -> PhotobotProcess:
        """Start and wait until the long poll is held (the bot is listening)."""
        polls_before = len(vk.calls("longpoll"))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "photobot", "run"],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            vk.wait_for_sync(lambda: len(vk.calls("longpoll")) > polls_before or self.exited(), timeout)
        except TimeoutError:
            raise AssertionError(f"photobot did not start polling VK:\n{self.log_tail()}") from None
        if self.exited():
            raise AssertionError(f"photobot exited at start:\n{self.log_tail()}")
        return self

    def exited(self) -> bool:
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

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def results(vk: FakeVK, peer_id: int) -> list[VisibleMessage]:
    """The conversation's visible results: a message with a photo whose text starts with ✅."""
    return [m for m in vk.visible_messages(peer_id) if m.photos and m.text.startswith("✅")]


def texts(vk: FakeVK, peer_id: int) -> list[str]:
    return [m.text for m in vk.visible_messages(peer_id) if not m.photos]


def wait_results(
    vk: FakeVK, peer_id: int, count: int = 1, timeout: float = 60.0, bot: PhotobotProcess | None = None
) -> list[VisibleMessage]:
    try:
        vk.wait_for_sync(lambda: len(results(vk, peer_id)) >= count, timeout)
    except TimeoutError:
        seen = [(m.text, len(m.photos)) for m in vk.visible_messages(peer_id)]
        tail = bot.log_tail() if bot is not None else ""
        raise AssertionError(f"{count} results not seen for peer {peer_id}: {seen}\n{tail}") from None
    return results(vk, peer_id)


def wait_text(
    vk: FakeVK, peer_id: int, start: str, timeout: float = 30.0, bot: PhotobotProcess | None = None
) -> str:
    def found() -> bool:
        return any(text.startswith(start) for text in texts(vk, peer_id))

    try:
        vk.wait_for_sync(found, timeout)
    except TimeoutError:
        tail = bot.log_tail() if bot is not None else ""
        seen = texts(vk, peer_id)
        raise AssertionError(f"no text starting {start!r} for {peer_id}: {seen}\n{tail}") from None
    return next(text for text in reversed(texts(vk, peer_id)) if text.startswith(start))


def sends_to(vk: FakeVK, peer_id: int, *, error_code: int | None = None) -> int:
    """messages.send calls into the conversation (all, or those that failed with `error_code`)."""
    return sum(
        1
        for call in vk.calls("messages.send")
        if call.peer_id == peer_id
        and (error_code is None or call.error_code == error_code)
    )
