"""Building and starting the VK side; the composition root (photobot.app) calls these.

Nothing here runs at import, and only a deployment with VK_TOKEN imports it: vkbottle takes
seconds to import.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from vkbottle.exception_factory import VKAPIError

from photobot.backoff import pause
from photobot.bot.commands import Commands
from photobot.bot.service import BotService
from photobot.bot.vk.adapter import VKAdapter
from photobot.bot.vk.api import PoliteAPI, build_api, error_code
from photobot.bot.vk.handlers import VKHandlers
from photobot.bot.vk.polling import ConfirmingLongPoll
from photobot.config import Settings, SettingsError
from photobot.logs import get_logger
from photobot.metrics import Metrics
from photobot.startup import START_BACKOFF

log = get_logger(__name__)


def build_client(settings: Settings, metrics: Metrics) -> tuple[PoliteAPI, VKAdapter]:
    """The rate-limited API client and the chat adapter on top of it."""
    api = build_api(settings, metrics)
    return api, VKAdapter(api, settings.require_vk_group_id())


def build_long_poll(
    settings: Settings,
    *,
    api: PoliteAPI,
    redis: Redis,
    service: BotService,
    commands: Commands,
    adapter: VKAdapter,
) -> ConfirmingLongPoll:
    handlers = VKHandlers(service, commands, adapter)
    # The lanes finish within the shutdown grace, leaving a little of it for the rest of the stop.
    grace = max(1.0, settings.shutdown_grace_seconds - 2)
    return ConfirmingLongPoll(
        api, settings.require_vk_group_id(), handlers, redis, settings.key_prefix, grace_seconds=grace
    )


async def wait_until_ready(api: PoliteAPI, settings: Settings, stopping: asyncio.Event) -> None:
    """Check the token and the community before polling; VK being unreachable is waited out."""
    group_id = settings.require_vk_group_id()
    attempt = 0
    while not stopping.is_set():
        delay = START_BACKOFF.delay(attempt)
        try:
            answer = await api.request("groups.getById", {"group_id": group_id})
            groups = (answer.get("response") or {}).get("groups") or []
            name = groups[0].get("name") if groups else None
            log.info("vk bot ready", group_id=group_id, name=name, mode="bots long poll")
            return
        except VKAPIError as error:
            if error_code(error) in (5, 27, 28):
                raise SettingsError("VK_TOKEN: VK rejected it (authorization failed)") from None
            if error_code(error) in (15, 100):
                raise SettingsError(f"VK_GROUP_ID: VK refused community {group_id}") from None
            log.warning("vk refused at start; retrying", error=repr(error), retry_in=delay)
        except Exception as error:
            log.warning("vk not reachable at start; retrying", error=repr(error), retry_in=delay)
        await pause(delay, stopping)
        attempt += 1
