"""Google Drive storage: files under GDRIVE_FOLDER_ID, one subfolder per user, retried politely.

The Drive client is synchronous, so every call runs on a small thread pool (GDRIVE_THREADS) whose
threads each own an Http object; waits between retries happen on the event loop, so a backing-off
call holds no thread. Every call passes supportsAllDrives, so a folder in a shared drive works.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import google_auth_httplib2
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials
from googleapiclient.http import MediaIoBaseUpload, build_http

from photobot.backoff import Backoff
from photobot.config import Settings
from photobot.gdrive.base import StorageMetrics
from photobot.gdrive.drive_client import (
    CredentialsProblem,
    ThreadClients,
    drive_document,
    load_credentials,
    principal,
)
from photobot.gdrive.errors import FileMissing, InvalidFileId, StorageError, StorageQuotaError
from photobot.gdrive.retry import QUOTA_HINT, classify, error_text
from photobot.logs import get_logger
from photobot.metrics import Metrics

log = get_logger(__name__)

T = TypeVar("T")
FOLDER_MIME = "application/vnd.google-apps.folder"
APP_FOLDER_NAME = "photobot"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
APP_PROPERTY_MAX = 100  # Drive caps key + value of one appProperty at 124 bytes.
ALL_DRIVES: dict[str, Any] = {"supportsAllDrives": True}


class BytesUpload(MediaIoBaseUpload):  # type: ignore[misc]
    """An in-memory upload whose chunks are sent as bytes, not as a stream slice.

    httplib2 silently re-sends a request once when the connection drops; a stream slice has been
    read by then, so the retry would announce a chunk and send nothing, and hang until the timeout.
    """

    def has_stream(self) -> bool:
        return False


def q_literal(value: str) -> str:
    """A string literal for a Drive `q` query."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def check_id(file_id: str) -> str:
    if not isinstance(file_id, str) or not ID_PATTERN.fullmatch(file_id):
        raise InvalidFileId(f"not a Drive file id: {str(file_id)[:80]!r}")
    return file_id


