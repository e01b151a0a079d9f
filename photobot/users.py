"""Chat users in Redis: tier, ban and language per user key, and the flood check.

Users are keyed per platform (`tg:123`, `vk:123`), so tiers, bans and histories never collide. The
chat bots and the HTTP API share this store. The flood check is one Lua script: a sliding window of
recent photos plus a "warned" flag, so a flooding user gets one polite message per window, not one
per photo, and a repeated update (same event id) is never counted twice.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from photobot.config import Settings
from photobot.jobs import Platform
from photobot.logs import get_logger
from photobot.sessions import SessionStore

log = get_logger(__name__)

_FLOOD_SCRIPT = """
-- KEYS[1] window zset, KEYS[2] warned flag
-- ARGV[1] limit, ARGV[2] window ms, ARGV[3] event id, ARGV[4] when the user sent it (ms, or '')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] ~= '' and tonumber(ARGV[4]) < now then now = tonumber(ARGV[4]) end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  return 0
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', window) then
  return 1
end
return 2
"""


# A counter and its window's expiry set in one step, so a crash between the two cannot leave a
# counter that never expires.
_COUNT_SCRIPT = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return used
"""


class FloodVerdict(enum.Enum):
    """What to do with one more photo from a user."""

    ALLOWED = "allowed"
    WARN = "warn"  # over the limit, and not told yet in this window: say so once
    SILENT = "silent"  # over the limit and already told: drop without a word


@dataclass(frozen=True)
class UserRecord:
    """One user as every update sees it; loaded once per update."""

    key: str
    platform: Platform
    user_id: str
    tier: str
    banned: bool
    language: str | None
    is_admin: bool
    premium_until: int | None = None  # ms since the epoch; premium (paid or granted) ends then

    @property
    def numeric_id(self) -> int | None:
        try:
            return int(self.user_id)
        except ValueError:
            return None


class UnknownTier(ValueError):
    """A tier name that is not one of TIERS."""


class ProtectedAdmin(ValueError):
    """An admin named in ADMIN_IDS / VK_ADMIN_IDS: no chat command and no API call bans or demotes
    them, so the operator's own account can always undo what a rogue admin-tier user did."""


