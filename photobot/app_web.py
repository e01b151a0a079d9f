"""The HTTP app's builder: photobot.web's app, wired from the parts photobot.app built.

One aiohttp app per process, in every mode: /healthz, /readyz, /metrics and the JSON API always, the
Telegram webhook route too when WEBHOOK_URL is set and this process runs the bot. Everything it
serves shares the process's Redis pool, Metrics registry and storage, so /metrics counts the jobs
this process enqueued and finished, and a token issued by /token in a chat opens the API at once.
"""

from __future__ import annotations

from aiohttp import web

from photobot.bot.core.status import StatusMessages
from photobot.bot.reachable import Reachable
from photobot.builders import Parts, Platforms, Stores
from photobot.config import Settings
from photobot.queue.quota import QuotaBook
from photobot.web import WebDeps, build_web_app
from photobot.web.deps import JobShown, PlatformProbe, RouteHook, WorkersAlive


def _both(first: RouteHook | None, second: RouteHook | None) -> RouteHook | None:
    if first is None or second is None:
        return first or second

    def add_routes(app: web.Application) -> None:
        first(app)
        second(app)

    return add_routes


def webhook_routes(parts: Parts) -> RouteHook | None:
    """The Telegram webhook route, when this process takes Telegram's updates by webhook."""
    settings, bot = parts.settings, parts.chats.bot
    dispatcher = parts.chat.dispatcher if parts.chat is not None else None
    if not settings.webhook_url or dispatcher is None or bot is None:
        return None
    from photobot.bot.telegram.webhook import HandledUpdates, add_webhook_route

    handled = HandledUpdates(parts.core.redis, settings.key_prefix, bot.id)

    def add_routes(app: web.Application) -> None:
        add_webhook_route(app, settings, dispatcher, bot, handled)

    return add_routes


def platform_probes(settings: Settings, chats: Platforms) -> dict[str, PlatformProbe]:
    """/readyz's chat platforms: those this process talks to, each probed by a cheap real call."""
    probes: dict[str, PlatformProbe] = {}
    bot, vk_api = chats.bot, chats.vk_api
    if bot is not None:
        probes["telegram"] = Reachable("telegram", bot.get_me)
    if vk_api is not None and settings.vk_group_id is not None:
        group = {"group_id": settings.vk_group_id}
        probes["vk"] = Reachable("vk", lambda: vk_api.request("groups.getById", group))
    return probes


def web_deps(
    core: Stores,
    chats: Platforms,
    workers_alive: WorkersAlive | None = None,
    add_routes: RouteHook | None = None,
) -> WebDeps:
    """What the HTTP side needs, from the built parts.

    workers_alive: None where this process runs no worker (bot mode), so that /readyz of a bot-only
    replica does not depend on worker containers elsewhere. add_routes: more routes on the root app
    (the sandbox's chat page, the Telegram webhook).
    """
    return WebDeps(
        core.settings, core.queue, core.storage, core.sessions, core.users, core.metrics,
        workers_alive=workers_alive,
        add_routes=add_routes,
        quotas=QuotaBook(core.redis, core.settings),
        platforms=platform_probes(core.settings, chats),
        show_final=_chat_shows_final(core, chats),
    )


def _chat_shows_final(core: Stores, chats: Platforms) -> JobShown | None:
    """How a job cancelled through the API is shown in its chat: the chat adapters of this process."""
    if not chats.adapters:
        return None
    return StatusMessages(chats.adapters, core.locks, core.queue).show_final


def create_web_app(
    parts: Parts, workers_alive: WorkersAlive | None = None, add_routes: RouteHook | None = None
) -> web.Application:
    """photobot's aiohttp app for this process."""
    routes = _both(webhook_routes(parts), add_routes)
    return build_web_app(web_deps(parts.core, parts.chats, workers_alive, routes))
