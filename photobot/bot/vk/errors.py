"""Which failures of a VK event's handler are outages (the event must come again) and which are a
bad event (answered, confirmed, never retried forever)."""

from __future__ import annotations

import asyncio

from aiohttp import ClientError
from redis.exceptions import BusyLoadingError, LockError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from photobot.bot.vk.api import VKUnavailable

_OUTAGES = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    LockError,
    OSError,
    asyncio.TimeoutError,
    ClientError,
    VKUnavailable,
)


def is_outage(error: BaseException) -> bool:
    """An infrastructure failure (Redis, storage, the network, VK): handling it later can help."""
    return isinstance(error, _OUTAGES) or bool(getattr(error, "transient", False))