class UserStore:
    """Per-user records under `{prefix}:user:<key>` and flood windows under `{prefix}:flood:<key>`.

    It owns every change of a user's authority: a ban, or a tier change that takes admin away,
    revokes the user's API tokens (`sessions`) in the same call, so no token outlives it.
    """

    def __init__(self, redis: Redis, settings: Settings, sessions: SessionStore | None = None) -> None:
        self._redis = redis
        self._settings = settings
        self._sessions = sessions
        self._prefix = settings.key_prefix
        self._flood = redis.register_script(_FLOOD_SCRIPT)
        self._count = redis.register_script(_COUNT_SCRIPT)

    def _key(self, user_key: str) -> str:
        return f"{self._prefix}:user:{user_key}"

    @staticmethod
    def parse_key(user_key: str) -> tuple[Platform, str]:
        """`tg:123` -> (telegram, "123"); raises ValueError for anything else."""
        short, sep, user_id = user_key.partition(":")
        platforms = {p.short: p for p in Platform}
        if not sep or short not in platforms or not user_id or len(user_id) > 64:
            raise ValueError(f"not a user key: {user_key!r}")
        return platforms[short], user_id

    async def get(self, user_key: str) -> UserRecord:
        """The user now: their tier is PREMIUM_TIER while premium lasts, unless theirs is higher."""
        platform, user_id = self.parse_key(user_key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key(user_key))
            pipe.zscore(f"{self._prefix}:premium", user_key)
            raw, premium_score = await pipe.execute()
        fields = {_text(k): _text(v) for k, v in raw.items()}
        configured_admin = self._configured_admin(user_key)
        tier = fields.get("tier") or ""
        if tier not in self._settings.tiers:
            tier = "admin" if configured_admin and "admin" in self._settings.tiers else ""
        tier = tier or self._settings.default_tier
        premium_until = None if premium_score is None else int(premium_score)
        tier = premium_tier(self._settings, tier, premium_until)
        return UserRecord(
            key=user_key,
            platform=platform,
            user_id=user_id,
            tier=tier,
            # A configured admin is never banned: an old ban (or one set in Redis by hand) would
            # otherwise drop their updates, /unban included.
            banned=fields.get("banned") == "1" and not configured_admin,
            language=fields.get("language") or None,
            is_admin=configured_admin or tier == "admin",
            premium_until=premium_until,
        )

    async def touch(self, user_key: str, language: str | None) -> None:
        """Remember the user's language (the worker answers in it) and when they were last seen."""
        mapping = {"seen_at": str(int(time.time()))}
        if language:
            mapping["language"] = language
        await self._redis.hset(self._key(user_key), mapping=mapping)  # type: ignore[misc]

    async def get_tier(self, user_key: str) -> str:
        """The user's tier as the queue prioritises it (admins by ADMIN_IDS included); the HTTP API's
        UserDirectory reads it for /api/v1/me."""
        return (await self.get(user_key)).tier

    async def set_tier(self, user_key: str, tier: str) -> None:
        """Change a user's tier (admins: /tier in a chat, POST /api/v1/users/{key}/tier, the CLI).

        Raises ProtectedAdmin for a configured admin being given a tier below admin; a user who
        loses admin loses their API tokens with it.
        """
        name = tier.strip().lower()
        if name not in self._settings.tiers:
            raise UnknownTier(name)
        before = await self.get(user_key)
        if before.is_admin and name != "admin" and self._configured_admin(user_key):
            raise ProtectedAdmin(user_key)
        await self._redis.hset(self._key(user_key), "tier", name)  # type: ignore[misc]
        if before.is_admin and name != "admin":
            await self._revoke(user_key, "demoted")

    async def ban(self, user_key: str) -> None:
        """Ban a user and revoke their API tokens; ProtectedAdmin for a configured admin."""
        if self._configured_admin(user_key):
            raise ProtectedAdmin(user_key)
        await self._redis.hset(self._key(user_key), "banned", "1")  # type: ignore[misc]
        await self._revoke(user_key, "banned")

    def _configured_admin(self, user_key: str) -> bool:
        platform, user_id = self.parse_key(user_key)
        return platform is not Platform.CLI and self._settings.is_admin(platform.value, user_id)

    async def _revoke(self, user_key: str, reason: str) -> None:
        if self._sessions is not None:
            count = await self._sessions.revoke_all(user_key)
            log.info("tokens revoked", user_key=user_key, reason=reason, count=count)

    async def unban(self, user_key: str) -> None:
        self.parse_key(user_key)
        await self._redis.hset(self._key(user_key), "banned", "0")  # type: ignore[misc]

    async def check_flood(
        self, user_key: str, event_id: str, sent_at: float | None = None
    ) -> FloodVerdict:
        """Count one photo (by its event id, so a repeated update counts once) against the limit.

        `sent_at` (Unix seconds, the platform's message date) places the photo in the window of when
        the user sent it, so a backlog handled late (after a restart, or behind the chat's send
        pacing) is judged by the user's pace, not by photobot's.
        """
        result = await self._flood(
            keys=[f"{self._prefix}:flood:{user_key}", f"{self._prefix}:flood:{user_key}:warned"],
            args=[
                self._settings.flood_limit,
                int(self._settings.flood_window_seconds * 1000),
                event_id,
                "" if sent_at is None else str(int(sent_at * 1000)),
            ],
        )
        return {0: FloodVerdict.ALLOWED, 1: FloodVerdict.WARN}.get(int(result), FloodVerdict.SILENT)

    async def within_rate(self, user_key: str, topic: str, limit: int, seconds: float) -> bool:
        """Count one more use of `topic` (e.g. /token); False once the user passed `limit` uses in
        a fixed window of `seconds` that starts with the first use."""
        key = f"{self._prefix}:rate:{topic}:{user_key}"
        used = await self._count(keys=[key], args=[max(1, int(seconds * 1000))])
        return int(used) <= limit

    async def warn_once(self, user_key: str, topic: str, seconds: float) -> bool:
        """True the first time in `seconds` for this user and topic (e.g. telling a banned user)."""
        key = f"{self._prefix}:once:{topic}:{user_key}"
        return bool(await self._redis.set(key, "1", nx=True, px=max(1, int(seconds * 1000))))


def premium_tier(settings: Settings, tier: str, premium_until: int | None) -> str:
    """PREMIUM_TIER while premium lasts if it ranks above `tier`; `tier` otherwise."""
    if premium_until is None or premium_until <= time.time() * 1000 or not settings.premium_enabled:
        return tier
    premium = settings.premium_tier
    return premium if settings.tiers[premium] > settings.tiers.get(tier, -(10**9)) else tier


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
