"""FakeDrive: the aiohttp server, its faults and its Drive v3 and OAuth endpoints (the package
docstring says what it speaks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

from photobot.sandbox.botapi.thread import serve_in_thread

from .state import (
    CHUNK_ALIGN,
    FOLDER_MIME,
    DriveState,
    FakeFile,
    Principal,
    UploadSession,
    matches,
    new_id,
    parse_multipart,
    parse_query,
)

# google-auth signs service-account JWTs for Google's endpoint whatever the token_uri says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
PRINCIPAL = web.RequestKey("principal", Principal)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ERROR_REASONS = {429: "rateLimitExceeded", 500: "internalError", 503: "backendError", 502: "badGateway"}


def drive_error(status: int, reason: str, message: str) -> web.Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }
    return web.json_response(body, status=status)


class FakeDrive:
    """The fake server. `url` is its root URL (GDRIVE_API_URL), `token_uri` its token endpoint."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.state = DriveState()
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.fail_ratio = 0.0
        self.quota_exceeded = False
        self.drop_chunks = 0
        self.dropped = 0
        self.status_queries = 0
        self.token_ttl = 3600
        self._failures: deque[tuple[int, str]] = deque()
        self._down_until = 0.0
        self._runner: web.AppRunner | None = None

    # --- switches and helpers for tests --------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def fail_next(self, count: int, status: int = 503, reason: str | None = None) -> None:
        """The next `count` Drive calls answer `status` (429 and 503 bursts, 403 rate limits)."""
        for _ in range(count):
            self._failures.append((status, reason or ERROR_REASONS.get(status, "error")))

    def go_down(self, seconds: float) -> None:
        """For `seconds`, every connection is dropped before an answer, as if the server were gone."""
        self._down_until = time.monotonic() + seconds

    def expire_tokens(self) -> None:
        """Every access token issued so far answers 401 from now on; clients must refresh."""
        self.state.tokens.clear()

    def create_folder(self, name: str, parent: str = "root", *, shared_drive: bool = False) -> str:
        return self.state.create_folder(name, parent, shared_drive=shared_drive)

    def write_service_account(self, path: Path, *, trusted: bool = True) -> Path:
        return self.state.write_service_account(path, self.token_uri, trusted=trusted)

    def write_user_token(self, path: Path) -> Path:
        return self.state.write_user_token(path, self.token_uri)

    def children(self, folder_id: str) -> list[FakeFile]:
        return self.state.children(folder_id)

    def drive_calls(self) -> list[tuple[str, str, dict[str, str]]]:
        return [call for call in self.calls if "/drive/v3/" in call[1]]

    # --- running -------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults], client_max_size=1024**3)
        app.router.add_post("/token", self._token)
        app.router.add_post("/drive/v3/files", self._create_metadata)
        app.router.add_get("/drive/v3/files", self._list)
        app.router.add_get("/drive/v3/files/{file_id}", self._get)
        app.router.add_delete("/drive/v3/files/{file_id}", self._delete)
        app.router.add_post("/upload/drive/v3/files", self._upload_start)
        app.router.add_put("/upload/drive/v3/files", self._upload_chunk)
        return app

    async def start(self) -> FakeDrive:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = next(int(a[1]) for a in self._runner.addresses if isinstance(a, tuple) and len(a) >= 2)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDrive:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, host: str = "127.0.0.1", port: int = 0) -> Iterator[FakeDrive]:
        """Serve from a background thread with its own event loop (for subprocess tests)."""
        with serve_in_thread(cls(host, port), "fake-drive") as drive:
            yield drive

    # --- middleware: outage, auth, injected failures -------------------------------------------
    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.calls.append((request.method, request.path, dict(request.query)))
        if time.monotonic() < self._down_until:
            return self._drop(request)
        if request.path == "/token":
            return await handler(request)
        principal = self._principal(request)
        if principal is None:
            return drive_error(401, "authError", "Request had invalid authentication credentials.")
        request[PRINCIPAL] = principal
        if self._failures:
            status, reason = self._failures.popleft()
            return drive_error(status, reason, f"Injected {status} {reason}.")
        if self.fail_ratio and random.random() < self.fail_ratio:
            return drive_error(503, "backendError", "Injected random 503.")
        return await handler(request)

    def _principal(self, request: web.Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.state.tokens.get(token.strip())

    def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    # --- OAuth ----------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(
                    str(form.get("assertion", "")),
                    certs=self.state.trusted_keys,
                    audience=[self.token_uri, GOOGLE_TOKEN_AUDIENCE],
                )
            except (ValueError, auth_exceptions.GoogleAuthError) as error:
                return web.json_response(
                    {"error": "invalid_grant", "error_description": str(error)}, status=400
                )
            if "drive" not in str(claims.get("scope", "")):
                return web.json_response({"error": "invalid_scope"}, status=400)
            principal = Principal(str(claims["iss"]), service_account=True)
        elif grant == "refresh_token":
            email = self.state.refresh_tokens.get(str(form.get("refresh_token", "")))
            if email is None:
                return web.json_response(
                    {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
                    status=400,
                )
            principal = Principal(email, service_account=False)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = self.state.issue_token(principal)
        return web.json_response(
            {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"}
        )

    # --- files ------------------------------------------------------------------------------------
    def _visible(self, request: web.Request, file_id: str) -> FakeFile | None:
        file = self.state.files.get(file_id)
        if file is None or (file.drive_id and request.query.get("supportsAllDrives") != "true"):
            return None
        return file

    def _check_parent(
        self, request: web.Request, metadata: dict[str, Any], media: bool
    ) -> web.Response | None:
        parents = metadata.get("parents") or ["root"]
        parent = parents[0]
        if parent != "root":
            folder = self._visible(request, parent)
            if folder is None or folder.mime_type != FOLDER_MIME:
                return drive_error(404, "notFound", f"File not found: {parent}.")
            if folder.read_only:
                return drive_error(
                    403,
                    "insufficientFilePermissions",
                    "The user does not have sufficient permissions for this file.",
                )
        principal: Principal = request[PRINCIPAL]
        no_storage = principal.service_account and not self.state.in_shared_drive(parent)
        if media and (self.quota_exceeded or no_storage):
            message = "The user's Drive storage quota has been exceeded."
            return drive_error(403, "storageQuotaExceeded", message)
        return None

    def _store(self, metadata: dict[str, Any], data: bytes, mime: str) -> FakeFile:
        return self.state.add_file(
            str(metadata.get("name", "Untitled")),
            str(metadata.get("mimeType") or mime),
            list(metadata.get("parents") or ["root"]),
            {str(k): str(v) for k, v in (metadata.get("appProperties") or {}).items()},
            data,
        )

    async def _create_metadata(self, request: web.Request) -> web.Response:
        metadata = await request.json()
        problem = self._check_parent(request, metadata, media=metadata.get("mimeType") != FOLDER_MIME)
        if problem:
            return problem
        return web.json_response(self._store(metadata, b"", FOLDER_MIME).resource())

    async def _list(self, request: web.Request) -> web.Response:
        try:
            clauses = parse_query(request.query.get("q", ""))
        except ValueError as error:
            return drive_error(400, "invalid", f"Invalid Value: {error}")
        all_drives = request.query.get("includeItemsFromAllDrives") == "true"
        found = [
            f for f in self.state.files.values() if matches(f, clauses) and (all_drives or not f.drive_id)
        ]
        if request.query.get("orderBy", "").startswith("createdTime"):
            found.sort(key=lambda f: f.created)
        size = int(request.query.get("pageSize", "100"))
        start = int(request.query.get("pageToken", "0") or 0)
        body: dict[str, Any] = {
            "kind": "drive#fileList",
            "files": [f.resource() for f in found[start : start + size]],
        }
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def _get(self, request: web.Request) -> web.StreamResponse:
        file = self._visible(request, request.match_info["file_id"])
        if file is None:
            return drive_error(404, "notFound", f"File not found: {request.match_info['file_id']}.")
        if request.query.get("alt") == "media":
            return web.Response(body=file.data, content_type=file.mime_type)
        return web.json_response(file.resource())

    async def _delete(self, request: web.Request) -> web.Response:
        file = self._visible(request, request.match_info["file_id"])
        if file is None:
            return drive_error(404, "notFound", f"File not found: {request.match_info['file_id']}.")
        self.state.remove(file.id)
        return web.Response(status=204)

    # --- uploads ----------------------------------------------------------------------------------
    async def _upload_start(self, request: web.Request) -> web.Response:
        kind = request.query.get("uploadType")
        if kind == "multipart":
            try:
                metadata, data, mime = parse_multipart(
                    await request.read(), request.headers.get("Content-Type", "")
                )
            except ValueError as error:
                return drive_error(400, "badContent", f"Bad multipart body: {error}")
            problem = self._check_parent(request, metadata, media=True)
            return problem or web.json_response(self._store(metadata, data, mime).resource())
        if kind == "resumable":
            metadata = json.loads(await request.read() or b"{}")
            problem = self._check_parent(request, metadata, media=True)
            if problem:
                return problem
            total = request.headers.get("X-Upload-Content-Length")
            upload_id = new_id()
            self.state.uploads[upload_id] = UploadSession(
                metadata,
                request[PRINCIPAL],
                int(total) if total else None,
                request.headers.get("X-Upload-Content-Type", "application/octet-stream"),
            )
            location = f"{self.url}/upload/drive/v3/files?uploadType=resumable&upload_id={upload_id}"
            return web.Response(status=200, headers={"Location": location})
        return drive_error(400, "invalid", f"Unsupported uploadType {kind!r}.")

    async def _upload_chunk(self, request: web.Request) -> web.StreamResponse:  # noqa: PLR0911
        session = self.state.uploads.get(request.query.get("upload_id", ""))
        if session is None:
            return drive_error(404, "notFound", "No such upload session.")
        content_range = request.headers.get("Content-Range", "")
        data = await request.read()
        status_query = re.fullmatch(r"bytes \*/(\d+|\*)", content_range)
        chunk = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", content_range)
        if chunk:
            start, total = int(chunk[1]), chunk[3]
            if total != "*":
                session.total = int(total)
            if start > len(session.received):
                return drive_error(400, "badRange", f"Chunk starts at {start}, have {len(session.received)}.")
            final = session.total is not None and start + len(data) >= session.total
            if not final and len(data) % CHUNK_ALIGN:
                return drive_error(400, "badChunk", "A chunk must be a multiple of 256 KiB.")
            if self.drop_chunks > 0:
                self.drop_chunks -= 1
                self.dropped += 1
                keep = (len(data) // 2) // CHUNK_ALIGN * CHUNK_ALIGN
                session.received[start:] = data[:keep]
                return self._drop(request)
            session.received[start:] = data
        elif status_query:
            self.status_queries += 1
        else:
            return drive_error(400, "badRange", f"Bad Content-Range {content_range!r}.")
        if session.total is not None and len(session.received) >= session.total:
            upload_id = request.query["upload_id"]
            del self.state.uploads[upload_id]
            file = self._store(session.metadata, bytes(session.received), session.mime_type)
            return web.json_response(file.resource())
        headers = {"Range": f"bytes=0-{len(session.received) - 1}"} if session.received else {}
        return web.Response(status=308, headers=headers)