class GoogleDriveStorage:
    """Storage on Google Drive through google-api-python-client."""

    backend = "gdrive"

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        *,
        backoff: Backoff | None = None,
        credentials: Credentials | None = None,
        http_timeout: float = 60.0,
    ) -> None:
        self._settings = settings
        self._metrics = StorageMetrics(self.backend, metrics)
        self._backoff = backoff or Backoff()
        self._max_retries = settings.gdrive_max_retries
        self._credentials = credentials
        self._http_timeout = http_timeout
        self._document = drive_document(settings.gdrive_api_url)
        self._pool = ThreadPoolExecutor(settings.gdrive_threads, thread_name_prefix="photobot-gdrive")
        self._clients: ThreadClients | None = None
        self._folders: dict[str, str] = {}
        self._folder_locks: dict[str, asyncio.Lock] = {}

    # --- the Storage protocol -------------------------------------------------------------------
    async def put(self, data: bytes, name: str, mime: str, meta: Mapping[str, str]) -> str:
        try:
            user = str(meta.get("user_id", "")).strip()[:APP_PROPERTY_MAX]
            parent = await (self._user_folder(user) if user else self._root_folder())
            file_id = await self._upload(data, name, mime, parent, meta)
        except (StorageError, FileMissing) as error:
            self._fail("put", error)
            raise
        self._metrics.call("put", "ok")
        self._metrics.stored(meta.get("kind", "other"), len(data))
        log.debug("storage.put", backend=self.backend, file_id=file_id, size=len(data))
        return file_id

    async def get(self, file_id: str) -> bytes:
        check_id(file_id)
        try:
            data: bytes = await self._call(
                "get", lambda s: s.files().get_media(fileId=file_id, **ALL_DRIVES), target=file_id
            )
        except (StorageError, FileMissing) as error:
            self._fail("get", error)
            raise
        self._metrics.call("get", "ok")
        return data

    async def delete(self, file_id: str) -> None:
        check_id(file_id)
        try:
            await self._call("delete", lambda s: s.files().delete(fileId=file_id, **ALL_DRIVES), file_id)
        except FileMissing:
            self._metrics.call("delete", "missing")
            return
        except StorageError as error:
            self._fail("delete", error)
            raise
        self._metrics.call("delete", "ok")

    async def link(self, file_id: str) -> str | None:
        check_id(file_id)
        try:
            meta: dict[str, Any] = await self._call(
                "link",
                lambda s: s.files().get(fileId=file_id, fields="webViewLink", **ALL_DRIVES),
                target=file_id,
            )
        except (StorageError, FileMissing) as error:
            self._fail("link", error)
            raise
        self._metrics.call("link", "ok")
        link = meta.get("webViewLink")
        return str(link) if link else None

    async def check(self) -> list[str]:
        """Credentials, token, folder and write permission, each problem as one line."""
        try:
            credentials = self._ensure_clients().credentials
        except CredentialsProblem as problem:
            return [str(problem)]
        who = principal(credentials)
        token_problem = await asyncio.get_running_loop().run_in_executor(
            self._pool, self._refresh_token, credentials
        )
        if token_problem:
            return [token_problem]
        folder_id = self._settings.gdrive_folder_id
        problems = await (self._check_folder(folder_id, who) if folder_id else self._check_app_folder())
        if problems:
            return problems
        return await self._check_write(who)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True)
        if self._clients is not None:
            self._clients.close()

    # --- folders ---------------------------------------------------------------------------------
    async def _root_folder(self) -> str:
        if self._settings.gdrive_folder_id:
            return self._settings.gdrive_folder_id
        return await self._folder("", APP_FOLDER_NAME, "root")

    async def _user_folder(self, user: str) -> str:
        return await self._folder(user, user, await self._root_folder())

    async def _folder(self, key: str, name: str, parent: str) -> str:
        """The folder `name` under `parent`, found or created once per process.

        A lock per key keeps concurrent uploads of one user from creating twins; after creating, a
        second look-up adopts the oldest folder of that name, so processes that raced converge.
        """
        cache_key = f"{parent}/{key}"
        if cache_key in self._folders:
            return self._folders[cache_key]
        lock = self._folder_locks.setdefault(cache_key, asyncio.Lock())
        async with lock:
            if cache_key in self._folders:
                return self._folders[cache_key]
            found = await self._find_folders(name, parent)
            if not found:
                body = {"name": name, "mimeType": FOLDER_MIME, "parents": [parent],
                        "appProperties": {"photobot": "folder"}}
                await self._call("mkdir", lambda s: s.files().create(body=body, fields="id", **ALL_DRIVES))
                found = await self._find_folders(name, parent)
                if not found:
                    raise StorageError(f"Drive folder {name!r} was created but cannot be listed")
                log.info("storage.folder_created", name=name, parent=parent, folder_id=found[0])
            self._folders[cache_key] = found[0]
            return found[0]

    async def _find_folders(self, name: str, parent: str) -> list[str]:
        query = (
            f"name = {q_literal(name)} and {q_literal(parent)} in parents "
            f"and mimeType = '{FOLDER_MIME}' and trashed = false"
        )
        answer: dict[str, Any] = await self._call(
            "list",
            lambda s: s.files().list(
                q=query, fields="files(id,createdTime)", orderBy="createdTime", pageSize=10,
                corpora="allDrives", includeItemsFromAllDrives=True, **ALL_DRIVES,
            ),
        )
        return [str(item["id"]) for item in answer.get("files", [])]

    # --- uploads ---------------------------------------------------------------------------------
    async def _upload(self, data: bytes, name: str, mime: str, parent: str, meta: Mapping[str, str]) -> str:
        body = {
            "name": name or "photo",
            "parents": [parent],
            "mimeType": mime,
            "appProperties": {
                str(k)[:30]: str(v)[:APP_PROPERTY_MAX] for k, v in meta.items() if str(k).strip()
            },
        }
        resumable = 0 < self._settings.gdrive_resumable_threshold < len(data) or (
            self._settings.gdrive_resumable_threshold == 0 and len(data) > 0
        )
        media = BytesUpload(
            io.BytesIO(data), mimetype=mime, chunksize=self._settings.gdrive_chunk_bytes, resumable=resumable
        )

        def create(service: Any) -> Any:
            return service.files().create(body=body, media_body=media, fields="id", **ALL_DRIVES)

        if not resumable:
            created: dict[str, Any] = await self._call("upload", create)
            return str(created["id"])
        request = await self._in_thread(lambda: create(self._ensure_clients().service()))
        response: dict[str, Any] | None = None
        while response is None:
            # Each step has its own retry budget: progress made is never thrown away, and after a
            # dropped connection the client asks Drive how much arrived and resumes from there.
            _, response = await self._attempts(
                "upload_chunk", lambda: request.next_chunk(http=self._ensure_clients().http())
            )
        return str(response["id"])

    # --- plumbing --------------------------------------------------------------------------------
    def _ensure_clients(self) -> ThreadClients:
        if self._clients is None:
            credentials = self._credentials or load_credentials(
                self._settings.gdrive_credentials_file, self._settings.gdrive_token_file
            )
            self._clients = ThreadClients(credentials, self._document, self._http_timeout)
        return self._clients

    async def _call(self, operation: str, build: Callable[[Any], Any], target: str = "") -> Any:
        """Build a request with this thread's service and execute it on this thread's Http."""

        def run() -> Any:
            clients = self._ensure_clients()
            return build(clients.service()).execute(http=clients.http())

        return await self._attempts(operation, run, target)

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _attempts(self, operation: str, call: Callable[[], T], target: str = "") -> T:
        attempt = 0
        while True:
            try:
                return await self._in_thread(call)
            except CredentialsProblem as problem:
                raise StorageError(str(problem)) from None
            except Exception as error:
                failure = classify(error, operation, target)
                if not failure.retry or attempt >= self._max_retries:
                    raise failure.error from error
                delay = self._backoff.delay(attempt, failure.retry_after)
                self._metrics.call(operation, "retry")
                log.warning("storage.retry", backend=self.backend, operation=operation,
                            attempt=attempt + 1, delay=round(delay, 3), detail=failure.error.detail)
                attempt += 1
                await asyncio.sleep(delay)

    def _fail(self, operation: str, error: StorageError | FileMissing) -> None:
        self._metrics.call(operation, error.code)
        if isinstance(error, StorageQuotaError):
            log.error("storage.quota_exceeded", backend=self.backend, detail=error.detail)
        elif isinstance(error, StorageError):
            log.error("storage.failed", backend=self.backend, operation=operation, detail=error.detail)

    def _refresh_token(self, credentials: Credentials) -> str | None:
        raw = build_http()
        raw.timeout = self._http_timeout
        try:
            credentials.refresh(google_auth_httplib2.Request(raw))
        except auth_exceptions.RefreshError as error:
            return f"Drive credentials of {principal(credentials)} were rejected: {error_text(error)}"
        except (auth_exceptions.TransportError, OSError) as error:
            return f"Drive token endpoint unreachable: {error}"
        finally:
            raw.close()
        return None

    async def _check_app_folder(self) -> list[str]:
        try:
            await self._root_folder()
        except StorageError as error:
            return [f"Drive: cannot create the {APP_FOLDER_NAME!r} folder: {error.detail}"]
        return []

    async def _check_folder(self, folder_id: str, who: str) -> list[str]:
        fields = "id,name,mimeType,trashed,driveId,capabilities(canAddChildren)"
        try:
            check_id(folder_id)
            folder: dict[str, Any] = await self._call(
                "check", lambda s: s.files().get(fileId=folder_id, fields=fields, **ALL_DRIVES), folder_id
            )
        except InvalidFileId:
            return [f"GDRIVE_FOLDER_ID: {folder_id!r} is not a Drive folder id"]
        except FileMissing:
            return [f"GDRIVE_FOLDER_ID: folder {folder_id} not found, or not shared with {who}"]
        except StorageError as error:
            return [f"GDRIVE_FOLDER_ID: cannot read folder {folder_id}: {error.detail}"]
        if folder.get("mimeType") != FOLDER_MIME:
            return [f"GDRIVE_FOLDER_ID: {folder_id} is a file, not a folder"]
        problems = []
        if folder.get("trashed"):
            problems.append(f"GDRIVE_FOLDER_ID: folder {folder_id} is in the trash")
        if not (folder.get("capabilities") or {}).get("canAddChildren", True):
            problems.append(f"GDRIVE_FOLDER_ID: {who} may not add files to folder {folder_id}; "
                            "share it as Editor (Content manager on a shared drive)")
        return problems

    async def _check_write(self, who: str) -> list[str]:
        try:
            parent = await self._root_folder()
            probe = await self._upload(b"photobot storage check\n", "photobot-check.txt", "text/plain",
                                       parent, {"kind": "check"})
            await self.delete(probe)
        except StorageQuotaError:
            return [f"Drive storage quota exceeded for {who}: {QUOTA_HINT}"]
        except (StorageError, FileMissing) as error:
            return [f"Drive: cannot write to the folder as {who}: {error.detail}"]
        return []
