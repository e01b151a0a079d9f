"""A Stars payment survives what can happen between Telegram's successful_payment and its grant:
photobot killed, Redis refusing the write, Redis down. Each time the payment is applied exactly once
when photobot and Redis are back (`python -m photobot bot` against the fake Bot API and a
redis-server of the test's own, with an append-only file).

Bad input tried: a payment whose grant Redis refuses (the script is not allowed) while photobot is
killed, the same payment delivered again afterwards, a payment sent while Redis is down.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer, reply
from tests.telegram_support import BotProcess, texts, wait_text
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
PRICE = 50
SETTINGS = {"premium_price_stars": PRICE, "premium_days": 30, "tg_chat_rate": 50, "tg_chat_burst": 10}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    own = RedisServer(tmp_path / "redis", appendonly=True).start()
    yield own
    own.stop()


@pytest.fixture
def spawn(tg: FakeTelegram, server: RedisServer, tmp_path: Path) -> Iterator[Callable[[], BotProcess]]:
    with contextlib.ExitStack() as stack:

        def make() -> BotProcess:
            return stack.enter_context(BotProcess(tg, server.url, tmp_path / "bot", mode="bot", **SETTINGS))

        yield make


def checkout(tg: FakeTelegram, user: int) -> str:
    """The user passes the pre-checkout of a one-off invoice; returns its payload."""
    payload = f"premium:v1:once:{user}:{PRICE}:30"
    query = tg.inject_pre_checkout(user, payload, PRICE)
    tg.wait_for_sync(lambda: tg.pre_checkout_answer(query) is not None, 30)
    assert tg.pre_checkout_answer(query) == {"ok": True, "error_message": None}
    return payload


def ledger(url: str, user: int, charge: str) -> tuple[dict[bytes, bytes], int, float | None]:
    client = redis.Redis.from_url(url)
    try:
        return (
            reply(client.hgetall(f"{{photobot}}:payment:{charge}")),
            reply(client.zcard(f"{{photobot}}:payments:tg:{user}")),
            reply(client.zscore("{photobot}:premium", f"tg:{user}")),
        )
    finally:
        client.close()


def in_inbox(tg: FakeTelegram, url: str, update_id: int) -> bool:
    client = redis.Redis.from_url(url)
    try:
        return bool(client.hexists(f"{{photobot}}:tg:inbox:{tg.token.split(':')[0]}", str(update_id)))
    finally:
        client.close()


def test_killed_while_redis_refuses_the_grant_then_applied_once(
    tg: FakeTelegram, server: RedisServer, spawn: Callable[[], BotProcess]
) -> None:
    user = 701
    first = spawn().start(tg)
    payload = checkout(tg, user)
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("ACL", "SETUSER", "default", "-@scripting")  # the grant's script is refused
    try:
        update_id, charge = tg.inject_successful_payment(user, payload, PRICE)
        # Kept in the inbox and confirmed to Telegram, but not granted: the handler keeps retrying.
        wait_until(lambda: tg.confirmed_offset > update_id and in_inbox(tg, server.url, update_id), 30)
        wait_until(lambda: "payment" in first.log_tail(200) and "not stored" in first.log_tail(200), 30)
        assert ledger(server.url, user, charge) == ({}, 0, None)
        first.kill()  # the crash between successful_payment and its grant
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "+@all")
        admin.close()
    second = spawn().start(tg)
    wait_text(tg, user, "Thank you! Premium is yours until")
    record, count, until = ledger(server.url, user, charge)
    assert record[b"status"] == b"paid" and record[b"stars"] == b"50" and count == 1
    assert until is not None and 29.9 < (until / 1000 - time.time()) / 86400 <= 30.01
    # Telegram delivers it once more: nothing changes.
    again, _ = tg.inject_successful_payment(user, payload, PRICE, charge_id=charge)
    wait_until(lambda: tg.confirmed_offset > again and not in_inbox(tg, server.url, again), 30)
    assert ledger(server.url, user, charge)[1:] == (1, until)
    assert len([t for t in texts(tg, user) if t.startswith("Thank you!")]) == 1
    assert second.stop() == 0


def test_payment_while_redis_is_down_is_applied_once_it_returns(
    tg: FakeTelegram, server: RedisServer, spawn: Callable[[], BotProcess]
) -> None:
    user = 702
    bot = spawn().start(tg)
    payload = checkout(tg, user)
    server.stop()
    update_id, charge = tg.inject_successful_payment(user, payload, PRICE)
    time.sleep(3)  # photobot tries to keep the update and cannot
    assert tg.confirmed_offset <= update_id  # Telegram keeps it: nothing was confirmed
    assert not any(t.startswith("Thank you!") for t in texts(tg, user))
    server.start()
    wait_text(tg, user, "Thank you! Premium is yours until", timeout=60)
    record, count, _ = ledger(server.url, user, charge)
    assert record[b"status"] == b"paid" and count == 1
    assert bot.stop() == 0
