"""The typed refusals of image processing, each with a stable code and a message in en and ru.

Every error that leaves `run_operation` is one of these, so the worker can classify it (`transient`)
and the chat can show `user_message(language)` without ever showing a stack trace. They cross the
process-pool boundary by pickle, hence `__reduce__`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from photobot.jobs import PermanentJobError

SUPPORTED_FORMATS_TEXT = "JPEG, PNG, WEBP, GIF, BMP, TIFF"


class ProcessingError(PermanentJobError):
    """Base of processing refusals; permanent unless a subclass says `transient = True`."""

    code: ClassVar[str] = "processing_failed"
    users_fault: ClassVar[bool] = True
    messages: ClassVar[dict[str, str]] = {
        "en": "The image could not be processed.",
        "ru": "Не удалось обработать изображение.",
    }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.detail, self.params))


def _rebuild(cls: type[ProcessingError], detail: str, params: dict[str, Any]) -> ProcessingError:
    return cls(detail, **params)


class UnsupportedFormat(ProcessingError):
    code: ClassVar[str] = "unsupported_format"
    messages: ClassVar[dict[str, str]] = {
        "en": f"This file is not a supported image. Send a photo: {SUPPORTED_FORMATS_TEXT}.",
        "ru": f"Этот файл не является поддерживаемым изображением. Пришлите фото: {SUPPORTED_FORMATS_TEXT}.",
    }


class TooLarge(ProcessingError):
    code: ClassVar[str] = "too_large"
    messages: ClassVar[dict[str, str]] = {
        "en": "The image is too large ({what}); the limit is {limit}.",
        "ru": "Изображение слишком большое ({what}); предел — {limit}.",
    }


class TooComplex(ProcessingError):
    """More JPEG scans than MAX_JPEG_SCANS: each is a pass over the whole image (a scan bomb)."""

    code: ClassVar[str] = "too_complex"
    messages: ClassVar[dict[str, str]] = {
        "en": "The image is encoded in too many passes to process (the limit is {limit}). "
        "Save it again as an ordinary JPEG or PNG.",
        "ru": "Изображение закодировано в слишком много проходов (предел — {limit}). "
        "Сохраните его заново как обычный JPEG или PNG.",
    }


class CorruptImage(ProcessingError):
    code: ClassVar[str] = "corrupt"
    messages: ClassVar[dict[str, str]] = {
        "en": "The image file is damaged or incomplete. Try sending it again.",
        "ru": "Файл изображения повреждён или неполон. Попробуйте отправить его ещё раз.",
    }


class NoFaces(ProcessingError):
    code: ClassVar[str] = "no_faces"
    messages: ClassVar[dict[str, str]] = {
        "en": "No faces were found in this photo.",
        "ru": "На этом фото не найдено лиц.",
    }


class BadParams(ProcessingError):
    code: ClassVar[str] = "bad_params"
    messages: ClassVar[dict[str, str]] = {
        "en": "Invalid parameter “{param}” of {operation}: {hint_en}.",
        "ru": "Неверный параметр «{param}» операции {operation}: {hint_ru}.",
    }


class UnknownOperation(ProcessingError):
    code: ClassVar[str] = "unknown_operation"
    messages: ClassVar[dict[str, str]] = {
        "en": "Unknown operation “{operation}”.",
        "ru": "Неизвестная операция «{operation}».",
    }


class FaceModelUnavailable(ProcessingError):
    """FACE_MODEL_PATH names a missing or unreadable model: an operator's fix, so not retried."""

    code: ClassVar[str] = "face_model"
    users_fault: ClassVar[bool] = False
    messages: ClassVar[dict[str, str]] = {
        "en": "Face detection is not available at the moment.",
        "ru": "Поиск лиц сейчас недоступен.",
    }


class ProcessingTimeout(ProcessingError):
    """The operation ran past PROCESS_TIMEOUT_SECONDS; a busy machine may manage it on a retry, but
    an input that times out twice is too costly, and retrying it again would only hold a process."""

    code: ClassVar[str] = "timeout"
    transient: ClassVar[bool] = True
    retries: ClassVar[int | None] = 1
    messages: ClassVar[dict[str, str]] = {
        "en": "Processing took too long.",
        "ru": "Обработка заняла слишком много времени.",
    }


class WorkerCrashed(ProcessingError):
    """The worker process died (killed, out of memory); its pool slot is rebuilt and the job retried
    once: an input that kills its process twice is not tried a third time."""

    code: ClassVar[str] = "worker_crashed"
    transient: ClassVar[bool] = True
    retries: ClassVar[int | None] = 1
    messages: ClassVar[dict[str, str]] = {
        "en": "Processing was interrupted; it will be tried again.",
        "ru": "Обработка прервалась; она будет повторена.",
    }
