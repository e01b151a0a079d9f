"""`photobot ban|unban|tier`: the operator's way back, through the same UserStore as the chats.

Bad input tried: a malformed user key, an unknown tier, banning or demoting an ADMIN_IDS admin
(refused: one line, exit code 2), and an unban of an ADMIN_IDS admin banned in Redis by hand (the
admin is never treated as banned, and the unban clears the flag).
"""

from __future__ import annotations

import asyncio

import pytest
import redis

from photobot.config import load_settings
from photobot.sessions import Scope, SessionStore
from tests.conftest import Cli


@pytest.fixture(autouse=True)
def _admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "7")


def _issue(user_key: str) -> None:
    async def issue() -> None:
        store = SessionStore.from_settings(load_settings())
        await store.issue(user_key, Scope.ADMIN)
        await store.redis.aclose()

    asyncio.run(issue())


def test_ban_unban_and_tier_from_the_command_line(cli: Cli, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert cli("tier", "tg:5", "admin") == (0, "tg:5 tier=admin banned=no\n", "")
    _issue("tg:5")
    assert cli("tier", "tg:5", "free")[1] == "tg:5 tier=free banned=no\n"
    assert client.scard("{photobot}:sessions:tg:5") == 0, "demotion left a token"
    _issue("tg:5")
    assert cli("ban", "tg:5")[1] == "tg:5 tier=free banned=yes\n"
    assert client.scard("{photobot}:sessions:tg:5") == 0, "the ban left a token"
    assert cli("unban", "tg:5")[1] == "tg:5 tier=free banned=no\n"

    client.hset("{photobot}:user:tg:7", "banned", "1")  # banned before admins were protected
    assert cli("tier", "tg:7")[0] == 2  # (argparse: TIER is required)
    assert cli("unban", "tg:7")[1] == "tg:7 tier=admin banned=no\n"
    client.close()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ban", "tg:7"], "ADMIN_IDS"),
        (["tier", "tg:7", "free"], "ADMIN_IDS"),
        (["tier", "tg:5", "gold"], "unknown tier"),
        (["ban", "telegram:5"], "not a user"),
        (["unban", "bob"], "not a user"),
        (["ban", "tg:" + "9" * 80], "not a user"),
    ],
)
def test_refusals_are_one_line(cli: Cli, argv: list[str], needle: str) -> None:
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert needle in err
