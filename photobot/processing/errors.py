"""The typed refusals of image processing, each a stable code with the parameters of its message.

Every error that leaves `run_operation` is one of these, so the worker can classify it (`transient`)
and the chat can show the catalog's `error.<code>` without ever showing a stack trace. They cross
the process-pool boundary by pickle (photobot.jobs.CodedError keeps code and params).
"""

from __future__ import annotations

from typing import Any, ClassVar

from photobot.jobs import PermanentJobError


class ProcessingError(PermanentJobError):
    """Base of processing refusals; permanent unless a subclass says `transient = True`."""

    code: ClassVar[str] = "processing_failed"
    users_fault: ClassVar[bool] = True


class UnsupportedFormat(ProcessingError):
    code: ClassVar[str] = "unsupported_format"


class TooLarge(ProcessingError):
    """Over a size limit: bytes, pixels, or the memory its decode would take."""

    code: ClassVar[str] = "too_large"

    def __init__(self, detail: str | None = None, *, what: str, limit: str) -> None:
        super().__init__(detail, what=what, limit=limit)


class TooComplex(ProcessingError):
    """More JPEG scans than MAX_JPEG_SCANS: each is a pass over the whole image (a scan bomb)."""

    code: ClassVar[str] = "too_complex"

    def __init__(self, detail: str | None = None, *, limit: int) -> None:
        super().__init__(detail, limit=limit)


class CorruptImage(ProcessingError):
    code: ClassVar[str] = "corrupt"


class NoFaces(ProcessingError):
    code: ClassVar[str] = "no_faces"


class BadParams(ProcessingError):
    """`hint` says what the parameter takes, as a message of its own ({"key": "hint.…", …})."""

    code: ClassVar[str] = "bad_params"

    def __init__(self, detail: str, *, param: str, operation: str, hint: dict[str, Any]) -> None:
        super().__init__(detail, param=param, operation=operation, hint=hint)


class UnknownOperation(ProcessingError):
    code: ClassVar[str] = "unknown_operation"

    def __init__(self, *, operation: str) -> None:
        super().__init__(f"no operation {operation!r}", operation=operation)


class FaceModelUnavailable(ProcessingError):
    """FACE_MODEL_PATH names a missing or unreadable model: an operator's fix, so not retried."""

    code: ClassVar[str] = "face_model"
    users_fault: ClassVar[bool] = False


class RetriedOnce(ProcessingError):
    """A fault of the moment rather than of the file, given one retry: an input that fails the same
    way twice is taken as the cause, and trying it a third time would only hold a process."""

    transient: ClassVar[bool] = True
    retries: ClassVar[int | None] = 1


class ProcessingTimeout(RetriedOnce):
    """The operation ran past PROCESS_TIMEOUT_SECONDS; a busy machine may manage it on a retry."""

    code: ClassVar[str] = "timeout"


class WorkerCrashed(RetriedOnce):
    """The worker process died (killed, out of memory); its pool slot is rebuilt and the job retried."""

    code: ClassVar[str] = "worker_crashed"
