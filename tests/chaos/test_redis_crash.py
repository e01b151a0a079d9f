"""redis-server (appendonly yes, appendfsync everysec) SIGKILLed twice under a photo load and started
again on the same port: the one `python -m photobot run` reconnects by itself, and every accepted
job completes.

"Accepted" means the update was confirmed to Telegram: the getUpdates offset moved past it, which
photobot does only once the update is in Redis (its inbox, from which the job is made). Those are
the photos Telegram will never send again, so losing one would be a silent loss; the test records
the confirmed offset at each kill and checks each of those photos. Photos not yet confirmed come
again from Telegram and must end the same way: every photo, exactly one visible result.

Redis replies to a write only after it wrote the command to the append-only file (the kernel has
it; everysec is the fsync to the disk), so a killed redis-server loses nothing acknowledged; a
power cut could lose up to a second, which no loopback test can show.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.chaos.support import Load, Photobot, base_env, percentile, wait_all_answered, wait_polling
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer

PHOTOS = 150
USERS = 30
KILLS = 2
DOWN_SECONDS = 3.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_redis_killed_and_restarted_under_load(
    tg: FakeTelegram, aof_redis: RedisServer, tmp_path: Path
) -> None:
    env = base_env(
        tg, aof_redis.url, tmp_path,
        TG_GLOBAL_RATE=300, TG_CHAT_RATE=30, TG_CHAT_BURST=10,
        FLOOD_LIMIT=10_000, MAX_PENDING_PER_USER=200,
    )
    bot = Photobot(env, tmp_path)
    began = time.monotonic()
    bot.start()
    wait_polling(bot)
    load = Load(tg, [20_000 + i for i in range(USERS)], PHOTOS, rate=PHOTOS / 16.0, seed=7).start()
    accepted_at_kill: list[int] = []
    try:
        for _ in range(KILLS):
            time.sleep(5.0)  # the schedule: 5 s up under the load,
            accepted_at_kill.append(tg.confirmed_offset)
            aof_redis.kill()
            time.sleep(DOWN_SECONDS)  # then down a while
            aof_redis.start()
        load.join(60)
        result = wait_all_answered(tg, load.sent, timeout=120)
        alive = bot.running
    finally:
        code = bot.stop()
        bot.clean_up()
    accepted = [p for p in load.sent if p.update_id < max(accepted_at_kill)]
    accepted_lost = [p for p in accepted if p in result.lost]
    print()
    print(result.line(
        "redis-kill", time.monotonic() - began, redis_kills=KILLS, photobot_restarts=bot.starts - 1,
        accepted_before_kill=len(accepted), accepted_lost=len(accepted_lost),
        p50_s=round(percentile(result.latencies, 0.5), 2), p99_s=round(percentile(result.latencies, 0.99), 2),
    ))
    assert alive, f"photobot died with Redis instead of reconnecting:\n{bot.tail()}"
    assert bot.starts == 1
    assert accepted, "no photo was confirmed before the kill; the schedule tests nothing"
    assert not accepted_lost, f"accepted and lost: {[(p.user_id, p.message_id) for p in accepted_lost]}"
    assert not result.lost, f"lost: {[(p.user_id, p.message_id) for p in result.lost][:10]}\n{bot.tail()}"
    assert not result.duplicated, f"duplicated: {[(p.user_id, p.message_id) for p in result.duplicated]}"
    assert code == 0, bot.tail()
