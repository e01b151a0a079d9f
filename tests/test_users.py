"""UserStore on a real redis-server: tiers, bans, languages, and the flood window.

Bad input: unknown tiers, malformed user keys, a repeated update counted twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from photobot.config import Settings
from photobot.jobs import Platform
from photobot.users import FloodVerdict, UnknownTier, UserStore


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_defaults_and_admin_ids(redis: Redis, make_settings: Callable[..., Settings]) -> None:
    users = UserStore(redis, make_settings(admin_ids="7"))
    plain = await users.get("tg:1")
    assert (plain.tier, plain.banned, plain.is_admin, plain.platform) == (
        "free",
        False,
        False,
        Platform.TELEGRAM,
    )
    admin = await users.get("tg:7")
    assert admin.is_admin and admin.tier == "admin"
    # The same number on VK is another person.
    assert not (await users.get("vk:7")).is_admin


async def test_tier_ban_and_language_round_trip(redis: Redis, settings: Settings) -> None:
    users = UserStore(redis, settings)
    await users.set_tier("tg:5", "Premium")
    await users.ban("tg:5")
    await users.touch("tg:5", "ru")
    record = await users.get("tg:5")
    assert (record.tier, record.banned, record.language) == ("premium", True, "ru")
    await users.unban("tg:5")
    assert not (await users.get("tg:5")).banned
    await users.set_tier("tg:5", "admin")
    assert (await users.get("tg:5")).is_admin


@pytest.mark.parametrize("bad_key", ["5", "xx:5", "tg:", ":5"])
async def test_malformed_user_keys_are_refused(redis: Redis, settings: Settings, bad_key: str) -> None:
    users = UserStore(redis, settings)
    with pytest.raises(ValueError):
        await users.get(bad_key)


async def test_unknown_tier_is_refused(redis: Redis, settings: Settings) -> None:
    with pytest.raises(UnknownTier):
        await UserStore(redis, settings).set_tier("tg:1", "platinum")


async def test_flood_warns_once_per_window(redis: Redis, make_settings: Callable[..., Settings]) -> None:
    users = UserStore(redis, make_settings(flood_limit=3, flood_window_seconds=60))
    verdicts = [await users.check_flood("tg:1", f"m{i}") for i in range(6)]
    assert verdicts == [FloodVerdict.ALLOWED] * 3 + [
        FloodVerdict.WARN,
        FloodVerdict.SILENT,
        FloodVerdict.SILENT,
    ]
    # Another user has a window of their own.
    assert await users.check_flood("tg:2", "m0") is FloodVerdict.ALLOWED


async def test_repeated_update_counts_once(redis: Redis, make_settings: Callable[..., Settings]) -> None:
    users = UserStore(redis, make_settings(flood_limit=2, flood_window_seconds=60))
    for _ in range(5):
        assert await users.check_flood("tg:1", "same-message") is FloodVerdict.ALLOWED
    assert await users.check_flood("tg:1", "other") is FloodVerdict.ALLOWED
    assert await users.check_flood("tg:1", "third") is FloodVerdict.WARN


async def test_flood_window_slides(redis: Redis, make_settings: Callable[..., Settings]) -> None:
    import asyncio

    users = UserStore(redis, make_settings(flood_limit=1, flood_window_seconds=0.3))
    assert await users.check_flood("tg:1", "a") is FloodVerdict.ALLOWED
    assert await users.check_flood("tg:1", "b") is FloodVerdict.WARN
    await asyncio.sleep(0.4)  # the window slides past the first two
    assert await users.check_flood("tg:1", "c") is FloodVerdict.ALLOWED


async def test_warn_once(redis: Redis, settings: Settings) -> None:
    users = UserStore(redis, settings)
    assert await users.warn_once("tg:1", "banned", 60)
    assert not await users.warn_once("tg:1", "banned", 60)
    assert await users.warn_once("tg:2", "banned", 60)
