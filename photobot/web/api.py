"""The JSON API under /api/v1: a user's own jobs, their results, and the admin's queue controls.

Each route is declared once, in OPERATIONS, with what the OpenAPI document says about it (summary,
parameters, body, answers); `openapi.py` builds the document from that list and `register` adds
the routes from it, so the document cannot describe a route that does not exist or miss one.
Ownership is checked here: a user token reaches its own jobs only (403 for another's), an admin
token reaches every job and the admin routes.
"""

from __future__ import annotations

import json
import re

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from photobot.gdrive import StorageError
from photobot.jobs import Job, JobStatus
from photobot.locales import error_text
from photobot.users import ProtectedAdmin
from photobot.web.auth import current_session, require_admin
from photobot.web.deps import DEPS_KEY
from photobot.web.errors import ApiError
from photobot.web.openapi import Operation, Param
from photobot.web.schemas import (
    JOB_ID_PATTERN,
    MAX_LIMIT,
    MAX_OFFSET,
    USER_KEY_PATTERN,
    JobOut,
    JobPage,
    Me,
    TierChange,
    UserTier,
)

CHUNK_BYTES = 64 * 1024
MAX_BODY_BYTES = 4096
MAX_RESULTS = 100
_JOB_ID = re.compile(JOB_ID_PATTERN)
_USER_KEY = re.compile(USER_KEY_PATTERN)
_IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF8", "image/gif", "gif"),
)


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ApiError(422, "invalid_parameter", f"{name} must be an integer, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise ApiError(422, "invalid_parameter", f"{name} must be between {low} and {high}, got {value}")
    return value


def _job_id(request: web.Request) -> str:
    job_id = request.match_info["job_id"]
    if not _JOB_ID.match(job_id):
        raise ApiError(422, "invalid_parameter", "job_id must be 1-64 letters, digits, '-' or '_'")
    return job_id


async def _visible_job(request: web.Request) -> Job:
    """The job named in the path, if the caller may see it: 404 unknown, 403 another user's."""
    job_id = _job_id(request)
    session = current_session(request)
    job = await request.app[DEPS_KEY].queue.get(job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    if not session.is_admin and job.user_key != session.user_key:
        raise ApiError(403, "forbidden", "This job belongs to someone else.")
    return job


def _sniff(data: bytes) -> tuple[str, str]:
    for magic, mime, extension in _IMAGE_TYPES:
        if data.startswith(magic):
            return mime, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return "application/octet-stream", "bin"


# --- Handlers ------------------------------------------------------------------------------------
async def me(request: web.Request) -> web.Response:
    """The caller, with the numbers /tier shows in a chat: the quota, what is left, premium's end."""
    session = current_session(request)
    deps = request.app[DEPS_KEY]
    user = await deps.users.get(session.user_key)
    quota = left = next_ms = None
    if deps.quotas is not None:
        allowance = await deps.quotas.allowance(session.user_key, user.tier)
        quota, left, next_ms = allowance.limit, allowance.left, allowance.next_unit_ms
    return _json(Me.build(
        session.user_key, session.scope, user.tier, session.expires_at * 1000, quota=quota, quota_left=left,
        quota_next_at_ms=next_ms, premium_until_ms=user.premium_until,
    ))


async def list_jobs(request: web.Request) -> web.Response:
    session = current_session(request)
    raw_status = request.query.get("status")
    status: JobStatus | None = None
    if raw_status is not None:
        try:
            status = JobStatus(raw_status)
        except ValueError:
            names = ", ".join(s.value for s in JobStatus)
            raise ApiError(422, "invalid_parameter", f"status must be one of {names}") from None
    limit = _int_param(request, "limit", 20, 1, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0, MAX_OFFSET)
    jobs, total = await request.app[DEPS_KEY].queue.user_jobs(session.user_key, status, limit, offset)
    return _json(JobPage(jobs=[JobOut.from_job(j) for j in jobs], total=total, limit=limit, offset=offset))


async def get_job(request: web.Request) -> web.Response:
    return _json(JobOut.from_job(await _visible_job(request)))


async def job_result(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS_KEY]
    index = _int_param(request, "index", 0, 0, MAX_RESULTS - 1)
    job = await _visible_job(request)
    if job.status is not JobStatus.COMPLETED or not job.result_ids:
        raise ApiError(409, "no_result", f"Job {job.job_id} is {job.status.value}; it has no result yet.")
    if index >= len(job.result_ids):
        raise ApiError(404, "result_not_found", f"Job {job.job_id} has {len(job.result_ids)} result(s).")
    try:
        data = await deps.storage.get(job.result_ids[index])
    except deps.missing_errors:
        raise ApiError(404, "result_missing", "The result file is no longer in storage.") from None
    except StorageError as error:
        raise ApiError(503, "storage_unavailable", error_text(error, "en")) from None
    mime, extension = _sniff(data)
    response = web.StreamResponse(
        headers={
            "Content-Type": mime,
            "Content-Disposition": f'inline; filename="{job.job_id}-{index}.{extension}"',
            "Cache-Control": "private, max-age=3600",
        }
    )
    response.content_length = len(data)
    await response.prepare(request)
    view = memoryview(data)
    for start in range(0, len(data), CHUNK_BYTES):
        await response.write(view[start : start + CHUNK_BYTES])
    await response.write_eof()
    return response


async def cancel_job(request: web.Request) -> web.Response:
    job = await _visible_job(request)
    deps = request.app[DEPS_KEY]
    cancelled = await deps.queue.cancel(job.job_id)
    if deps.show_final is not None:
        await deps.show_final(cancelled)
    return _json(JobOut.from_job(cancelled))


async def queue_stats(request: web.Request) -> web.Response:
    require_admin(request)
    return _json(await request.app[DEPS_KEY].queue.stats())


async def requeue_job(request: web.Request) -> web.Response:
    require_admin(request)
    job = await request.app[DEPS_KEY].queue.requeue(_job_id(request))
    return _json(JobOut.from_job(job))


async def set_tier(request: web.Request) -> web.Response:
    require_admin(request)
    deps = request.app[DEPS_KEY]
    user_key = request.match_info["user_key"]
    if not _USER_KEY.match(user_key):
        raise ApiError(422, "invalid_parameter", "user id must be a user key such as tg:123 or vk:456")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(422, "invalid_body", f"The body must be under {MAX_BODY_BYTES} bytes.")
    try:
        change = TierChange.model_validate(json.loads(raw or b"null"))
    except (ValueError, ValidationError):
        raise ApiError(422, "invalid_body", 'Send a JSON object such as {"tier": "premium"}.') from None
    if change.tier not in deps.settings.tiers:
        known = ", ".join(deps.settings.tiers)
        raise ApiError(422, "unknown_tier", f"Tier must be one of {known}.")
    try:
        await deps.users.set_tier(user_key, change.tier)
    except ProtectedAdmin:
        raise ApiError(403, "forbidden", "An admin named in ADMIN_IDS keeps the admin tier.") from None
    return _json(UserTier(user_key=user_key, tier=change.tier))


# --- The routes and what the document says of them ---------------------------------------------
JOB_ID = Param("job_id", "path", {"type": "string", "pattern": JOB_ID_PATTERN}, "The job's id.")
OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/me", me, "getMe", "Who this token belongs to, its scope, tier and expiry.", Me),
    Operation(
        "GET", "/jobs", list_jobs, "listJobs", "The caller's own jobs, newest first.", JobPage,
        params=(
            Param("status", "query", {"type": "string", "enum": [s.value for s in JobStatus]},
                  "Only jobs in this state."),
            Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20},
                  "Page size."),
            Param("offset", "query", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                  "Jobs to skip."),
        ),
    ),
    Operation("GET", "/jobs/{job_id}", get_job, "getJob", "One job: the caller's own, or any for admins.",
              JobOut, params=(JOB_ID,), errors=(403, 404)),
    Operation(
        "GET", "/jobs/{job_id}/result", job_result, "getJobResult",
        "The result image of a completed job, streamed from storage.", None,
        params=(JOB_ID, Param("index", "query",
                              {"type": "integer", "minimum": 0, "maximum": MAX_RESULTS - 1, "default": 0},
                              "Which result, for operations with several (face crops).")),
        errors=(403, 404, 409), binary=True,
    ),
    Operation("POST", "/jobs/{job_id}/cancel", cancel_job, "cancelJob",
              "Cancel a pending or retrying job (409 once it runs or has ended).", JobOut,
              params=(JOB_ID,), errors=(403, 404, 409)),
    Operation("GET", "/queue/stats", queue_stats, "getQueueStats", "Queue figures (admin).", None,
              errors=(403,), admin=True, response_schema="QueueStats"),
    Operation("POST", "/jobs/{job_id}/requeue", requeue_job, "requeueJob",
              "Send a failed job back to the queue with its attempts reset (admin).", JobOut,
              params=(JOB_ID,), errors=(403, 404, 409), admin=True),
    Operation(
        "POST", "/users/{user_key}/tier", set_tier, "setUserTier", "Set a user's tier (admin).", UserTier,
        params=(Param("user_key", "path", {"type": "string", "pattern": USER_KEY_PATTERN},
                      "The user across platforms: tg:123 or vk:456."),),
        body=TierChange, errors=(403,), admin=True,
    ),
)


def _strict_query(operation: Operation) -> Handler:
    """The handler, refusing query parameters the document does not name (a typo such as
    ?stauts=failed would otherwise be ignored and answer with every job)."""
    known = {param.name for param in operation.params if param.location == "query"}

    async def handler(request: web.Request) -> web.StreamResponse:
        unknown = sorted(set(request.query) - known)
        if unknown:
            raise ApiError(422, "invalid_parameter", f"Unknown query parameter {unknown[0][:40]!r}.")
        return await operation.handler(request)

    return handler


def register(app: web.Application) -> None:
    for operation in OPERATIONS:
        app.router.add_route(
            operation.method, operation.path, _strict_query(operation), name=operation.operation_id
        )
