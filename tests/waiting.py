"""Waiting for an outcome instead of sleeping for a guessed time.

A test that waits for something to happen re-checks it until a deadline: it goes on as soon as the
outcome is there and fails with a message saying what never came, on a fast or a loaded machine
alike. A plain sleep stays in the tests only where letting time pass is the scenario (proving that
something does not happen, letting a window or TTL run out, pacing a load), each with a comment
saying so.

The fakes have event-driven waits of their own for their state (`FakeTelegram.wait_for`,
`FakeVK.wait_for_sync`...); these are for everything else: Redis, processes, logs, metrics.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")

# What a wait is for, in its timeout message: a text, or a function that describes the last state.
Described = str | Callable[[], str]


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    what: Described = "the condition",
    step: float = 0.05,
) -> T:
    """Call `predicate` until it returns something true, and return that; AssertionError naming
    `what` once `timeout` seconds have passed. `what` may be a function, called only then (to show
    the last state seen, a log's tail). For synchronous tests: it blocks the thread."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what)
        time.sleep(step)


@overload
async def eventually(
    predicate: Callable[[], Awaitable[T | None]],
    timeout: float = ...,
    what: Described = ...,
    step: float = ...,
) -> T: ...


@overload
async def eventually(
    predicate: Callable[[], T | None],
    timeout: float = ...,
    what: Described = ...,
    step: float = ...,
) -> T: ...


async def eventually(
    predicate: Callable[[], object],
    timeout: float = 30.0,
    what: Described = "the condition",
    step: float = 0.02,
) -> object:
    """`wait_until` for the event loop: `predicate` may be a plain or an async function, and the
    loop runs other tasks between the checks."""
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        value = await answer if inspect.isawaitable(answer) else answer
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what)
        await asyncio.sleep(step)


def _timed_out(timeout: float, what: Described) -> AssertionError:
    described = what if isinstance(what, str) else what()
    return AssertionError(f"timed out after {timeout:g} s waiting for {described}")
