"""Telegram's webhook route: who may post, what a body must look like, and each update once.

- A request without the right X-Telegram-Bot-Api-Secret-Token gets 403 before anything reads its
  body (aiogram would answer 401, which asks for credentials HTTP has no scheme for); the comparison
  is constant-time and works on bytes, so a header that is not ASCII is simply wrong (403), never a
  500.
- With the right secret, a body that is not a JSON object (malformed, an array, nested deeper than
  the parser goes, larger than any update) gets 400; a JSON object that is not an Update is dropped
  with one warning and answered 200, so Telegram does not send it again forever.
- An update is handled once: a request claims its update id in Redis (SET NX) before handling it,
  and the id stays marked done for a day (Telegram resends an update for at most that long), so a
  replayed POST (say, of a /token update) does nothing twice, even when the copies arrive together.
  A copy that finds the update still in hand elsewhere gets 503, so Telegram tries again later: if
  the request in hand dies with its process, the claim runs out and a later copy handles it.
- The answer comes only after the update was handled, so a 200 means its job or pending choice is
  in Redis; an outage gives a 503 and Telegram sends it again.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError
from redis.asyncio import Redis

from photobot.bot.telegram.routers.errors import is_outage
from photobot.config import Settings
from photobot.logs import get_logger

log = get_logger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
MAX_UPDATE_BYTES = 1024 * 1024  # a message is at most 4,096 characters; entities and media ids add little
DONE_TTL_SECONDS = 86_400
# Longer than handling an update takes (a photo's download and store included); a claim whose
# process died runs out after it, and Telegram's next copy of the update is handled.
CLAIM_TTL_SECONDS = 300
IN_HAND, DONE = "in-hand", "1"


class HandledUpdates:
    """Update ids taken through the webhook, one short Redis key each: in hand, then done for a day."""

    def __init__(self, redis: Redis, prefix: str, bot_id: int) -> None:
        self.redis = redis
        self.prefix = f"{prefix}:tg:hook-done:{bot_id}:"

    async def claim(self, update_id: int) -> str | None:
        """None when this request now holds the update; else what another did: IN_HAND or DONE."""
        key = self.prefix + str(update_id)
        if await self.redis.set(key, IN_HAND, nx=True, ex=CLAIM_TTL_SECONDS):
            return None
        state = await self.redis.get(key)
        return IN_HAND if state in (IN_HAND, IN_HAND.encode()) else DONE

    async def mark(self, update_id: int) -> None:
        await self.redis.set(self.prefix + str(update_id), DONE, ex=DONE_TTL_SECONDS)

    async def release(self, update_id: int) -> None:
        """Give up the claim of an update not handled, so that Telegram's next copy is."""
        await self.redis.delete(self.prefix + str(update_id))


def _again_later(update_id: int, why: str, error: BaseException | None) -> web.Response:
    """503: Telegram sends the update again later."""
    log.warning("webhook update not handled now; Telegram sends it again", update_id=update_id, why=why,
                error=repr(error) if error else None)
    return web.Response(status=503, text="Service Unavailable")


def _secret_matches(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object; None for anything else."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def add_webhook_route(
    app: web.Application, settings: Settings, dispatcher: Dispatcher, bot: Bot, handled: HandledUpdates
) -> None:
    """The webhook on photobot's aiohttp app, at WEBHOOK_PATH."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None

    async def webhook(request: web.Request) -> web.StreamResponse:
        if secret and not _secret_matches(request.headers.get(SECRET_HEADER, ""), secret):
            log.warning("webhook request refused: wrong or missing secret", remote=request.remote)
            return web.Response(status=403, text="Forbidden")
        raw = await request.content.read(MAX_UPDATE_BYTES + 1)
        data = _parse(raw) if len(raw) <= MAX_UPDATE_BYTES else None
        if data is None:
            log.warning("webhook body refused: not a JSON object of an update", size=len(raw))
            return web.Response(status=400, text="Bad Request")
        try:
            update = Update.model_validate(data, context={"bot": bot})
        except (ValidationError, RecursionError) as error:
            log.warning("webhook update dropped: not an Update", error=str(error)[:300])
            return web.Response(status=200)
        return await once(update)

    async def once(update: Update) -> web.StreamResponse:
        try:
            holder = await handled.claim(update.update_id)
        except Exception as error:
            if not is_outage(error):
                raise
            return _again_later(update.update_id, "outage", error)
        if holder == DONE:
            log.info("webhook update already handled", update_id=update.update_id)
            return web.Response(status=200)
        if holder == IN_HAND:
            return _again_later(update.update_id, "in hand in another request", None)
        try:
            await dispatcher.feed_webhook_update(bot, update)
            await handled.mark(update.update_id)
        except Exception as error:
            with contextlib.suppress(Exception):
                await handled.release(update.update_id)
            if not is_outage(error):
                raise
            return _again_later(update.update_id, "outage", error)
        return web.Response(status=200)

    app.router.add_post(settings.webhook_path, webhook)
