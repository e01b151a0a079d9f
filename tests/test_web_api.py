"""The JSON API, every endpoint under every kind of caller, against a real queue and redis-server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis

from photobot.config import Settings
from photobot.jobs import Job, JobStatus
from photobot.payments import PremiumLedger
from photobot.redis_client import RedisClient
from photobot.sessions import Scope, token_digest
from tests.waiting import eventually
from tests.web_support import TINY_JPEG, Stack, web_stack

OWNER, OTHER, ADMIN = "tg:1", "tg:2", "tg:99"


@dataclass
class World:
    """Three jobs of OWNER: one pending, one completed with a result, one failed."""

    stack: Stack
    pending: str
    completed: str
    failed: str


@pytest.fixture
async def world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    async with web_stack(settings, tmp_path) as stack:
        await stack.enqueue(OWNER)
        completed = await stack.run_one()
        await stack.enqueue(OWNER)
        failed = await stack.run_one(fail=True)
        pending = await stack.enqueue(OWNER)
        assert (completed.status, failed.status) == (JobStatus.COMPLETED, JobStatus.FAILED)
        yield World(stack, pending.job_id, completed.job_id, failed.job_id)


async def _gone(redis: RedisClient, key: str) -> bool:
    return not await redis.exists(key)


async def caller_token(world: World, caller: str) -> str | None:
    """A token of each kind of caller; None sends no Authorization header."""
    sessions = world.stack.sessions
    if caller == "none":
        return None
    if caller == "malformed":
        return "not a token"
    if caller == "unknown":
        return "A" * 43
    if caller == "expired":
        token = await sessions.issue(OWNER, ttl=60)
        key = f"{{photobot}}:session:{token_digest(token)}"
        await sessions.redis.pexpire(key, 1)
        await eventually(lambda: _gone(sessions.redis, key), 5, "the session to expire")
        return token
    if caller == "revoked":
        token = await sessions.issue(OWNER, Scope.ADMIN)
        await sessions.revoke_all(OWNER)
        return token
    callers = {"owner": (OWNER, Scope.USER), "other": (OTHER, Scope.USER), "admin": (ADMIN, Scope.ADMIN)}
    user, scope = callers[caller]
    return await world.stack.token(user, scope)


# endpoint -> (method, path template, JSON body)
ENDPOINTS = {
    "me": ("GET", "/api/v1/me", None),
    "jobs": ("GET", "/api/v1/jobs", None),
    "job": ("GET", "/api/v1/jobs/{completed}", None),
    "result": ("GET", "/api/v1/jobs/{completed}/result", None),
    "cancel": ("POST", "/api/v1/jobs/{pending}/cancel", None),
    "stats": ("GET", "/api/v1/queue/stats", None),
    "requeue": ("POST", "/api/v1/jobs/{failed}/requeue", None),
    "tier": ("POST", "/api/v1/users/tg:1/tier", {"tier": "premium"}),
}
EXPECTED = {
    #            me   jobs job  result cancel stats requeue tier
    "owner": (200, 200, 200, 200, 200, 403, 403, 403),
    "other": (200, 200, 403, 403, 403, 403, 403, 403),
    "admin": (200, 200, 200, 200, 200, 200, 200, 200),
}
CASES = [
    (endpoint, caller, EXPECTED.get(caller, (401,) * len(ENDPOINTS))[i])
    for i, endpoint in enumerate(ENDPOINTS)
    for caller in ("none", "malformed", "unknown", "expired", "revoked", "other", "owner", "admin")
]


@pytest.mark.parametrize(("endpoint", "caller", "status"), CASES, ids=[f"{e}-{c}" for e, c, _ in CASES])
async def test_endpoint_under_every_caller(world: World, endpoint: str, caller: str, status: int) -> None:
    method, template, body = ENDPOINTS[endpoint]
    path = template.format(pending=world.pending, completed=world.completed, failed=world.failed)
    token = await caller_token(world, caller)
    got, answer = await world.stack.call(method, path, token, json=body)
    assert got == status, answer
    if status != 200:
        assert set(answer["error"]) == {"code", "message"}
        expected_codes = {401: {"unauthorized", "invalid_token"}, 403: {"forbidden"}}[status]
        assert answer["error"]["code"] in expected_codes
    # Nothing a refused caller asked for happened.
    queue = world.stack.queue
    pending, failed = await queue.get(world.pending), await queue.get(world.failed)
    assert pending is not None and failed is not None
    assert (pending.status == JobStatus.CANCELLED) == (endpoint == "cancel" and status == 200)
    assert (failed.status == JobStatus.PENDING) == (endpoint == "requeue" and status == 200)
    tier = await world.stack.users.get_tier(OWNER)
    assert (tier == "premium") == (endpoint == "tier" and status == 200)


async def test_401_carries_a_bearer_challenge(world: World) -> None:
    async with world.stack.http.get(world.stack.base + "/api/v1/me") as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    basic = {"Authorization": "Basic dXNlcjpwdw=="}
    status, answer = await world.stack.call("GET", "/api/v1/me", headers=basic)
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


async def test_me_tells_user_scope_tier_and_expiry(world: World) -> None:
    token = await world.stack.token(OWNER)
    await world.stack.users.set_tier(OWNER, "premium")
    status, me = await world.stack.call("GET", "/api/v1/me", token)
    session = await world.stack.sessions.verify(token)
    assert status == 200 and session is not None
    # Three of OWNER's chat photos were queued; the failed one (not the file's fault) gave its unit back.
    next_at, next_at_ms = me.pop("quota_next_at"), me.pop("quota_next_at_ms")
    assert me == {"user_key": OWNER, "scope": "user", "tier": "premium", "quota": 500, "quota_left": 498,
                  "expires_at_ms": session.expires_at * 1000, "premium_until_ms": None,
                  "expires_at": session.expires_at, "premium_until": None}
    assert 0 < next_at_ms / 1000 - time.time() <= 86400 and next_at == next_at_ms // 1000


async def test_me_gives_paid_premium_and_its_end(world: World) -> None:
    token = await world.stack.token(OTHER)
    ledger = PremiumLedger(cast(Redis, world.stack.queue.redis), world.stack.settings)
    granted = await ledger.grant_days(OTHER, 2)
    status, me = await world.stack.call("GET", "/api/v1/me", token)
    assert status == 200 and me["tier"] == "premium" and me["premium_until_ms"] == granted.until_ms
    assert me["premium_until"] == granted.until_ms // 1000  # the deprecated seconds twin, for v1 clients
    quota = (me["quota"], me["quota_left"], me["quota_next_at_ms"], me["quota_next_at"])
    assert quota == (500, 500, None, None)


async def test_jobs_lists_own_jobs_with_filter_and_paging(world: World) -> None:
    await world.stack.enqueue(OTHER)
    token = await world.stack.token(OWNER)
    status, page = await world.stack.call("GET", "/api/v1/jobs", token)
    assert status == 200 and page["total"] == 3
    assert {j["job_id"] for j in page["jobs"]} == {world.pending, world.completed, world.failed}
    assert all(j["user_key"] == OWNER for j in page["jobs"])
    _, page = await world.stack.call("GET", "/api/v1/jobs?status=failed", token)
    assert [j["job_id"] for j in page["jobs"]] == [world.failed] and page["total"] == 1
    _, first = await world.stack.call("GET", "/api/v1/jobs?limit=2&offset=0", token)
    _, rest = await world.stack.call("GET", "/api/v1/jobs?limit=2&offset=2", token)
    assert len(first["jobs"]) == 2 and len(rest["jobs"]) == 1 and first["total"] == rest["total"] == 3
    seen = {j["job_id"] for j in first["jobs"] + rest["jobs"]}
    assert seen == {world.pending, world.completed, world.failed}


@pytest.mark.parametrize(
    "query",
    ["status=done", "status=", "stauts=failed", "limit=0", "limit=101", "limit=ten", "limit=1.5", "offset=-1",
     "offset=x", "offset=100001", "limit=99999999999999999999999"],
)
async def test_jobs_rejects_bad_parameters_with_422(world: World, query: str) -> None:
    token = await world.stack.token(OWNER)
    status, answer = await world.stack.call("GET", f"/api/v1/jobs?{query}", token)
    assert (status, answer["error"]["code"]) == (422, "invalid_parameter")


async def test_result_streams_the_stored_image(world: World) -> None:
    token = await world.stack.token(OWNER)
    url = f"{world.stack.base}/api/v1/jobs/{world.completed}/result"
    async with world.stack.http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
        assert response.content_type == "image/jpeg"
        assert int(response.headers["Content-Length"]) == len(TINY_JPEG)
        assert await response.read() == TINY_JPEG


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/jobs/{pending}/result", 409, "no_result"),
        ("/api/v1/jobs/{failed}/result", 409, "no_result"),
        ("/api/v1/jobs/{completed}/result?index=1", 404, "result_not_found"),
        ("/api/v1/jobs/{completed}/result?index=-1", 422, "invalid_parameter"),
        ("/api/v1/jobs/{completed}/result?index=a", 422, "invalid_parameter"),
        ("/api/v1/jobs/0123456789abcdef/result", 404, "job_not_found"),
        ("/api/v1/jobs/0123456789abcdef", 404, "job_not_found"),
        ("/api/v1/jobs/bad%20id!", 422, "invalid_parameter"),
        ("/api/v1/jobs/" + "x" * 65, 422, "invalid_parameter"),
        ("/api/v1/jobs/{completed}/cancel", 409, "not_cancellable"),
        ("/api/v1/jobs/0123456789abcdef/cancel", 404, "job_not_found"),
        ("/api/v1/nowhere", 404, "not_found"),
    ],
)
async def test_owner_errors(world: World, path: str, status: int, code: str) -> None:
    """Unknown ids, jobs without results, bad ids and indexes, a finished job cancelled."""
    token = await world.stack.token(OWNER)
    method = "POST" if path.endswith("/cancel") else "GET"
    path = path.format(pending=world.pending, completed=world.completed, failed=world.failed)
    got, answer = await world.stack.call(method, path, token)
    assert (got, answer["error"]["code"]) == (status, code)


async def test_a_result_gone_from_storage_is_404(world: World) -> None:
    job = await world.stack.queue.get(world.completed)
    assert job is not None
    await world.stack.storage.delete(job.result_ids[0])
    token = await world.stack.token(OWNER)
    status, answer = await world.stack.call("GET", f"/api/v1/jobs/{world.completed}/result", token)
    assert (status, answer["error"]["code"]) == (404, "result_missing")


async def test_wrong_method_is_405_in_json(world: World) -> None:
    token = await world.stack.token(OWNER)
    status, answer = await world.stack.call("DELETE", "/api/v1/me", token)
    assert (status, answer["error"]["code"]) == (405, "method_not_allowed")


async def test_admin_requeue_and_its_conflicts(world: World) -> None:
    token = await world.stack.token(ADMIN, Scope.ADMIN)
    status, job = await world.stack.call("POST", f"/api/v1/jobs/{world.failed}/requeue", token)
    assert status == 200 and job["status"] == "pending" and job["attempts"] == 0
    status, answer = await world.stack.call("POST", f"/api/v1/jobs/{world.failed}/requeue", token)
    assert (status, answer["error"]["code"]) == (409, "not_requeueable")
    status, answer = await world.stack.call("POST", "/api/v1/jobs/0123456789abcdef/requeue", token)
    assert (status, answer["error"]["code"]) == (404, "job_not_found")


async def test_admin_stats_reflect_the_queue(world: World) -> None:
    token = await world.stack.token(ADMIN, Scope.ADMIN)
    status, stats = await world.stack.call("GET", "/api/v1/queue/stats", token)
    assert status == 200
    assert stats["counts"]["pending"] == 1 and stats["counts"]["completed"] == 1
    assert stats["counts"]["failed"] == 1 and stats["tiers"]["free"] == 1


@pytest.mark.parametrize(
    ("user_key", "body", "code"),
    [
        ("tg:1", {"tier": "gold"}, "unknown_tier"),
        ("tg:1", {"tier": ""}, "invalid_body"),
        ("tg:1", {"tier": 5}, "invalid_body"),
        ("tg:1", {"level": "premium"}, "invalid_body"),
        ("tg:1", {"tier": "premium", "extra": 1}, "invalid_body"),
        ("tg:1", ["premium"], "invalid_body"),
        ("tg:1", None, "invalid_body"),
        ("tg:1", "{not json", "invalid_body"),
        ("tg:1", "x" * 5000, "invalid_body"),
        ("telegram:1", {"tier": "premium"}, "invalid_parameter"),
        ("1", {"tier": "premium"}, "invalid_parameter"),
    ],
)
async def test_set_tier_rejects_bad_input_and_changes_nothing(
    world: World, user_key: str, body: object, code: str
) -> None:
    token = await world.stack.token(ADMIN, Scope.ADMIN)
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    status, answer = await world.stack.call("POST", f"/api/v1/users/{user_key}/tier", token, **kwargs)
    assert (status, answer["error"]["code"]) == (422, code)
    assert await world.stack.users.get_tier("tg:1") == "free"


async def test_admin_sets_a_tier(world: World) -> None:
    token = await world.stack.token(ADMIN, Scope.ADMIN)
    body = {"tier": "premium"}
    status, answer = await world.stack.call("POST", "/api/v1/users/vk:5/tier", token, json=body)
    assert status == 200 and answer == {"user_key": "vk:5", "tier": "premium"}
    assert await world.stack.users.get_tier("vk:5") == "premium"


async def test_a_token_opens_only_what_its_user_may_do_now(world: World) -> None:
    """Attack: user 111 gets the admin tier, takes an admin-scope token, loses the tier (or is
    banned) and keeps calling the admin API with the old token. Tried: the tier taken away in
    Redis behind the store's back (no revocation), through the store (revocation), and a ban set
    either way. The token never opens more than the user's record allows at that moment."""
    stack, user = world.stack, "tg:111"
    token = await stack.token(user, Scope.ADMIN)
    assert (await stack.call("GET", "/api/v1/queue/stats", token))[0] == 200
    record_key = f"{{photobot}}:user:{user}"
    await cast(Awaitable[int], stack.sessions.redis.hset(record_key, "tier", "free"))
    for method, path, body in (("GET", "/api/v1/queue/stats", None),
                               ("POST", f"/api/v1/users/{user}/tier", {"tier": "admin"}),
                               ("GET", f"/api/v1/jobs/{world.completed}", None),
                               ("POST", f"/api/v1/jobs/{world.failed}/requeue", None)):
        status, answer = await stack.call(method, path, token, json=body)
        assert (status, answer["error"]["code"]) == (403, "forbidden"), path
    assert await stack.users.get_tier(user) == "free"
    assert (await stack.call("GET", "/api/v1/me", token))[0] == 200  # still the user's own token

    await cast(Awaitable[int], stack.sessions.redis.hset(record_key, "banned", "1"))
    status, answer = await stack.call("GET", "/api/v1/jobs", token)
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert await stack.sessions.count(user) == 0, "a banned user's token was not revoked on use"


