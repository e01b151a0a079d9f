"""The OpenAPI 3.1 document of /api/v1, built from the route list in `api.py` and the pydantic
models that serialise the answers, so code and document change together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp.typedefs import Handler
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from photobot.queue import QueueStats
from photobot.web.schemas import ErrorBody

REF = "#/components/schemas/{model}"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "application/octet-stream")
_STATUS_TEXT = {
    200: "OK",
    401: "Missing, malformed, expired or revoked token (codes unauthorized, invalid_token).",
    403: "Another user's job, or an admin route with a user token (code forbidden).",
    404: "Unknown job or result (codes job_not_found, result_not_found, result_missing).",
    409: "The job is not in a state that allows this (codes not_cancellable, not_requeueable, no_result).",
    422: "A bad parameter or body (codes invalid_parameter, invalid_body, unknown_tier).",
    429: "More requests with this token than API_RATE_LIMIT in the window (code rate_limited; "
    "Retry-After says when to come back).",
    503: "Redis or the storage backend is unreachable (codes unavailable, storage_unavailable).",
}


@dataclass(frozen=True)
class Param:
    name: str
    location: Literal["path", "query"]
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Operation:
    """One route of the API and everything its OpenAPI entry says."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    response: type[BaseModel] | None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    admin: bool = False
    binary: bool = False
    response_schema: str | None = None
    tags: tuple[str, ...] = field(default=())


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _error(status: int) -> dict[str, Any]:
    body = {"application/json": {"schema": _ref("ErrorBody")}}
    return {"description": _STATUS_TEXT[status], "content": body}


def _operation(op: Operation) -> dict[str, Any]:
    if op.binary:
        ok: dict[str, Any] = {
            "description": "The image.",
            "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in IMAGE_TYPES},
        }
    else:
        name = op.response_schema or (op.response.__name__ if op.response else "")
        ok = {"description": "OK", "content": {"application/json": {"schema": _ref(name)}}}
    statuses = {401, 429, 503, *op.errors}
    if op.params or op.body:
        statuses.add(422)
    entry: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": ["admin" if op.admin else "jobs"],
        "security": [{"bearer": []}],
        "responses": {"200": ok, **{str(s): _error(s) for s in sorted(statuses)}},
    }
    if op.params:
        entry["parameters"] = [
            {"name": p.name, "in": p.location, "required": p.location == "path", "schema": p.schema,
             "description": p.description}
            for p in op.params
        ]
    if op.body is not None:
        entry["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body.__name__)}},
        }
    return entry


def _components(operations: tuple[Operation, ...]) -> dict[str, Any]:
    models: list[type[BaseModel]] = [ErrorBody, QueueStats]
    for op in operations:
        for model in (op.response, op.body):
            if model is not None and model not in models:
                models.append(model)
    bodies = {op.body for op in operations if op.body is not None}
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation" if m in bodies else "serialization") for m in models
    ]
    _, top = models_json_schema(pairs, ref_template=REF)
    return dict(top.get("$defs", {}))


def build_document(operations: tuple[Operation, ...], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "photobot API",
            "version": version,
            "description": "A user's jobs and results, and the admin's queue controls. Send "
            "`Authorization: Bearer <token>`; /token in a private chat with the bot gives one, "
            "/logout revokes every token of the user. Errors are "
            '`{"error": {"code": ..., "message": ...}}`.',
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": _components(operations),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
