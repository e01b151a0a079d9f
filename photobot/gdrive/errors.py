"""Storage errors, as job errors: each a stable code, its message the catalog's `error.<code>`.

The worker decides from `transient` whether a job is retried. The operator-facing cause goes in
`detail` (logged); users only ever see the catalog's message.
"""

from __future__ import annotations

from typing import ClassVar

from photobot.jobs import PermanentJobError, TransientJobError


class StorageError(TransientJobError):
    """Storage is unreachable or refused for a while (network, 5xx, 429 after retries): retry the job."""

    code: ClassVar[str] = "storage_unavailable"


class StorageQuotaError(StorageError):
    """The storage is full (Drive's storageQuotaExceeded).

    Transient on purpose: once the operator frees space or moves to a shared drive, the retried job
    goes through, so no photo is lost while the operator reacts.
    """

    code: ClassVar[str] = "storage_full"


class FileMissing(PermanentJobError):
    """No file has this id (deleted, or never stored)."""

    code: ClassVar[str] = "file_missing"


class InvalidFileId(PermanentJobError):
    """A file id that no backend could have issued: empty, too long, or naming a path."""

    code: ClassVar[str] = "bad_file_id"
