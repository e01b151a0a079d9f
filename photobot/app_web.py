"""The HTTP half of the composition root: photobot.web's app, wired from the parts `app.build` made.

One aiohttp app per process, in every mode: /healthz, /readyz, /metrics and the JSON API always, the
Telegram webhook route too when WEBHOOK_URL is set and this process runs the bot. Everything it
serves shares the process's Redis pool, Metrics registry and storage, so /metrics counts the jobs
this process enqueued and finished, and a token issued by /token in a chat opens the API at once.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from aiohttp import web

from photobot.bot.final_state import show_final
from photobot.bot.reachable import Reachable
from photobot.bot.state import MessageLocks
from photobot.bot.telegram.webhook import HandledUpdates, add_webhook_route
from photobot.queue.quota import QuotaBook
from photobot.web import WebDeps, build_web_app
from photobot.web.deps import JobShown, PlatformProbe, RouteHook, WorkersAlive

if TYPE_CHECKING:
    from photobot.app import Parts


def _both(first: RouteHook | None, second: RouteHook | None) -> RouteHook | None:
    if first is None or second is None:
        return first or second

    def add_routes(app: web.Application) -> None:
        first(app)
        second(app)

    return add_routes


def webhook_routes(parts: Parts) -> RouteHook | None:
    """The Telegram webhook route, when this process takes Telegram's updates by webhook."""
    settings, dispatcher, bot = parts.settings, parts.dispatcher, parts.bot
    if not settings.webhook_url or dispatcher is None or bot is None:
        return None

    handled = HandledUpdates(parts.redis, settings.key_prefix, bot.id)

    def add_routes(app: web.Application) -> None:
        add_webhook_route(app, settings, dispatcher, bot, handled)

    return add_routes


def platform_probes(parts: Parts) -> dict[str, PlatformProbe]:
    """/readyz's chat platforms: those this process talks to, each probed by a cheap real call."""
    probes: dict[str, PlatformProbe] = {}
    bot, vk_api, settings = parts.bot, parts.vk_api, parts.settings
    if bot is not None:
        probes["telegram"] = Reachable("telegram", bot.get_me)
    if vk_api is not None and settings.vk_group_id is not None:
        group = {"group_id": settings.vk_group_id}
        probes["vk"] = Reachable("vk", lambda: vk_api.request("groups.getById", group))
    return probes


def web_deps(
    parts: Parts, workers_alive: WorkersAlive | None = None, add_routes: RouteHook | None = None
) -> WebDeps:
    """What the HTTP side needs, from the built parts.

    workers_alive: None where this process runs no worker (bot mode), so that /readyz of a bot-only
    replica does not depend on worker containers elsewhere. add_routes: more routes on the root app
    (the sandbox's chat page).
    """
    return WebDeps(
        settings=parts.settings,
        queue=parts.queue,
        storage=parts.storage,
        sessions=parts.sessions,
        users=parts.users,
        metrics=parts.metrics,
        workers_alive=workers_alive,
        add_routes=_both(webhook_routes(parts), add_routes),
        quotas=QuotaBook(parts.redis, parts.settings),
        platforms=platform_probes(parts),
        show_final=_chat_shows_final(parts),
    )


def _chat_shows_final(parts: Parts) -> JobShown | None:
    """How a job cancelled through the API is shown in its chat: the chat adapters of this process."""
    if not parts.adapters:
        return None
    return functools.partial(show_final, parts.adapters, MessageLocks(parts.redis, parts.settings.key_prefix))


def create_web_app(
    parts: Parts, workers_alive: WorkersAlive | None = None, add_routes: RouteHook | None = None
) -> web.Application:
    """photobot's aiohttp app for this process."""
    return build_web_app(web_deps(parts, workers_alive, add_routes))
