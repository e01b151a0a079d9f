"""Local-disk storage: the default, so one process needs nothing but a bot token.

Files live under STORAGE_DIR in 256 shard folders (`ab/ab12...f.jpg`) so no folder grows huge. Each
write goes to a temporary file in the same folder and is renamed into place, so a reader never sees
half a file, even when the process dies mid-write. Ids are validated against one strict pattern
before they touch the file system, so no id can name a path outside the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

from photobot.gdrive.base import StorageMetrics
from photobot.gdrive.errors import FileMissing, InvalidFileId, StorageError, StorageQuotaError
from photobot.logs import get_logger
from photobot.metrics import Metrics

log = get_logger(__name__)

ID_PATTERN = re.compile(r"^[0-9a-f]{32}(\.[a-z0-9]{1,5})?$")
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "image/heic": ".heic",
}
LOW_SPACE_BYTES = 64 * 1024 * 1024
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def extension_for(name: str, mime: str) -> str:
    """A short, safe extension from the MIME type, else from the name; '' when neither helps."""
    if mime.lower() in EXTENSIONS:
        return EXTENSIONS[mime.lower()]
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""


class LocalStorage:
    """Storage on the local file system under `root`."""

    backend = "local"

    def __init__(self, root: Path, metrics: Metrics | None = None) -> None:
        self.root = root
        self._metrics = StorageMetrics(self.backend, metrics)

    def path_for(self, file_id: str) -> Path:
        """The file's path; raises InvalidFileId for anything but an id this backend issues."""
        if not isinstance(file_id, str) or not ID_PATTERN.fullmatch(file_id):
            raise InvalidFileId(f"not a local storage id: {str(file_id)[:80]!r}")
        path = self.root / file_id[:2] / file_id
        # The pattern already forbids separators and dots; this is a second, independent guard.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidFileId(f"id escapes the storage folder: {file_id!r}")
        return path

    async def put(self, data: bytes, name: str, mime: str, meta: Mapping[str, str]) -> str:
        file_id = uuid.uuid4().hex + extension_for(name, mime)
        path = self.path_for(file_id)
        sidecar = {"name": name, "mime": mime, "size": len(data), "meta": dict(meta)}
        try:
            await asyncio.to_thread(self._write, path, data, sidecar)
        except OSError as error:
            failure = _os_error(error, "write")
            self._metrics.call("put", failure.code)
            event = "storage.quota_exceeded" if isinstance(failure, StorageQuotaError) else "storage.failed"
            log.error(event, backend=self.backend, operation="put", detail=failure.detail)
            raise failure from error
        self._metrics.call("put", "ok")
        self._metrics.stored(meta.get("kind", "other"), len(data))
        log.debug("storage.put", backend=self.backend, file_id=file_id, size=len(data))
        return file_id

    async def get(self, file_id: str) -> bytes:
        path = self.path_for(file_id)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            self._metrics.call("get", "missing")
            raise FileMissing(f"no local file {file_id}") from None
        except OSError as error:
            self._metrics.call("get", "error")
            raise _os_error(error, "read") from error
        self._metrics.call("get", "ok")
        return data

    async def delete(self, file_id: str) -> None:
        path = self.path_for(file_id)

        def remove() -> None:
            for target in (path, _sidecar_path(path)):
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()

        try:
            await asyncio.to_thread(remove)
        except OSError as error:
            self._metrics.call("delete", "error")
            raise _os_error(error, "delete") from error
        self._metrics.call("delete", "ok")

    async def link(self, file_id: str) -> str | None:
        """Local files have no shareable link."""
        self.path_for(file_id)
        return None

    async def check(self) -> list[str]:
        return await asyncio.to_thread(self._check)

    async def close(self) -> None:
        """Nothing to release: every call opens and closes its own files."""

    def _check(self) -> list[str]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return [f"STORAGE_DIR: cannot create {self.root}: {error.strerror or error}"]
        if not self.root.is_dir():
            return [f"STORAGE_DIR: {self.root} is not a folder"]
        try:
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".check-") as probe:
                probe.write(b"photobot")
                probe.flush()
        except OSError as error:
            return [f"STORAGE_DIR: cannot write to {self.root}: {error.strerror or error}"]
        free = shutil.disk_usage(self.root).free
        if free < LOW_SPACE_BYTES:
            return [f"STORAGE_DIR: only {free // (1024 * 1024)} MiB free on the disk of {self.root}"]
        return []

    async def listing(self) -> list[tuple[str, dict[str, str], int, int]]:
        """Every stored file as (file id, meta, size, modified at in ms), read from the sidecars."""
        return await asyncio.to_thread(self._listing)

    def _listing(self) -> list[tuple[str, dict[str, str], int, int]]:
        found = []
        for sidecar in self.root.glob("??/*.meta.json"):
            file_id = sidecar.name.removesuffix(".meta.json")
            path = sidecar.with_name(file_id)
            if not ID_PATTERN.fullmatch(file_id) or not path.is_file():
                continue
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8")).get("meta") or {}
                stat = path.stat()
            except (OSError, ValueError, AttributeError):
                continue
            clean = {str(key): str(value) for key, value in meta.items()}
            found.append((file_id, clean, stat.st_size, int(stat.st_mtime * 1000)))
        return found

    @staticmethod
    def _write(path: Path, data: bytes, sidecar: dict[str, object]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)
        try:
            _atomic_write(_sidecar_path(path), json.dumps(sidecar, ensure_ascii=False).encode())
        except BaseException:
            # The caller never learns this id, so the file would be an orphan.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise


def _sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, rename: all of the file or none of it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _os_error(error: OSError, action: str) -> StorageError:
    if error.errno in _FULL_ERRNOS:
        return StorageQuotaError(f"local disk is full ({action}): {error}")
    return StorageError(f"local storage {action} failed: {error}")
