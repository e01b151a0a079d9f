"""Webhook delivery: while a webhook is set, pending updates are POSTed to its URL one at a time,
in order, with the secret in X-Telegram-Bot-Api-Secret-Token. Only a 2xx answer confirms an
update; anything else (or no answer) is remembered in getWebhookInfo's last_error_* and the same
update is delivered again after ``retry_delay`` seconds, as Telegram does.

A 2xx answer may carry one Bot API call (JSON or multipart with a "method" field, as aiogram's
webhook handler replies); it is executed like a call the bot made itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from .api import Pulse
from .model import ApiError
from .params import Params, read_params
from .state import State

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
Execute = Callable[[str, Params], Awaitable[Any]]


class WebhookDelivery:
    def __init__(self, state: State, pulse: Pulse, execute: Execute, retry_delay: float) -> None:
        self.state = state
        self.pulse = pulse
        self.execute = execute
        self.retry_delay = retry_delay
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            event = self.pulse.event
            with self.state.lock:
                hook = self.state.webhook
            updates = self.state.deliverable(1) if hook is not None else []
            if hook is None or not updates:
                await self.pulse.wait(event, 5.0)
                continue
            update = updates[0]
            error = await self._post(hook.url, hook.secret_token, update)
            if error is None:
                self.state.confirm(update["update_id"] + 1)
                continue
            with self.state.lock:
                if self.state.webhook is hook:
                    hook.last_error_date = int(time.time())
                    hook.last_error_message = error
            self.state.notify()
            await asyncio.sleep(self.retry_delay)

    async def _post(self, url: str, secret: str | None, update: dict[str, Any]) -> str | None:
        """None when the bot accepted the update, else the error getWebhookInfo reports."""
        assert self._session is not None
        headers = {SECRET_HEADER: secret} if secret else {}
        try:
            async with self._session.post(url, json=update, headers=headers) as response:
                if not 200 <= response.status < 300:
                    return f"Wrong response from the webhook: {response.status} {response.reason}"
                reply = await read_params(response.headers, response.content)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {type(exc).__name__}"
        except ApiError:  # a 2xx reply that is no method call still confirms the update
            return None
        method = reply.string("method")
        if method:
            await self.execute(method, reply)
        return None
