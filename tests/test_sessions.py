"""Session tokens against a real redis-server: issue, use, expire by TTL, revoke; never in a log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import cast

import pytest

from photobot import logs
from photobot.config import Settings
from photobot.logs import configure_logging, get_logger
from photobot.sessions import MAX_TOKENS_PER_USER, InvalidSessionRequest, Scope, SessionStore, token_digest


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SessionStore]:
    sessions = SessionStore.from_settings(settings)
    yield sessions
    await sessions.redis.aclose()


async def test_issue_gives_a_urlsafe_token_of_256_bits_and_stores_only_its_hash(store: SessionStore) -> None:
    token = await store.issue("tg:42")
    assert len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)
    keys = await store.redis.keys("*")
    assert all(token not in key for key in keys)
    for key in keys:
        kind = await store.redis.type(key)
        if kind == "hash":
            values = list((await cast(Awaitable[dict[str, str]], store.redis.hgetall(key))).values())
        else:
            values = list(await cast(Awaitable[set[str]], store.redis.smembers(key)))
        assert token not in json.dumps(values)
    record_key = f"{{photobot}}:session:{token_digest(token)}"
    record = await cast(Awaitable[dict[str, str]], store.redis.hgetall(record_key))
    assert record["user"] == "tg:42" and record["scope"] == "user"
    assert 86390 <= await store.redis.ttl(f"{{photobot}}:session:{token_digest(token)}") <= 86400


async def test_tokens_are_unique(store: SessionStore) -> None:
    tokens = {await store.issue("tg:1") for _ in range(50)}
    assert len(tokens) == 50


async def test_verify_returns_the_session_with_user_scope_and_expiry(store: SessionStore) -> None:
    token = await store.issue("vk:7", Scope.ADMIN, ttl=120)
    session = await store.verify(token)
    assert session is not None
    assert session.user_key == "vk:7" and session.is_admin
    assert 119 <= session.expires_at - session.issued_at <= 120


@pytest.mark.parametrize(
    "bad",
    ["", "x", "a" * 42, "a" * 44, "a" * 42 + "!", "Bearer " + "a" * 43, "../" * 15, "é" * 43],
)
async def test_verify_rejects_malformed_and_unknown_tokens(store: SessionStore, bad: str) -> None:
    await store.issue("tg:1")
    assert await store.verify(bad) is None


async def test_a_token_that_was_never_issued_is_rejected(store: SessionStore) -> None:
    assert await store.verify("A" * 43) is None


async def test_token_expires_by_redis_ttl(store: SessionStore) -> None:
    token = await store.issue("tg:5", ttl=1)
    assert await store.verify(token) is not None
    await asyncio.sleep(1.2)  # the 1 s TTL runs out
    assert await store.verify(token) is None
    assert not await store.redis.exists(f"{{photobot}}:session:{token_digest(token)}")


async def test_revoke_all_revokes_every_token_of_the_user_and_no_other(store: SessionStore) -> None:
    mine = [await store.issue("tg:9") for _ in range(3)]
    other = await store.issue("tg:10")
    assert await store.count("tg:9") == 3
    assert await store.revoke_all("tg:9") == 3
    for token in mine:
        assert await store.verify(token) is None
    assert await store.verify(other) is not None
    assert await store.revoke_all("tg:9") == 0
    fresh = await store.issue("tg:9")
    assert await store.verify(fresh) is not None


async def test_revoke_one_token(store: SessionStore) -> None:
    first, second = await store.issue("tg:3"), await store.issue("tg:3")
    assert await store.revoke(first)
    assert not await store.revoke(first)
    assert not await store.revoke("short")
    assert await store.verify(first) is None
    assert await store.verify(second) is not None
    assert await store.count("tg:3") == 1


async def test_index_lives_as_long_as_the_longest_token(store: SessionStore) -> None:
    await store.issue("tg:4", ttl=1000)
    await store.issue("tg:4", ttl=100)
    assert await store.redis.ttl("{photobot}:sessions:tg:4") > 900


@pytest.mark.parametrize(
    ("user_key", "ttl"),
    [("", None), ("123", None), ("tg:", None), ("tg:1 2", None), ("TG:1", None),
     ("tg:1", 0), ("tg:1", -5), ("tg:1", 10**9)],
)
async def test_issue_rejects_bad_user_keys_and_ttls(
    store: SessionStore, user_key: str, ttl: int | None
) -> None:
    with pytest.raises(InvalidSessionRequest):
        await store.issue(user_key, ttl=ttl)
    assert await store.redis.dbsize() == 0


async def test_a_corrupt_record_is_rejected_not_raised(store: SessionStore) -> None:
    token = await store.issue("tg:6")
    record_key = f"{{photobot}}:session:{token_digest(token)}"
    await cast(Awaitable[int], store.redis.hset(record_key, "scope", "root"))
    assert await store.verify(token) is None


async def test_tokens_never_reach_a_log_line(store: SessionStore, tmp_path: Path) -> None:
    log_file = tmp_path / "photobot.log"
    configure_logging("DEBUG", "json", log_file, to_stderr=False)
    try:
        token = await store.issue("tg:77", Scope.ADMIN)
        assert await store.verify(token) is not None
        logger = get_logger("test")
        logger.info("careless", value=token, nested={"x": [token]})
        logger.info(f"formatted {token} into the event")
        logging.getLogger("stdlib").warning("stdlib line %s", token)
        await store.revoke_all("tg:77")
    finally:
        for handler in logging.getLogger().handlers:
            handler.flush()
    text = log_file.read_text()
    assert "session.issued" in text and "careless" in text and "stdlib line" in text
    assert token not in text
    configure_logging("INFO", "json", None, to_stderr=False)


async def test_a_user_keeps_at_most_five_live_tokens(store: SessionStore) -> None:
    """/token over and over (or `token issue` in a loop): the oldest tokens are revoked to make
    room, expired ones leave the index, and other users' tokens are untouched."""
    other = await store.issue("tg:2")
    tokens = []
    for _ in range(8):
        tokens.append(await store.issue("tg:1"))
        await asyncio.sleep(0.01)  # issued one after another in time: "oldest" is well defined
    assert await store.count("tg:1") == MAX_TOKENS_PER_USER == 5
    assert await cast(Awaitable[int], store.redis.scard("{photobot}:sessions:tg:1")) == 5
    live = [token for token in tokens if await store.verify(token) is not None]
    assert len(live) == 5 and await store.verify(other) is not None
    assert tokens[-1] in live


