"""The Bot API method table: each method name (case-insensitive, as on Telegram) maps to a handler
that takes the parsed Params and returns the ``result`` of an ok answer or raises ApiError.

Message-changing methods live in messages.py; this module holds the rest: identity, updates
(long polling with offset confirmation), files, webhook, commands, callback answers, chat actions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .media import file_payload
from .model import ApiError, bad_request
from .params import Params
from .payments import Payments, api_table
from .state import State, Webhook

Handler = Callable[[str, Params], Awaitable[Any]]

CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class Pulse:
    """Wakes every coroutine waiting for a change; safe to trigger from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()

    def fire(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._fire()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        self.event.set()
        self.event = asyncio.Event()

    async def wait(self, event: asyncio.Event, timeout: float) -> None:  # noqa: ASYNC109 - a bounded wait on an Event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()


class Api:
    def __init__(
        self, state: State, pulse: Pulse, on_webhook_change: Callable[[], None], payments: Payments
    ) -> None:
        self.state = state
        self.pulse = pulse
        self.on_webhook_change = on_webhook_change
        self.messages = payments.messages
        self._poll_generation = 0
        self.closing = False
        m = self.messages
        table: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.true,
            "close": self.true,
            "getUpdates": self.get_updates,
            "sendMessage": m.send_message,
            "sendPhoto": m.send_file,
            "sendDocument": m.send_file,
            "sendMediaGroup": m.send_media_group,
            "editMessageText": m.edit_text,
            "editMessageCaption": m.edit_caption,
            "editMessageMedia": m.edit_media,
            "editMessageReplyMarkup": m.edit_reply_markup,
            "deleteMessage": m.delete,
            "answerCallbackQuery": self.answer_callback,
            "getFile": self.get_file,
            "setMyCommands": self.set_commands,
            "getMyCommands": self.get_commands,
            "deleteMyCommands": self.delete_commands,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.webhook_info,
            "sendChatAction": self.chat_action,
            **api_table(payments),
        }
        self.table = {name.lower(): (name, handler) for name, handler in table.items()}

    def lookup(self, method: str) -> tuple[str, Handler]:
        found = self.table.get(method.lower())
        if found is None:
            raise ApiError(404, "Not Found")
        return found

    async def true(self, method: str, params: Params) -> bool:
        return True

    async def get_me(self, method: str, params: Params) -> dict[str, Any]:
        return dict(self.state.bot_user)

    # --- updates ---------------------------------------------------------------------------------

    async def get_updates(self, method: str, params: Params) -> list[dict[str, Any]]:
        if self.state.webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = params.integer("offset", 0) or 0
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(params.number("timeout", 0) or 0, 0)
        allowed = params.obj("allowed_updates")
        if isinstance(allowed, list):
            with self.state.lock:
                self.state.allowed_updates = [str(kind) for kind in allowed] or None
        self.state.confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        while True:
            event = self.pulse.event
            updates = self.state.deliverable(limit)
            if updates:
                return updates
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_POLL)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closing:
                return []
            await self.pulse.wait(event, remaining)

    # --- files -----------------------------------------------------------------------------------

    async def get_file(self, method: str, params: Params) -> dict[str, Any]:
        file_id = params.required_str("file_id", "invalid file_id")
        stored = self.state.stored(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        return file_payload(stored)

    # --- webhook ---------------------------------------------------------------------------------

    async def set_webhook(self, method: str, params: Params) -> bool:
        url = params.string("url") or ""
        if params.flag("drop_pending_updates"):
            self.state.drop_pending()
        if not url:
            return await self.delete_webhook(method, Params())
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.string("secret_token")
        allowed = params.obj("allowed_updates")
        with self.state.lock:
            self.state.webhook = Webhook(
                url=url,
                secret_token=secret or None,
                max_connections=params.integer("max_connections", 40) or 40,
                allowed_updates=allowed if isinstance(allowed, list) else None,
            )
            if isinstance(allowed, list):
                self.state.allowed_updates = [str(kind) for kind in allowed] or None
        self.on_webhook_change()
        self.state.notify()
        return True

    async def delete_webhook(self, method: str, params: Params) -> bool:
        if params.flag("drop_pending_updates"):
            self.state.drop_pending()
        with self.state.lock:
            self.state.webhook = None
        self.on_webhook_change()
        self.state.notify()
        return True

    async def webhook_info(self, method: str, params: Params) -> dict[str, Any]:
        with self.state.lock:
            hook = self.state.webhook
            info: dict[str, Any] = {
                "url": hook.url if hook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self.state.pending),
            }
            if hook is not None:
                info["max_connections"] = hook.max_connections
                info["ip_address"] = "127.0.0.1"
                if hook.allowed_updates is not None:
                    info["allowed_updates"] = hook.allowed_updates
                if hook.last_error_date is not None:
                    info["last_error_date"] = hook.last_error_date
                    info["last_error_message"] = hook.last_error_message
        return info

    # --- commands, callbacks, actions --------------------------------------------------------------

    @staticmethod
    def _commands_key(params: Params) -> tuple[str, str]:
        scope = params.obj("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.string("language_code") or ""

    async def set_commands(self, method: str, params: Params) -> bool:
        commands = params.obj("commands")
        if not isinstance(commands, list):
            raise bad_request("commands must be an array")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            if not (1 <= len(name) <= 32) or not all(c.islower() or c.isdigit() or c == "_" for c in name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not (1 <= len(str(command.get("description", ""))) <= 256):
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        with self.state.lock:
            self.state.commands[self._commands_key(params)] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        self.state.notify()
        return True

    async def get_commands(self, method: str, params: Params) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.commands.get(self._commands_key(params), []))

    async def delete_commands(self, method: str, params: Params) -> bool:
        with self.state.lock:
            self.state.commands.pop(self._commands_key(params), None)
        self.state.notify()
        return True

    async def answer_callback(self, method: str, params: Params) -> bool:
        query_id = params.required_str("callback_query_id", QUERY_TOO_OLD)
        with self.state.lock:
            callback = self.state.callbacks.get(query_id)
            if callback is None or callback.answered:
                raise bad_request(QUERY_TOO_OLD)
            callback.answered = True
            callback.answer = {
                "text": params.string("text"),
                "show_alert": params.flag("show_alert"),
                "url": params.string("url"),
                "cache_time": params.integer("cache_time", 0),
            }
        self.state.notify()
        return True

    async def chat_action(self, method: str, params: Params) -> bool:
        self.state.chat_for_bot(params.chat_id())
        params.required_str("action", "wrong parameter action in request")
        return True
