"""Tiers end to end: `python -m photobot run` against the fake Bot API and a real redis-server, with
small quotas (free 2, premium 4 photos per rolling 24 hours).

Bad input tried: a photo over the quota (refused with one message, nothing stored, no job), an
album over the quota right after (refused without a second message), /stats from a plain user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer
from tests.telegram_support import BotProcess, small_image, texts, wait_results, wait_text

pytestmark = pytest.mark.slow
ADMIN = 1
SETTINGS = {
    "admin_ids": ADMIN,
    "tier_quotas": "free=2,premium=4,admin=unlimited",
    "premium_price_stars": 50,
    "premium_days": 30,
    "concurrent_jobs": 2,
    "tg_global_rate": 500,
    "tg_chat_rate": 50,
    "tg_chat_burst": 10,
}


@pytest.fixture(scope="module")
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram.run_in_thread() as fake:
        yield fake


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiers")


@pytest.fixture(scope="module")
def bot(tg: FakeTelegram, redis_server: RedisServer, workdir: Path) -> Iterator[BotProcess]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    with BotProcess(tg, redis_server.url, workdir, **SETTINGS) as process:
        process.start(tg)
        yield process
        assert process.stop() == 0, process.log_tail()


def command(tg: FakeTelegram, user: int, text: str) -> str:
    before = len(texts(tg, user))
    tg.inject_text(user, text)
    tg.wait_for_sync(lambda: len(texts(tg, user)) > before, 30)
    return texts(tg, user)[-1]


def stored_files(workdir: Path) -> int:
    return sum(1 for path in (workdir / "storage").rglob("*") if path.is_file())


def test_quota_reached_and_refused(tg: FakeTelegram, bot: BotProcess, workdir: Path) -> None:
    user = 301
    for index in range(2):
        tg.inject_photo(user, small_image(3010 + index), caption="sepia")
        wait_results(tg, user, index + 1, bot=bot)
    stored = stored_files(workdir)
    tg.inject_photo(user, small_image(3019), caption="sepia")
    refusal = wait_text(tg, user, "You have used your 2 photos")
    assert "the next one is possible in 23 h 59 min." in refusal
    assert "Premium gives 4 photos a day and a faster queue: /premium" in refusal
    assert stored_files(workdir) == stored  # nothing of the refused photo is kept
    assert "(1–2 of 2)" in command(tg, user, "/jobs")
    # An album over the quota right after: refused too, and no second message within the minute
    # (a chat's updates are handled in order, so /tier is answered after the album).
    tg.inject_album(user, [small_image(3020), small_image(3021), small_image(3022)], caption="sepia")
    tier = command(tg, user, "/tier")
    assert len([t for t in texts(tg, user) if t.startswith("You have used")]) == 1
    assert tier.startswith("Your tier: free.\nPhotos left for the last 24 hours: 0 of 2.")
    assert "The next one comes back in 23 h 59 min." in tier
    assert stored_files(workdir) == stored
    help_text = command(tg, user, "/help")
    assert "Photos left for the last 24 hours: 0 of 2." in help_text and "/grant" not in help_text
    assert command(tg, user, "/stats").startswith("Sorry, this command is for admins only.")
    stats = command(tg, ADMIN, "/stats")
    assert "refused over quota today: 4" in stats and "active premium users: 0" in stats
    assert "Photos: no daily limit." in command(tg, ADMIN, "/tier")