async def test_issued_tokens_do_not_grow_the_redaction_list(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every issued or verified token used to join an in-memory list scanned for every log line
    (21.6 ms a line at 100,000 tokens). Session tokens are now redacted by their shape."""
    monkeypatch.setattr(logs, "_extra_secrets", set(logs._extra_secrets))  # this test fills it
    before = len(logs._extra_secrets)
    tokens = [await store.issue(f"tg:{i}") for i in range(300)]
    for token in tokens[:50]:
        await store.verify(token)
    assert len(logs._extra_secrets) == before
    for token in tokens[:50]:
        assert logs.redact_text(f"GET /api?x=1 {token}.") == f"GET /api?x=1 {logs.REDACTED}."
    job_id, digest = "0123456789abcdef0123456789abcdef", token_digest(tokens[0])
    assert logs.redact_text(f"job {job_id} digest {digest}") == f"job {job_id} digest {digest}"
    # Glued to other characters, as in a path a client made up: still redacted.
    assert tokens[1] not in logs.redact_text(f"GET /api/v1/jobs/{tokens[1]}x HTTP/1.1")
    assert tokens[2] not in logs.redact_text(f"GET /api/v1/jobs/x{tokens[2]}")
    for index in range(1000):  # a runaway caller of register_secret cannot grow the scan either
        logs.register_secret(f"configured-secret-{index}")
    assert len(logs._extra_secrets) <= logs.MAX_REGISTERED