async def test_demotion_and_ban_revoke_tokens(world: World) -> None:
    stack, user = world.stack, "tg:112"
    admin_token = await stack.token(user, Scope.ADMIN)
    await stack.users.set_tier(user, "premium")
    status, answer = await stack.call("GET", "/api/v1/me", admin_token)
    assert (status, answer["error"]["code"]) == (401, "invalid_token")
    user_token = await stack.token(user)
    await stack.users.set_tier(user, "free")  # not an admin before: a tier change revokes nothing
    assert (await stack.call("GET", "/api/v1/me", user_token))[0] == 200
    await stack.users.ban(user)
    status, answer = await stack.call("GET", "/api/v1/me", user_token)
    assert (status, answer["error"]["code"]) == (401, "invalid_token")


async def test_a_cancel_through_the_api_is_shown_in_the_chat(settings: Settings, tmp_path: Path) -> None:
    """The API hands the cancelled job to the chat side (photobot.bot.core.status's show_final in a
    running photobot), so its status message ends in "cancelled" as after /cancel in the chat."""
    shown: list[JobStatus] = []

    async def show_final(job: Job) -> None:
        shown.append(job.status)

    async with web_stack(settings, tmp_path, show_final=show_final) as stack:
        job = await stack.enqueue(OWNER)
        token = await stack.token(OWNER)
        status, answer = await stack.call("POST", f"/api/v1/jobs/{job.job_id}/cancel", token)
        assert status == 200 and answer["status"] == "cancelled"
        assert shown == [JobStatus.CANCELLED]
        status, _ = await stack.call("POST", f"/api/v1/jobs/{job.job_id}/cancel", token)
        assert status == 409 and shown == [JobStatus.CANCELLED]
