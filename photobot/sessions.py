"""Session tokens that open the JSON API: issued from a chat (/token) or the CLI, revoked by /logout.

A token is 256 random bits, URL-safe. Redis never holds a token itself, only its SHA-256, so a copy
of the database opens nothing. Each record carries the user key, the scope and the expiry and lives
under a Redis TTL, so expired sessions vanish without a sweeper. A per-user set of hashes lets
/logout revoke every token of a user at once, atomically.

The chat side calls it in two places: /token in a private chat does
`await sessions.issue(user_key, Scope.ADMIN if settings.is_admin(platform, user_id) else Scope.USER)`
and sends the token back in that chat only; /logout does `await sessions.revoke_all(user_key)`.
`python -m photobot token issue|revoke` does the same for operators.

Keys (one cluster hash tag with the rest of photobot):
    {photobot}:session:<sha256 hex>   hash  user, scope, issued_at, expires_at, digest
    {photobot}:sessions:<user key>    set   the sha256 hex of the user's tokens
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, cast

from photobot.config import Settings
from photobot.logs import get_logger
from photobot.redis_client import RedisClient, RedisNotConfigured, connect

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; anything else is not a photobot token.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
USER_KEY_SHAPE = re.compile(r"^[a-z]{2,8}:[A-Za-z0-9_.@-]{1,64}$")

log = get_logger(__name__)

# Deletes every session of a user and the set that lists them, in one step on the server, so a
# token issued while /logout runs is either revoked or issued after it, never half of each.
_REVOKE_ALL = """
local hashes = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for _, digest in ipairs(hashes) do
    removed = removed + redis.call('DEL', ARGV[1] .. digest)
end
redis.call('DEL', KEYS[1])
return removed
"""


# Deletes one session and, when its user is known (KEYS[2]), its entry in the user's index, in one
# step (a script rather than MULTI, which a cluster pipeline does not offer).
_REVOKE_ONE = """
local removed = redis.call('DEL', KEYS[1])
if KEYS[2] then redis.call('SREM', KEYS[2], ARGV[1]) end
return removed
"""


# One atomic step that works on Redis 6.2 (the embedded default) as on 7: the per-user index lives as
# long as its longest-lived token, so its TTL only ever grows (EXPIRE GT/NX need Redis 7). A user
# keeps at most ARGV[2] live tokens: entries of expired ones leave the index, and the oldest live
# ones are revoked to make room, so /token sent again and again never piles up sessions.
ISSUE_SCRIPT = """
local prefix = string.match(KEYS[1], '^(.*:)[^:]+$')
local live = {}
for _, digest in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local issued = redis.call('HGET', prefix .. digest, 'issued_at')
  if issued then
    table.insert(live, {digest, tonumber(issued)})
  else
    redis.call('SREM', KEYS[2], digest)
  end
end
table.sort(live, function(a, b) return a[2] < b[2] end)
local evicted = 0
for i = 1, #live - tonumber(ARGV[2]) + 1 do
  redis.call('DEL', prefix .. live[i][1])
  redis.call('SREM', KEYS[2], live[i][1])
  evicted = evicted + 1
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], string.match(KEYS[1], '[^:]+$'))
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return evicted
"""
MAX_TOKENS_PER_USER = 5


class Scope(enum.StrEnum):
    """What a token opens: its owner's jobs (user), or the whole queue and every user (admin)."""

    USER = "user"
    ADMIN = "admin"


class InvalidSessionRequest(ValueError):
    """A token was asked for with a malformed user key or a TTL out of range."""


