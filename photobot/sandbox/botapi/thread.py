"""Serving a fake from a thread of its own, for synchronous code (a test that runs photobot as a
process, the sandbox's command line): the fake gets an event loop of its own in a daemon thread,
and is stopped on that loop when the caller is done with it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar


class Servable(Protocol):
    async def start(self) -> Any: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=Servable)


@contextlib.contextmanager
def serve_in_thread(fake: S, name: str, timeout: float = 30.0) -> Iterator[S]:
    """Start `fake` on a new loop in a thread called `name` (a failed start is raised here), and
    stop it there on leaving the block."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(fake.start())
        except BaseException as error:
            ready.set_exception(error)
            loop.close()
            return
        ready.set_result(None)
        loop.run_forever()
        loop.run_until_complete(fake.stop())
        loop.close()

    thread = threading.Thread(target=serve, name=name, daemon=True)
    thread.start()
    ready.result(timeout)
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
