"""Which Drive failures are worth another try, how long to wait, and what the rest become.

Retried: transport errors (dropped connections, timeouts, DNS), 429, 5xx, and 403 whose reason is
rateLimitExceeded or userRateLimitExceeded. Not retried: storageQuotaExceeded (StorageQuotaError),
404 (FileMissing), other 4xx (StorageError with the reason, for the operator).
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass

import httplib2
from google.auth import exceptions as auth_exceptions
from googleapiclient.errors import HttpError

from photobot.gdrive.errors import FileMissing, StorageError, StorageQuotaError

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTA_REASONS = frozenset({"storageQuotaExceeded", "quotaExceeded", "teamDriveFileLimitExceeded"})
QUOTA_HINT = (
    "a service account has no Drive storage of its own: put GDRIVE_FOLDER_ID in a shared drive, "
    "or use OAuth user credentials (GDRIVE_TOKEN_FILE)"
)


@dataclass(frozen=True)
class Failure:
    """One failed attempt, classified."""

    retry: bool
    error: StorageError | FileMissing
    retry_after: float | None = None


def http_error_reason(error: HttpError) -> tuple[str, str]:
    """(reason, message) from Drive's JSON error body; ('', text) when the body is not JSON."""
    content = error.content or b""
    raw = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    try:
        body = json.loads(raw)["error"]
    except (ValueError, KeyError, TypeError):
        return "", raw[:200]
    if not isinstance(body, dict):
        return "", str(body)[:200]
    message = str(body.get("message", ""))
    errors = body.get("errors") or []
    if errors and isinstance(errors[0], dict):
        return str(errors[0].get("reason", "")), message
    return str(body.get("status", "")), message


def classify(error: BaseException, operation: str, target: str = "") -> Failure:
    """Turn an exception from the Drive client into a retry decision and a storage error."""
    if isinstance(error, HttpError):
        return _classify_http(error, operation, target)
    if isinstance(error, auth_exceptions.RefreshError):
        retryable = bool(getattr(error, "retryable", False))
        return Failure(retryable, StorageError(f"Drive token refresh failed: {error_text(error)}"))
    if isinstance(error, auth_exceptions.TransportError | httplib2.HttpLib2Error | ssl.SSLError
                  | socket.timeout | ConnectionError | TimeoutError):
        return Failure(True, StorageError(f"Drive unreachable during {operation}: {error_text(error)}"))
    if isinstance(error, OSError):
        return Failure(True, StorageError(f"Drive connection failed during {operation}: {error_text(error)}"))
    # Anything else (a malformed answer, a client bug) is not worth retrying at this level, but the
    # user still gets the polite storage message and the job may be retried by the queue.
    detail = f"Drive {operation} failed: {type(error).__name__}: {error_text(error)}"
    return Failure(False, StorageError(detail))


def _classify_http(error: HttpError, operation: str, target: str) -> Failure:
    status = int(error.resp.status)
    reason, message = http_error_reason(error)
    retry_after = _retry_after(error)
    detail = f"Drive {operation} answered {status} {reason or ''}: {message}".replace("  ", " ")
    if status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMIT_REASONS):
        return Failure(True, StorageError(detail), retry_after)
    if reason in QUOTA_REASONS:
        return Failure(False, StorageQuotaError(f"{detail} ({QUOTA_HINT})"))
    if status == 404:
        return Failure(False, FileMissing(f"Drive has no file {target}" if target else detail))
    return Failure(False, StorageError(detail))


def _retry_after(error: HttpError) -> float | None:
    value = error.resp.get("retry-after") if hasattr(error.resp, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_text(error: BaseException) -> str:
    """The first line of an error's message; google-auth errors carry it as their first argument."""
    first = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    text = first or type(error).__name__
    return text.splitlines()[0][:200]
