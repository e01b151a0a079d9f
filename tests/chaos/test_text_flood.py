"""One chat sends 5,000 texts in 5 s, 100 at once ten times a second (forwarding 100 messages at
once makes this cheap), while four other chats send photos at a calm pace: the others' photos are
answered within 2x of the idle latency (the same ratio and floor as test_flood.py), the flooding
chat gets a handful of answers rather than 5,000, what photobot holds in memory stays bounded, and
every text is confirmed to Telegram and leaves the inbox.

Before each chat's backlog collapsed and its share of the updates in hand was bounded, polling paused
at 2,000 updates in hand, all of them the flooder's, each answered at the chat's pace of one message
a second: the calm chat's first photo waited for most of an hour.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.chaos.support import (
    Load,
    Photobot,
    base_env,
    percentile,
    wait_all_answered,
    wait_polling,
)
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer, free_port

TEXTS = 5000
BURST, BURSTS_PER_SECOND = 100, 10
FLOODER = 60_000
CALM = [60_001 + i for i in range(4)]
CALM_PHOTOS = 8  # per phase: two per calm user, one every 0.75 s in all
HINT = "Send me a photo, or see /help."

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _forward(tg: FakeTelegram, ids: list[int]) -> None:
    """The flood: 100 texts at once (one forward of 100 messages) ten times a second."""
    began = time.monotonic()
    for burst in range(TEXTS // BURST):
        time.sleep(max(0.0, began + burst / BURSTS_PER_SECOND - time.monotonic()))  # the flood's pace
        ids += [tg.inject_text(FLOODER, f"spam {burst}.{index}") for index in range(BURST)]


def rss_kb(pid: int) -> int:
    """The process's resident memory now (its image workers are other processes)."""
    found = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) if found else 0


class Sampler:
    """Reads photobot's /metrics gauge of updates in hand and its resident memory, every 0.2 s."""

    def __init__(self, metrics_url: str, pid: int) -> None:
        self.url = metrics_url
        self.pid = pid
        self.in_hand: list[float] = []
        self.rss_kb: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        gauge = re.compile(r'^photobot_updates_in_hand\{platform="telegram"\} (\S+)$', re.M)
        while not self._stop.wait(0.2):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    found = gauge.search(response.read().decode())
                if found:
                    self.in_hand.append(float(found.group(1)))
                self.rss_kb.append(rss_kb(self.pid))
            except (OSError, ValueError):
                continue


def test_a_text_flood_holds_back_no_other_chat(
    tg: FakeTelegram, aof_redis: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    env = base_env(tg, aof_redis.url, tmp_path, HTTP_ENABLED="true", HTTP_HOST="127.0.0.1", HTTP_PORT=port)
    bot = Photobot(env, tmp_path)
    began = time.monotonic()
    bot.start()
    wait_polling(bot)
    assert bot.process is not None
    sampler = Sampler(f"http://127.0.0.1:{port}/metrics", bot.process.pid)
    try:
        idle = Load(tg, CALM, CALM_PHOTOS, rate=1 / 0.75, seed=31).start()
        idle.join(60)
        idle_tally = wait_all_answered(tg, idle.sent, timeout=60)
        sampler.start()
        rss_before = rss_kb(bot.process.pid)
        flood_ids: list[int] = []
        flood = threading.Thread(target=_forward, args=(tg, flood_ids), daemon=True)
        flood.start()
        calm = Load(tg, CALM, CALM_PHOTOS, rate=1 / 0.75, seed=32).start()
        flood.join(60)
        calm.join(60)
        busy_tally = wait_all_answered(tg, calm.sent, timeout=60)
        tg.wait_for_sync(lambda: tg.pending_update_count == 0, 60)
        client = redis.Redis.from_url(aof_redis.url)
        inbox = f"{{photobot}}:tg:inbox:{tg.token.split(':', 1)[0]}"
        tg.wait_for_sync(lambda: client.hlen(inbox) == 0, 60)
        client.close()
    finally:
        sampler.stop()
        code = bot.stop()
        bot.clean_up()
    hints = [m for m in tg.visible_messages(FLOODER) if m.kind == "text" and m.text == HINT]
    idle_p50, busy_p50 = percentile(idle_tally.latencies, 0.5), percentile(busy_tally.latencies, 0.5)
    bound = 2 * idle_p50 + 0.25
    max_in_hand = max(sampler.in_hand, default=float("nan"))
    rss_growth_mb = (max(sampler.rss_kb, default=0) - rss_before) / 1024
    print()
    print(busy_tally.line(
        "text-flood", time.monotonic() - began, texts=TEXTS,
        flooder_answers=len(hints), max_in_hand=max_in_hand, rss_growth_mb=round(rss_growth_mb, 1),
        idle_p50_s=round(idle_p50, 3), flood_p50_s=round(busy_p50, 3),
        flood_p95_s=round(percentile(busy_tally.latencies, 0.95), 3),
    ))
    assert len(flood_ids) == TEXTS
    assert not idle_tally.lost and not busy_tally.lost, "the calm chat's photo went unanswered"
    assert code == 0, bot.tail()
    assert 1 <= len(hints) <= 50, f"{len(hints)} answers to {TEXTS} texts"
    assert sampler.in_hand and max_in_hand <= 150, f"{max_in_hand} updates in hand"
    assert busy_p50 <= bound, f"calm chat's median {busy_p50:.2f} s under the flood, idle {idle_p50:.2f} s"
