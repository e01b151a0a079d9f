"""What the chaos tests share: tiny unique photos, `python -m photobot` as a child process that a
test may SIGKILL and start again, a bounded photo load, and the count of results per photo read
from the fake Bot API (what each user sees in the chat, not what photobot says it did)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from tests.fakes.telegram import BotMessage, FakeTelegram
from tests.process_support import child_env
from tests.waiting import wait_until

RESULT_MARK = "✅"


def tiny_jpeg(seed: int, side: int = 48) -> bytes:
    """A 48x48 JPEG of its own: a different colour and noise pattern for every seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (side, side), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(24):
        image.putpixel((rng.randrange(side), rng.randrange(side)), (rng.randrange(256), 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def base_env(tg: FakeTelegram | None, redis_url: str, workdir: Path, **overrides: Any) -> dict[str, str]:
    """The environment of a photobot child: fast recovery (short leases and retries), a cheap
    pool, no HTTP server, a JSON log file of its own. Keyword arguments override (upper-cased)."""
    platform = {"BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url} if tg is not None else {}
    fast_recovery = {
        "LOG_FILE": str(workdir / "photobot.log"),
        "LOG_LEVEL": "INFO",
        "CONCURRENT_JOBS": "8",
        "LEASE_SECONDS": "3",
        "RETRY_BASE_SECONDS": "0.3",
        "RETRY_MAX_SECONDS": "2",
        "MAX_ATTEMPTS": "20",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }
    return child_env(redis_url, workdir, **{**fast_recovery, **platform, **overrides})


class Photobot:
    """One `python -m photobot <mode>` child that a test starts, SIGKILLs and starts again."""

    def __init__(self, env: dict[str, str], workdir: Path, mode: str = "run", name: str = "photobot") -> None:
        self.env = env
        self.mode = mode
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.output = workdir / f"{name}.out"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.groups: list[int] = []  # one process group per start: photobot, its forkserver, its pool

    def start(self) -> Photobot:
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "photobot", self.mode],
                cwd=self.workdir, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.groups.append(self.process.pid)
        self.starts += 1
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed, leases and locks stay where they were."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.kills += 1

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; the exit code (None if it had to be killed)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode

    def leftovers(self, wait: float = 5.0) -> list[int]:
        """Process groups of earlier starts that still have a live process after `wait` seconds
        (a killed photobot's pool must not outlive it)."""
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not self._alive_groups(), wait, step=0.2)
        return self._alive_groups()

    def _alive_groups(self) -> list[int]:
        return [group for group in self.groups if _group_alive(group)]

    def clean_up(self) -> None:
        """SIGKILL whatever is left of every group this object started."""
        for group in self.groups:
            if _group_alive(group):
                os.killpg(group, signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        texts = []
        for path in (self.output, Path(self.env.get("LOG_FILE", ""))):
            if path.is_file():
                texts += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(texts)


def _group_alive(group: int) -> bool:
    """Whether a process of the group still runs. A zombie does not: it has ended, and only waits
    for whoever adopted it to reap it, which kill(0) cannot tell apart from a live process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended while the list was read
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state not in ("Z", "X"):
            return True
    return False


def wait_polling(bot: Photobot, timeout: float = 60.0) -> None:
    """Until the child of the latest start says it is polling Telegram. (The fake logs a call when
    it returns, and a long poll returns up to 25 s later, so its call log cannot tell.)"""
    log = Path(bot.env["LOG_FILE"])

    def polling() -> bool:
        text = log.read_text(errors="replace") if log.exists() else ""
        if text.count('"polling started"') >= bot.starts:
            return True
        assert bot.running, f"photobot exited at start:\n{bot.tail()}"
        return False

    wait_until(polling, timeout, lambda: f"photobot to poll:\n{bot.tail()}")


@dataclass
class Sent:
    """One photo a user sent: where, which message, when, and whether photobot was up."""

    user_id: int
    update_id: int
    message_id: int
    at: float
    while_down: bool


@dataclass
class Load:
    """Photos from `users` users, round robin, at `rate` per second, in a background thread."""

    tg: FakeTelegram
    users: list[int]
    count: int
    rate: float
    caption: str = "grayscale"
    seed: int = 0
    is_down: Callable[[], bool] = lambda: False
    sent: list[Sent] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        began = time.monotonic()
        for index in range(self.count):
            due = began + index / self.rate
            time.sleep(max(0.0, due - time.monotonic()))  # the load's pace
            user_id = self.users[index % len(self.users)]
            down = self.is_down()
            update_id = self.tg.inject_photo(user_id, tiny_jpeg(self.seed * 100_000 + index), self.caption)
            message_id = int(self.tg.update(update_id)["message"]["message_id"])
            self.sent.append(Sent(user_id, update_id, message_id, time.monotonic(), down))

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load did not finish in time"

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()


def is_result(message: BotMessage) -> bool:
    return not message.deleted and message.kind in ("photo", "document") and (
        message.text or ""
    ).startswith(RESULT_MARK)


@dataclass
class Tally:
    """Visible results per photo: none is a loss, more than one a duplicate; `strays` counts other
    visible bot messages that answer the same photo (a status message that never became a result)."""

    photos: int
    results: int
    lost: list[Sent]
    duplicated: list[Sent]
    strays: int
    latencies: list[float]
    stray_texts: list[str] = field(default_factory=list)

    def line(self, scenario: str, seconds: float, **extra: object) -> str:
        figures = {
            "photos": self.photos, "results": self.results, "lost": len(self.lost),
            "duplicated": len(self.duplicated), "stray_status": self.strays, **extra,
            "seconds": round(seconds, 1),
        }
        return f"CHAOS {scenario}: " + " ".join(f"{key}={value}" for key, value in figures.items())


def tally(tg: FakeTelegram, sent: list[Sent]) -> Tally:
    by_chat: dict[int, list[BotMessage]] = {}
    for photo in sent:
        if photo.user_id not in by_chat:
            by_chat[photo.user_id] = tg.visible_messages(photo.user_id)
    lost, duplicated, latencies = [], [], []
    results = strays = 0
    stray_texts: list[str] = []
    for photo in sent:
        answers = [m for m in by_chat[photo.user_id] if m.reply_to_message_id == photo.message_id]
        shown = [m for m in answers if is_result(m)]
        results += len(shown)
        strays += len(answers) - len(shown)
        stray_texts += [f"{m.kind}:{m.text}" for m in answers if not is_result(m)]
        if not shown:
            lost.append(photo)
        elif len(shown) > 1:
            duplicated.append(photo)
        else:
            final = next(v for v in shown[0].versions if (v.text or "").startswith(RESULT_MARK))
            latencies.append(final.at - photo.at)
    return Tally(len(sent), results, lost, duplicated, strays, latencies, stray_texts)


def wait_all_answered(tg: FakeTelegram, sent: list[Sent], timeout: float) -> Tally:
    """Until every photo shows a result, or the time is up; the tally either way."""
    with contextlib.suppress(AssertionError):  # the caller's assertions say what was lost
        wait_until(lambda: not tally(tg, sent).lost, timeout, step=0.5)
    return tally(tg, sent)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
