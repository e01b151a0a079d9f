"""Which failures of an update's handler are outages (the update must come again) and which are a
bad update (answered, confirmed, never retried forever): one rule, to which each platform adds the
errors its own client raises when the platform is unreachable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.exceptions import BusyLoadingError, LockError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

OUTAGES: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    LockError,
    OSError,
    asyncio.TimeoutError,
)


def outage_rule(*platform_errors: type[BaseException]) -> Callable[[BaseException], bool]:
    """`is_outage(error)` for a platform: Redis, storage and the network, the platform's own
    unreachable errors, and any error that says it is transient. Handling it later can help."""
    outages = OUTAGES + platform_errors

    def is_outage(error: BaseException) -> bool:
        return isinstance(error, outages) or bool(getattr(error, "transient", False))

    return is_outage
