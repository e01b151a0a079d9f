"""Storage errors, as job errors: each has a stable code and a polite message in every language.

The worker decides from `transient` whether a job is retried. The operator-facing cause goes in
`detail` (logged); users only ever see `user_message(language)`.
"""

from __future__ import annotations

from typing import ClassVar

from photobot.jobs import PermanentJobError, TransientJobError


class StorageError(TransientJobError):
    """Storage is unreachable or refused for a while (network, 5xx, 429 after retries): retry the job."""

    code: ClassVar[str] = "storage_unavailable"
    messages: ClassVar[dict[str, str]] = {
        "en": "Photo storage is unavailable right now; your photo will be processed a bit later.",
        "ru": "Хранилище фотографий сейчас недоступно; фото будет обработано чуть позже.",
    }


class StorageQuotaError(StorageError):
    """The storage is full (Drive's storageQuotaExceeded).

    Transient on purpose: once the operator frees space or moves to a shared drive, the retried job
    goes through, so no photo is lost while the operator reacts.
    """

    code: ClassVar[str] = "storage_full"
    messages: ClassVar[dict[str, str]] = {
        "en": "Photo storage is full right now. We are on it; please try again a little later.",
        "ru": "Хранилище фотографий сейчас заполнено. Мы уже разбираемся; попробуйте чуть позже.",
    }


class FileMissing(PermanentJobError):
    """No file has this id (deleted, or never stored)."""

    code: ClassVar[str] = "file_missing"
    messages: ClassVar[dict[str, str]] = {
        "en": "The photo is no longer stored; please send it again.",
        "ru": "Фото больше не хранится; пожалуйста, отправьте его ещё раз.",
    }


class InvalidFileId(PermanentJobError):
    """A file id that no backend could have issued: empty, too long, or naming a path."""

    code: ClassVar[str] = "bad_file_id"
    messages: ClassVar[dict[str, str]] = {
        "en": "This is not a valid stored file id.",
        "ru": "Это не идентификатор сохранённого файла.",
    }
