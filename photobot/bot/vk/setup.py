"""Building and starting the VK side; the composition root (photobot.app) calls these.

Nothing here runs at import.
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis
from vkbottle.exception_factory import VKAPIError

from photobot.bot.commands import Commands
from photobot.bot.service import BotService
from photobot.bot.vk.adapter import VKAdapter
from photobot.bot.vk.api import PoliteAPI, error_code
from photobot.bot.vk.handlers import VKHandlers
from photobot.bot.vk.polling import ConfirmingLongPoll
from photobot.config import Settings, SettingsError
from photobot.logs import get_logger
from photobot.users import UserStore

log = get_logger(__name__)


def require_group_id(settings: Settings) -> int:
    if settings.vk_group_id is None or settings.vk_group_id <= 0:
        raise SettingsError("VK_GROUP_ID: is required with VK_TOKEN (the community's numeric id)")
    return settings.vk_group_id


def build_long_poll(
    settings: Settings,
    *,
    api: PoliteAPI,
    redis: Redis,
    service: BotService,
    commands: Commands,
    users: UserStore,
    adapter: VKAdapter,
) -> ConfirmingLongPoll:
    handlers = VKHandlers(settings, service, commands, users, adapter)
    return ConfirmingLongPoll(api, require_group_id(settings), handlers, redis, settings.key_prefix)


async def wait_until_ready(api: PoliteAPI, settings: Settings, stopping: asyncio.Event) -> None:
    """Check the token and the community before polling; VK being unreachable is waited out."""
    group_id = require_group_id(settings)
    delay = 1.0
    while not stopping.is_set():
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
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        delay = min(30.0, delay * 2)
