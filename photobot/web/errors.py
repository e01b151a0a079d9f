"""Every failure of the JSON API is one shape: {"error": {"code": ..., "message": ...}}.

Handlers raise `ApiError`; the middleware turns it, aiohttp's own HTTP errors (unknown route, wrong
method) and the queue's errors into that shape, so a client branches on `code` and never parses
HTML or a traceback. Anything unexpected is logged and answered as a plain 500 without detail.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from photobot.locales import error_text
from photobot.logs import get_logger
from photobot.queue import JobNotFound, NotCancellable, NotRequeueable, QueueError

log = get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_parameter",
}


class ApiError(Exception):
    """An answer for the client: HTTP status, a stable code, a message that is safe to show."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def queue_error(error: QueueError) -> ApiError:
    """The HTTP face of a queue error; its code passes through unchanged."""
    if isinstance(error, JobNotFound):
        return ApiError(404, error.code, error_text(error, "en"))
    if isinstance(error, NotCancellable | NotRequeueable):
        return ApiError(409, error.code, error_text(error, "en"))
    return ApiError(422, error.code, error_text(error, "en"))


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message, error.headers)
    except QueueError as error:
        api = queue_error(error)
        return error_response(api.status, api.code, api.message)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers: dict[str, Any] = {}
        if "Allow" in error.headers:
            headers["Allow"] = error.headers["Allow"]
        code = _HTTP_CODES.get(error.status, "http_error")
        return error_response(error.status, code, error.reason, headers)
    except (RedisConnectionError, RedisTimeoutError, TimeoutError):
        log.warning("api.backend_unavailable", path=request.path)
        return error_response(503, "unavailable", "The queue is unreachable; try again shortly.")
    except Exception:
        log.exception("api.unhandled", path=request.path, method=request.method)
        return error_response(500, "internal", "Something went wrong on our side.")
