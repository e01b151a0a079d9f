"""ImageProcessor: runs operations in worker processes so the event loop never runs image code.

Each worker is its own one-process executor (a "slot"). A job that runs past PROCESS_TIMEOUT_SECONDS
is stopped by killing its slot's process alone, and a slot whose process died (killed, out of memory,
a crash in a decoder) is rebuilt; neither disturbs the jobs running in the other slots, which a single
shared ProcessPoolExecutor could not promise. Processes start by forkserver (the parent runs asyncio
and threads, which fork must not copy), with the image libraries preloaded so a rebuilt slot is ready
in milliseconds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from photobot import heap
from photobot.config import Settings
from photobot.logs import get_logger
from photobot.metrics import Metrics
from photobot.processing.errors import ProcessingTimeout, TooLarge, WorkerCrashed
from photobot.processing.lifeline import die_with_parent, forkserver_pid
from photobot.processing.limits import Limits
from photobot.processing.registry import get_operation, validate_params
from photobot.processing.run import OperationResult, run_in_worker

log = get_logger(__name__)
PRELOAD = ["photobot.processing.forkserver_preload", "photobot.processing.run", "numpy", "cv2", "PIL.Image"]


def _init_worker(cv_threads: int, memory_bytes: int) -> None:
    """In each worker: die with the parent, share the cores with the other workers, leave Ctrl-C to
    the parent, and cap the address space so a file that needs too much memory gets MemoryError in
    its own job rather than the machine's OOM killer."""
    import cv2

    die_with_parent(forkserver_pid())
    heap.return_large_buffers()
    cv2.setNumThreads(cv_threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_bytes > 0:
        cap_address_space(memory_bytes)


def cap_address_space(memory_bytes: int) -> None:
    """Lower RLIMIT_AS to `memory_bytes` (never raise it); a no-op where the platform has none."""
    try:
        import resource
    except ImportError:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _ready() -> int:
    return os.getpid()


class _Slot:
    def __init__(self, context: Any, cv_threads: int, memory_bytes: int) -> None:
        self.executor = ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_init_worker, initargs=(cv_threads, memory_bytes)
        )

    def pids(self) -> list[int]:
        processes = getattr(self.executor, "_processes", None) or {}
        return [process.pid for process in processes.values() if process.pid]

    def kill(self) -> None:
        """Stop the process now; the standard executor has no public way before Python 3.14."""
        kill_workers = getattr(self.executor, "kill_workers", None)
        if kill_workers is not None:
            kill_workers()
        else:
            processes = getattr(self.executor, "_processes", None) or {}
            for process in list(processes.values()):
                process.kill()
        self.executor.shutdown(wait=False, cancel_futures=True)


class ImageProcessor:
    """The process pool of image work. `run` is what the worker awaits for each job."""

    def __init__(
        self,
        limits: Limits,
        workers: int,
        timeout_seconds: float,
        metrics: Metrics | None = None,
        *,
        start_method: str = "forkserver",
        memory_bytes: int = 0,
    ) -> None:
        """`memory_bytes`: RLIMIT_AS of each worker process (PROCESS_MEMORY_MB); 0 leaves it."""
        self.limits = limits
        self.memory_bytes = memory_bytes
        self.workers = max(1, workers)
        self.timeout_seconds = timeout_seconds
        self.metrics = metrics
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(PRELOAD)
        self._cv_threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        self._slots = [self._new_slot() for _ in range(self.workers)]
        for slot in self._slots:
            self._idle.put_nowait(slot)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics | None = None) -> ImageProcessor:
        return cls(
            Limits.from_settings(settings),
            settings.resolved_process_workers,
            settings.process_timeout_seconds,
            metrics,
            memory_bytes=settings.process_memory_mb * 1024 * 1024,
        )

    def _new_slot(self) -> _Slot:
        return _Slot(self._context, self._cv_threads, self.memory_bytes)

    def _replace(self, slot: _Slot) -> _Slot:
        slot.kill()
        fresh = self._new_slot()
        self._slots = [fresh if item is slot else item for item in self._slots]
        return fresh

    def worker_pids(self) -> list[int]:
        """Pids of the live worker processes (for health checks and tests)."""
        return [pid for slot in self._slots for pid in slot.pids()]

    async def warm_up(self) -> None:
        """Start every worker process now, so the first job does not pay for it."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(slot.executor, _ready) for slot in self._slots))

    async def run(
        self, data: bytes, name: str, params: Mapping[str, Any], *, as_photo: bool = False
    ) -> OperationResult:
        """Run operation `name` on `data` in a worker; ProcessingError subclasses are its refusals.

        `as_photo`: the result goes to a chat as a photo, so it is made no larger than
        PHOTO_RESULT_MAX_SIDE (`Limits.for_photo`). The name, the params and the byte cap are
        checked here first: such a refusal costs no round trip. ProcessingTimeout and WorkerCrashed
        are transient (`.transient`); the rest permanent.
        """
        if self._closed:
            raise RuntimeError("ImageProcessor is closed")
        validate_params(get_operation(name), params)
        if len(data) > self.limits.max_bytes:
            raise TooLarge(
                what=f"{len(data) / 1048576:.1f} MB", limit=f"{self.limits.max_bytes / 1048576:.1f} MB"
            )
        slot = await self._idle.get()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        outcome = "error"
        try:
            limits = self.limits.for_photo() if as_photo else self.limits
            future = loop.run_in_executor(slot.executor, run_in_worker, data, name, dict(params), limits)
            result = await asyncio.wait_for(future, self.timeout_seconds)
            outcome = "ok"
            return result
        except TimeoutError:
            log.warning("processing_timeout", operation=name, seconds=self.timeout_seconds)
            slot = self._replace(slot)
            raise ProcessingTimeout(f"over {self.timeout_seconds:g} s") from None
        except BrokenProcessPool:
            log.error("processing_worker_crashed", operation=name)
            slot = self._replace(slot)
            raise WorkerCrashed("worker process died") from None
        except asyncio.CancelledError:
            slot = self._replace(slot)  # the job goes elsewhere; its process must not run on
            raise
        finally:
            self._idle.put_nowait(slot)
            if self.metrics is not None:
                self.metrics.processing_seconds.labels(operation=name).observe(time.perf_counter() - started)
            log.debug("processing_done", operation=name, outcome=outcome)

    async def close(self) -> None:
        """Stop the workers; jobs still running are left to finish their current image."""
        if self._closed:
            return
        self._closed = True
        for slot in self._slots:
            await asyncio.to_thread(slot.executor.shutdown, True, cancel_futures=True)
