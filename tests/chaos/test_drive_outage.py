"""Google Drive misbehaving under a photo load: the fake Drive answers 30% of its calls with 503
throughout, and in the middle goes away for 20 s (every connection dropped before an answer).
photobot runs with STORAGE_BACKEND=gdrive and the fake's service-account credentials, and its
default retry settings (MAX_ATTEMPTS 5, RETRY_BASE_SECONDS 2): every job completes, once.

Both halves meet the outage: the bot stores each original before the update leaves its inbox (a
failed store keeps the update there, tried again after a backoff), and the worker fetches the
original and stores the result (a failed call is retried by the Drive client, then by the queue).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.chaos.support import Load, Photobot, base_env, percentile, wait_all_answered, wait_polling
from tests.fakes.drive import FakeDrive
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer

PHOTOS = 60
USERS = 20
OUTAGE_SECONDS = 20.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_drive_errors_and_a_20_second_outage(
    tg: FakeTelegram, aof_redis: RedisServer, tmp_path: Path
) -> None:
    with FakeDrive.run_in_thread() as drive:
        env = base_env(
            tg, aof_redis.url, tmp_path,
            STORAGE_BACKEND="gdrive",
            GDRIVE_API_URL=drive.url,
            GDRIVE_CREDENTIALS_FILE=drive.write_service_account(tmp_path / "sa.json"),
            GDRIVE_FOLDER_ID=drive.create_folder("photobot", shared_drive=True),
            MAX_ATTEMPTS=5, RETRY_BASE_SECONDS=2, RETRY_MAX_SECONDS=300,
            FLOOD_LIMIT=10_000, MAX_PENDING_PER_USER=200,
        )
        bot = Photobot(env, tmp_path)
        began = time.monotonic()
        bot.start()
        wait_polling(bot)
        drive.fail_ratio = 0.3
        load = Load(tg, [30_000 + i for i in range(USERS)], PHOTOS, rate=PHOTOS / 20.0, seed=11).start()
        try:
            time.sleep(5.0)  # the load runs a while before the outage
            drive.go_down(OUTAGE_SECONDS)
            load.join(60)
            result = wait_all_answered(tg, load.sent, timeout=150)
        finally:
            code = bot.stop()
            bot.clean_up()
            drive.fail_ratio = 0.0
        calls = sum(1 for call in drive.calls if "/token" not in call[1])
        print()
        print(result.line(
            "drive-503-and-outage", time.monotonic() - began, drive_calls=calls,
            outage_s=OUTAGE_SECONDS, fail_ratio=0.3,
            p50_s=round(percentile(result.latencies, 0.5), 2),
            p99_s=round(percentile(result.latencies, 0.99), 2),
        ))
        results_stored = {
            f.app_properties.get("job_id") for f in list(drive.state.files.values())
            if f.app_properties.get("kind") == "result"
        }
        assert not result.lost, f"lost: {[(p.user_id, p.message_id) for p in result.lost][:10]}\n{bot.tail()}"
        assert not result.duplicated, f"duplicated: {[(p.user_id, p.message_id) for p in result.duplicated]}"
        assert len(results_stored) == PHOTOS, "every result is stored on the Drive"
        assert code == 0, bot.tail()
