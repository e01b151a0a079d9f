"""Helpers for the queue tests: building jobs, opening a queue, and checking the Redis structures
directly against the queue's invariants (every job in exactly one state, none lost)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis

from photobot.config import Settings
from photobot.jobs import Job
from photobot.queue import JobQueue
from tests.fixtures.redis_server import reply

FINAL_SETS = {"completed": "completed", "failed": "failed", "cancelled": "cancelled"}


def make_job(user: str | int = "1", tier: str = "free", **fields: Any) -> Job:
    fields.setdefault("operation", "blur")
    fields.setdefault("photo_id", "photo-1")
    return Job(user_id=str(user), tier=tier, **fields)


@asynccontextmanager
async def open_queue(settings: Settings) -> AsyncIterator[JobQueue]:
    queue = JobQueue.from_settings(settings)
    try:
        yield queue
    finally:
        await queue.close()


def check_invariants(url: str, prefix: str = "{photobot}") -> dict[str, set[str]]:
    """Read every queue structure and assert the invariants; returns job ids by status."""
    r = redis.Redis.from_url(url, decode_responses=True)
    try:
        return _check(r, prefix)
    finally:
        r.close()


def _check(r: redis.Redis, prefix: str) -> dict[str, set[str]]:
    jobs: dict[str, dict[str, str]] = {}
    for key in r.scan_iter(f"{prefix}:job:*", count=1000):
        jobs[key.rsplit(":", 1)[1]] = reply(r.hgetall(key))
    by_status: dict[str, set[str]] = {}
    for jid, h in jobs.items():
        by_status.setdefault(h["status"], set()).add(jid)

    def zset(name: str) -> set[str]:
        return set(reply(r.zrange(f"{prefix}:{name}", 0, -1)))

    # Each state's structure holds exactly the jobs in that state.
    assert zset("pending") == by_status.get("pending", set()), "pending index"
    assert zset("processing") == by_status.get("processing", set()), "processing set"
    assert zset("retry") == by_status.get("retrying", set()), "retry set"
    for status, name in FINAL_SETS.items():
        assert zset(name) == by_status.get(status, set()), f"{name} set"

    # Pending jobs: in their tier's age set and exactly once in their user's FIFO of that tier;
    # a user is in a tier's ring exactly once when its FIFO there is not empty.
    placed: Counter[str] = Counter()
    for key in r.scan_iter(f"{prefix}:uq:*", count=1000):
        _, _, priority, user_key = key.split(":", 3)
        for jid in reply(r.lrange(key, 0, -1)):
            placed[jid] += 1
            h = jobs[jid]
            assert h["status"] == "pending", f"{jid} queued but {h['status']}"
            assert h["priority"] == priority and h["user_key"] == user_key, f"{jid} in the wrong FIFO"
        ring = reply(r.lrange(f"{prefix}:ring:{priority}", 0, -1))
        assert ring.count(user_key) == 1, f"{user_key} appears {ring.count(user_key)} times in ring"
    for key in r.scan_iter(f"{prefix}:ring:*", count=1000):
        priority = key.rsplit(":", 1)[1]
        for user_key in reply(r.lrange(key, 0, -1)):
            assert reply(r.llen(f"{prefix}:uq:{priority}:{user_key}")) > 0, f"{user_key} in ring, no jobs"
    for jid in by_status.get("pending", set()):
        assert placed[jid] == 1, f"{jid} is in {placed[jid]} FIFOs"
        priority = jobs[jid]["priority"]
        assert r.zscore(f"{prefix}:age:{priority}", jid) is not None, f"{jid} missing from age set"
    ages = set()
    for key in r.scan_iter(f"{prefix}:age:*", count=1000):
        ages |= set(reply(r.zrange(key, 0, -1)))
    assert ages == by_status.get("pending", set()), "age sets"

    # Leases carry a token; unfinished jobs are counted against their user's cap.
    for jid in by_status.get("processing", set()):
        assert jobs[jid].get("lease_token"), f"{jid} processing without a token"
    active: dict[str, set[str]] = {}
    for jid, h in jobs.items():
        if h["status"] in ("pending", "processing", "retrying"):
            active.setdefault(h["user_key"], set()).add(jid)
    for key in r.scan_iter(f"{prefix}:user:*:active", count=1000):
        user_key = key[len(prefix) + len(":user:") : -len(":active")]
        assert set(reply(r.smembers(key))) == active.pop(user_key, set()), f"active set of {user_key}"
    assert not active, f"active jobs without an active set: {active}"
    return by_status
