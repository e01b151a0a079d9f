"""The Storage protocol every backend implements, and the bookkeeping they share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from photobot.metrics import Metrics

KINDS = ("original", "result")


@runtime_checkable
class Storage(Protocol):
    """Where originals and results live. Every method is safe to call from many tasks at once.

    `put` returns the file id (an original's id is the job's photo_id); `meta` carries job_id,
    user_id and kind ("original" or "result"). `get` of an unknown id raises FileMissing, an id
    that no backend could have issued raises InvalidFileId; `delete` of an unknown id is a no-op.
    """

    backend: str

    async def put(self, data: bytes, name: str, mime: str, meta: Mapping[str, str]) -> str: ...

    async def get(self, file_id: str) -> bytes: ...

    async def delete(self, file_id: str) -> None: ...

    async def link(self, file_id: str) -> str | None: ...

    async def check(self) -> list[str]: ...

    async def close(self) -> None: ...


class StorageMetrics:
    """Counts calls and stored bytes when a Metrics object was given; does nothing otherwise."""

    def __init__(self, backend: str, metrics: Metrics | None) -> None:
        self.backend = backend
        self.metrics = metrics

    def call(self, operation: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.storage_calls.labels(self.backend, operation, outcome).inc()

    def stored(self, kind: str, size: int) -> None:
        if self.metrics is not None:
            label = kind if kind in KINDS else "other"
            self.metrics.bytes_stored.labels(self.backend, label).inc(size)
