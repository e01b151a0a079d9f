"""`python -m photobot run` SIGKILLed at random moments during a 500-photo load, ten times, and
started again each time: every photo users sent, those sent while it was down included, ends with
exactly one visible result in its chat.

Why this holds: an update is confirmed to Telegram only after its job is in Redis (an unconfirmed
one comes again after the restart, and the enqueue is idempotent on the message); a leased job whose
process died goes back to the queue when its lease expires; delivery edits the status message, so a
job that runs twice edits the same message. The Bot API limits are raised here (TG_GLOBAL_RATE,
TG_CHAT_RATE) so the test is about crashes, not pacing, which test_telegram_storm checks.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.chaos.support import Load, Photobot, base_env, percentile, wait_all_answered, wait_polling
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer

PHOTOS = int(os.environ.get("CHAOS_PHOTOS", "500"))
KILLS = int(os.environ.get("CHAOS_KILLS", "10"))
USERS = 50
LOAD_SECONDS = 80.0  # about as long as ten kills and restarts take here (a start takes 5-8 s)
SEED = int(os.environ.get("CHAOS_SEED", str(random.randrange(10**6))))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_sigkill_ten_times_during_a_500_photo_load(
    tg: FakeTelegram, aof_redis: RedisServer, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    env = base_env(
        tg, aof_redis.url, tmp_path,
        TG_GLOBAL_RATE=300, TG_CHAT_RATE=30, TG_CHAT_BURST=10,
        FLOOD_LIMIT=10_000, MAX_PENDING_PER_USER=200,
    )
    bot = Photobot(env, tmp_path)
    users = [10_000 + i for i in range(USERS)]
    began = time.monotonic()
    bot.start()
    wait_polling(bot)
    down = [False]  # from the kill until the new process polls again
    load = Load(tg, users, PHOTOS, rate=PHOTOS / LOAD_SECONDS, is_down=lambda: down[0]).start()
    downtime: list[float] = []
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 4.0))  # the kill schedule: up a random while,
            down[0] = True
            bot.kill()
            killed = time.monotonic()
            time.sleep(rng.uniform(0.0, 0.5))  # then down a random while
            bot.start()
            wait_polling(bot)
            down[0] = False
            downtime.append(time.monotonic() - killed)
        load.join(120)
        result = wait_all_answered(tg, load.sent, timeout=150)
    finally:
        code = bot.stop()
        leftovers = bot.leftovers()
        bot.clean_up()
    seconds = time.monotonic() - began
    sent_down = sum(1 for photo in load.sent if photo.while_down)
    print()
    print(result.line(
        "sigkill", seconds, restarts=bot.kills, sent_while_down=sent_down,
        down_s=round(sum(downtime), 1), seed=SEED,
        p50_s=round(percentile(result.latencies, 0.5), 2), p99_s=round(percentile(result.latencies, 0.99), 2),
    ))
    print("stray status messages:", result.stray_texts[:5])
    assert bot.kills == KILLS
    assert result.photos == PHOTOS
    assert sent_down > 0, "no photo arrived while photobot was down; the schedule tests nothing"
    assert not result.lost, f"lost: {[(p.user_id, p.message_id) for p in result.lost][:10]}\n{bot.tail()}"
    assert not result.duplicated, f"duplicated: {[(p.user_id, p.message_id) for p in result.duplicated]}"
    assert code == 0, bot.tail()
    assert not leftovers, f"processes of a killed photobot outlived it (groups {leftovers})"