@dataclass(frozen=True)
class Session:
    """What a valid token stands for."""

    user_key: str
    scope: Scope
    issued_at: int
    expires_at: int

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.ADMIN


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Issues, checks and revokes session tokens; safe to share between tasks."""

    def __init__(
        self, redis: RedisClient, key_prefix: str, default_ttl: int, *, max_ttl: int | None = None
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl if max_ttl is not None else max(default_ttl, 30 * 86400)

    @classmethod
    def from_settings(cls, settings: Settings, *, redis: RedisClient | None = None) -> SessionStore:
        """A store on settings.redis_url: a cluster client when REDIS_CLUSTER is true."""
        if redis is None:
            try:
                redis = connect(settings, decode_responses=True)
            except RedisNotConfigured as error:
                raise InvalidSessionRequest(str(error)) from None
        return cls(redis, settings.key_prefix, settings.token_ttl_seconds)

    def _session_key(self, digest: str) -> str:
        return f"{self.key_prefix}:session:{digest}"

    def _user_key(self, user_key: str) -> str:
        return f"{self.key_prefix}:sessions:{user_key}"

    async def issue(self, user_key: str, scope: Scope | str = Scope.USER, ttl: int | None = None) -> str:
        """A new token for `user_key`; only its hash is stored. The token itself is returned once."""
        if not USER_KEY_SHAPE.match(user_key):
            raise InvalidSessionRequest(f"not a user key (expected e.g. tg:123): {user_key!r}")
        ttl = self.default_ttl if ttl is None else int(ttl)
        if not 1 <= ttl <= self.max_ttl:
            raise InvalidSessionRequest(f"ttl must be between 1 and {self.max_ttl} seconds, got {ttl}")
        scope = Scope(scope)
        token = secrets.token_urlsafe(TOKEN_BYTES)  # its shape is redacted in every log line
        digest = token_digest(token)
        now = int(time.time())
        record = {
            "user": user_key,
            "scope": scope.value,
            "issued_at": str(now),
            "expires_at": str(now + ttl),
            "digest": digest,
        }
        fields = [item for pair in record.items() for item in pair]
        issued = self.redis.eval(
            ISSUE_SCRIPT, 2, self._session_key(digest), self._user_key(user_key), str(ttl),
            str(MAX_TOKENS_PER_USER), *fields,
        )
        evicted = int(await cast(Awaitable[Any], issued))
        log.info("session.issued", user_key=user_key, scope=scope.value, ttl=ttl, fingerprint=digest[:8],
                 oldest_revoked=evicted)
        return token

    async def verify(self, token: str) -> Session | None:
        """The session a token opens, or None when it is malformed, unknown, expired or revoked.

        The lookup goes by the token's hash, so timing reveals at most bits of a hash nobody can
        invert; the stored digest is then compared in constant time all the same.
        """
        if not TOKEN_SHAPE.match(token):
            return None
        digest = token_digest(token)
        raw = await cast(Awaitable[dict[str, str]], self.redis.hgetall(self._session_key(digest)))
        if not raw or not hmac.compare_digest(_text(raw.get("digest", "")), digest):
            return None
        try:
            session = Session(
                user_key=_text(raw["user"]),
                scope=Scope(_text(raw["scope"])),
                issued_at=int(_text(raw["issued_at"])),
                expires_at=int(_text(raw["expires_at"])),
            )
        except (KeyError, ValueError):
            log.warning("session.corrupt", fingerprint=digest[:8])
            return None
        if session.expires_at <= time.time():
            return None
        return session

    async def revoke(self, token: str) -> bool:
        """Revoke one token; False when it was not a live token."""
        if not TOKEN_SHAPE.match(token):
            return False
        digest = token_digest(token)
        session = await self.verify(token)
        keys = [self._session_key(digest)]
        if session is not None:
            keys.append(self._user_key(session.user_key))
        removed: Any = await self.redis.eval(_REVOKE_ONE, len(keys), *keys, digest)  # type: ignore[misc]
        return bool(removed)

    async def revoke_all(self, user_key: str) -> int:
        """/logout: every token of the user stops working at once. Returns how many were live."""
        removed: Any = await self.redis.eval(  # type: ignore[misc]
            _REVOKE_ALL, 1, self._user_key(user_key), f"{self.key_prefix}:session:"
        )
        log.info("session.revoked_all", user_key=user_key, count=int(removed))
        return int(removed)

    async def count(self, user_key: str) -> int:
        """Live tokens of a user (the index may still list expired ones; those are not counted)."""
        digests = await cast(Awaitable[set[str]], self.redis.smembers(self._user_key(user_key)))
        if not digests:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for digest in digests:
                pipe.exists(self._session_key(_text(digest)))
            return sum(int(n) for n in await pipe.execute())


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
