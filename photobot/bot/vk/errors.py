"""Which failures of a VK event's handler are outages (the event must come again): the chat core's
rule (photobot.bot.core.outage) with VK unreachable and aiohttp's client errors added."""

from __future__ import annotations

from aiohttp import ClientError

from photobot.bot.core.outage import outage_rule
from photobot.bot.vk.api import VKUnavailable

is_outage = outage_rule(ClientError, VKUnavailable)
