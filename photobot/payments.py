"""Premium with an end date, and every Stars payment that bought it, in Redis.

`{prefix}:premium` is a sorted set: user key -> the end of their premium (ms since the epoch). A user
whose end is in the future has PREMIUM_TIER (unless their own tier is higher); when it passes, they
are back on their tier without anything running (the tier is read against the clock). Jobs already
queued keep the priority they were queued with.

`{prefix}:payment:<telegram_payment_charge_id>` records one payment (user, Stars, days, kind, when,
what it added to the premium end, status). Recording and granting are one script, keyed by the
charge id, so a payment that Telegram delivers twice, or that photobot handles again after a crash,
extends premium once. A refund is one script too: it marks the record and takes back exactly the
time that payment added. Both keys live in the `{prefix}` hash slot, and Redis keeps them in its
append-only file like the queue, so they survive a restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from photobot.config import Settings

DAY_MS = 86_400_000

# KEYS[1] premium zset, KEYS[2] the payment's hash, KEYS[3] the user's payments.
# ARGV: user_key, add_ms, charge_id ('': an admin's grant, nothing recorded), then the record's
# field/value pairs. Returns {1, until} when applied now, {0, until} when the charge id was
# recorded before (nothing changes). An admin's grant of 0 ms ends premium now.
_GRANT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local user, add, charge = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local current = tonumber(redis.call('ZSCORE', KEYS[1], user) or 0)
if charge ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return {0, current} end
local base = math.max(now, current)
local untl = base + add
if add > 0 then
  redis.call('ZADD', KEYS[1], untl, user)
elseif charge == '' then
  untl = now
  redis.call('ZADD', KEYS[1], untl, user)
end
if charge ~= '' then
  local fields = {'paid_at', now, 'added_ms', add, 'until', untl}
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[2], unpack(fields))
  redis.call('ZADD', KEYS[3], now, charge)
end
return {1, untl}
"""

# KEYS[1] premium zset, KEYS[2] payment hash. Returns {'unknown'}, {'already', user}, or
# {'ok', user, stars, until}: the time this payment added is taken back (not below now).
_REFUND = """
local status = redis.call('HGET', KEYS[2], 'status')
if not status then return {'unknown'} end
local user = redis.call('HGET', KEYS[2], 'user_key')
if status == 'refunded' then return {'already', user} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], 'status', 'refunded', 'refunded_at', now)
local current = tonumber(redis.call('ZSCORE', KEYS[1], user) or 0)
local added = tonumber(redis.call('HGET', KEYS[2], 'added_ms') or 0)
local untl = current
if status == 'paid' and added > 0 then
  untl = math.max(now, current - added)
  redis.call('ZADD', KEYS[1], untl, user)
end
return {'ok', user, redis.call('HGET', KEYS[2], 'stars') or '0', untl}
"""


class PaymentNotStored(Exception):
    """Redis did not take a payment's record (down, read-only, out of memory, a refused script).

    Transient on purpose: the chat side retries the update until the record is stored, since the
    Stars are already taken and the update must not be dropped."""

    transient = True


@dataclass(frozen=True)
class Payment:
    """One recorded payment. status: paid, refunded, or unmatched (money came for no known offer)."""

    charge_id: str
    user_key: str
    stars: int
    days: int
    kind: str  # invoice | subscription | renewal | unknown
    status: str
    paid_at: int
    until: int
    payload: str

    @classmethod
    def from_hash(cls, charge_id: str, raw: dict[str, str]) -> Payment:
        return cls(
            charge_id=charge_id,
            user_key=raw.get("user_key", ""),
            stars=int(raw.get("stars") or 0),
            days=int(raw.get("days") or 0),
            kind=raw.get("kind", ""),
            status=raw.get("status", ""),
            paid_at=int(raw.get("paid_at") or 0),
            until=int(raw.get("until") or 0),
            payload=raw.get("payload", ""),
        )


@dataclass(frozen=True)
class Granted:
    until_ms: int
    new: bool  # False: this charge id was applied before, nothing changed


@dataclass(frozen=True)
class Refunded:
    outcome: str  # ok | already | unknown
    user_key: str = ""
    stars: int = 0
    until_ms: int = 0


class PremiumLedger:
    """Premium ends and payments; one instance per process, shared by the bots and the API."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.prefix = settings.key_prefix
        self.premium_key = f"{self.prefix}:premium"
        self._grant = redis.register_script(_GRANT)
        self._refund = redis.register_script(_REFUND)

    def payment_key(self, charge_id: str) -> str:
        return f"{self.prefix}:payment:{charge_id}"

    def payments_key(self, user_key: str) -> str:
        return f"{self.prefix}:payments:{user_key}"

    async def premium_until(self, user_key: str) -> int | None:
        score = await self.redis.zscore(self.premium_key, user_key)
        return None if score is None else int(score)

    async def active_count(self, now_ms: int | None = None) -> int:
        now = _now() if now_ms is None else now_ms
        return int(await self.redis.zcount(self.premium_key, f"({now}", "+inf"))

    async def grant_days(self, user_key: str, days: int) -> Granted:
        """An admin's grant: `days` more from the later of now and the current end; 0 ends it now."""
        reply = await self._grant(
            keys=[self.premium_key, self.payment_key("-"), self.payments_key(user_key)],
            args=[user_key, max(0, days) * DAY_MS, ""],
        )
        return Granted(int(reply[1]), bool(reply[0]))

    async def record_payment(
        self, charge_id: str, user_key: str, *, stars: int, days: int, kind: str, payload: str, **extra: Any
    ) -> Granted:
        """Record a payment and add its `days` (none for kind 'unknown'), once per charge id."""
        status = "unmatched" if kind == "unknown" else "paid"
        fields: list[Any] = [
            "user_key",
            user_key,
            "stars",
            stars,
            "days",
            days,
            "kind",
            kind,
            "status",
            status,
            "payload",
            payload[:256],
        ]
        for name, value in extra.items():
            fields += [name, "" if value is None else str(value)]
        try:
            reply = await self._grant(
                keys=[self.premium_key, self.payment_key(charge_id), self.payments_key(user_key)],
                args=[user_key, 0 if status == "unmatched" else days * DAY_MS, charge_id, *fields],
            )
        except RedisError as error:
            raise PaymentNotStored(f"payment {charge_id} not stored: {error!r}") from error
        return Granted(int(reply[1]), bool(reply[0]))

    async def payment(self, charge_id: str) -> Payment | None:
        raw: dict[str, str] = await self.redis.hgetall(self.payment_key(charge_id))  # type: ignore[misc]
        return Payment.from_hash(charge_id, raw) if raw else None

    async def payments_of(self, user_key: str, limit: int = 5) -> list[Payment]:
        """The user's latest payments, newest first."""
        ids = await self.redis.zrevrange(self.payments_key(user_key), 0, limit - 1)
        found = [await self.payment(str(charge_id)) for charge_id in ids]
        return [p for p in found if p is not None]

    async def mark_refunded(self, charge_id: str) -> Refunded:
        reply = await self._refund(keys=[self.premium_key, self.payment_key(charge_id)], args=[])
        if reply[0] == "ok":
            return Refunded("ok", str(reply[1]), int(reply[2]), int(reply[3]))
        return Refunded(str(reply[0]), str(reply[1]) if len(reply) > 1 else "")


def _now() -> int:
    return int(time.time() * 1000)
