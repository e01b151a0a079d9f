"""One owner for the fake's state: side-door calls from other threads run on the fake's loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from .door import SideDoor

P = ParamSpec("P")
R = TypeVar("R")


def on_loop(fn: Callable[Concatenate[SideDoor, P], R]) -> Callable[Concatenate[SideDoor, P], R]:
    """Run a side-door method on the fake's loop: directly when called there, else from another
    thread through call_soon_threadsafe, waiting for the result. The state has one owner."""

    def wrapper(self: SideDoor, /, *args: P.args, **kwargs: P.kwargs) -> R:
        loop = self._loop
        if loop is None:
            return fn(self, *args, **kwargs)  # not serving: nothing runs concurrently
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                return fn(self, *args, **kwargs)
        future: concurrent.futures.Future[R] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(self, *args, **kwargs))
            except BaseException as error:
                future.set_exception(error)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    functools.update_wrapper(wrapper, fn)
    return wrapper
