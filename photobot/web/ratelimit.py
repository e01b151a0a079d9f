"""A request budget per API token: API_RATE_LIMIT requests per API_RATE_WINDOW_SECONDS.

One token's client cannot take the API (and the Redis behind it) from everyone else: past its
budget a request gets 429 with Retry-After before anything else is done for it. Requests are
counted by the token's digest, before the token is even checked, so guessing tokens is bounded too.
Fixed windows in Redis (one INCR a request), shared by every photobot process.
"""

from __future__ import annotations

import math

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.commands.core import AsyncScript

from photobot.redis_client import RedisClient
from photobot.sessions import token_digest
from photobot.web.auth import PUBLIC_PATHS, bearer_token
from photobot.web.errors import ApiError

# KEYS: none routed but the counter. ARGV: window ms. Returns {count, ms left in the window}.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


class TokenRateLimit:
    def __init__(self, redis: RedisClient, prefix: str, limit: int, window_seconds: float) -> None:
        self._prefix = f"{prefix}:apirate:"
        self.limit = limit
        self._window_ms = max(1, int(window_seconds * 1000))
        self._count = AsyncScript(redis, _COUNT)  # type: ignore[arg-type]  # a cluster client works too

    async def spend(self, token: str) -> float:
        """Count one request of `token`; 0 when within the budget, else seconds until the next window."""
        key = self._prefix + token_digest(token)[:32]
        count, left_ms = await self._count(keys=[key], args=[self._window_ms])
        if int(count) <= self.limit:
            return 0.0
        return max(1.0, int(left_ms) / 1000)


RATE_LIMIT_KEY: web.AppKey[TokenRateLimit] = web.AppKey("photobot_rate_limit", TokenRateLimit)


@web.middleware
async def limit_per_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    limiter = request.app.get(RATE_LIMIT_KEY)
    if limiter is None or request.path in PUBLIC_PATHS or request.method == "OPTIONS":
        return await handler(request)
    if not request.headers.get("Authorization"):
        return await handler(request)  # answered 401 by the session check, at no cost to Redis
    wait = await limiter.spend(bearer_token(request))
    if wait:
        raise ApiError(
            429,
            "rate_limited",
            f"More than {limiter.limit} requests in the window; try again in {math.ceil(wait)} s.",
            {"Retry-After": str(math.ceil(wait))},
        )
    return await handler(request)
