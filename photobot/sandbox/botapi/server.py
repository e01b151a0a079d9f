"""FakeTelegram: the aiohttp server, its lifecycle, and the Python side door (see the package
docstring for the whole contract)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from . import inject
from .api import Api, Pulse
from .messages import Messages
from .model import ApiError, BotMessage, CallRecord, StoredFile
from .params import Params, read_params
from .payments import Charge, Invoice, Payments
from .sidedoor import add_side_door
from .state import State, _FailNext, _Storm
from .webhook import WebhookDelivery


def _json(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(body, ensure_ascii=False)
    return web.Response(status=status, text=text, content_type="application/json")


class FakeTelegram:
    """A Bot API server on 127.0.0.1 that the real aiogram Bot talks to, plus a side door."""

    def __init__(
        self,
        token: str | None = None,
        port: int = 0,
        bot_username: str = "photobot_test_bot",
        webhook_retry_delay: float = 1.0,
        seed: int = 0,
        *,
        pre_checkout_timeout: float = 10.0,
    ) -> None:
        self.token = token or f"{random.randint(10**8, 10**10 - 1)}:AA{secrets.token_urlsafe(24)}"
        self.port = port
        self.state = State(self.token, bot_username)
        self.payments = Payments(self.state, Messages(self.state), pre_checkout_timeout)
        self.webhook_retry_delay = webhook_retry_delay
        self._seed = seed
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pulse: Pulse | None = None
        self._api: Api | None = None
        self._webhook: WebhookDelivery | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ``TelegramAPIServer.from_base(tg.base_url)`` and TELEGRAM_API_URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeTelegram:
        self._loop = asyncio.get_running_loop()
        self._pulse = Pulse(self._loop)
        self.state.on_change = self._pulse.fire
        self._api = Api(self.state, self._pulse, self._pulse.fire, self.payments)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_side_door(app, self)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._webhook = WebhookDelivery(self.state, self._pulse, self.call, self.webhook_retry_delay)
        self._webhook.start()
        return self

    async def stop(self) -> None:
        if self._api is not None:
            self._api.closing = True
        if self._pulse is not None:
            self._pulse.fire()
        if self._webhook is not None:
            await self._webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.state.on_change = lambda: None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **kwargs: Any) -> Iterator[FakeTelegram]:
        """Run the fake on its own loop in a daemon thread, for sync tests that drive subprocesses.
        The side door is thread-safe; use ``wait_for_sync`` to wait for the bot."""
        fake = cls(**kwargs)
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(fake.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(fake.stop())
            loop.close()

        thread = threading.Thread(target=serve, name="fake-telegram", daemon=True)
        thread.start()
        started.wait()
        if failure:
            raise failure[0]
        try:
            yield fake
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    # --- the Bot API ---------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        if request.match_info["token"] != self.token:
            return _json(ApiError(401, "Unauthorized").payload(), 401)
        try:
            params = await read_params(request.headers, request.content, request.query)
        except ApiError as error:
            return _json(error.payload(), error.code)
        status, body = await self.call(request.match_info["method"], params, arrived)
        return _json(body, status)

    async def call(self, method: str, params: Params, arrived: float | None = None) -> tuple[int, Any]:
        """Run one Bot API call, log it and return (HTTP status, JSON body)."""
        assert self._api is not None
        arrived = time.monotonic() if arrived is None else arrived
        name = method
        result: Any = None
        try:
            name, handler = self._api.lookup(method)
            fault = self.state.fault_for(name)
            if fault is not None:
                raise fault
            result = await handler(name, params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.code, error.payload()
        raw_chat = params.values.get("chat_id")
        try:
            chat_id: int | str | None = int(raw_chat) if raw_chat is not None else None
        except (TypeError, ValueError):
            chat_id = str(raw_chat)
        message_id = (
            result.get("message_id") if isinstance(result, dict) else params.integer_or_none("message_id")
        )
        self.state.log(
            CallRecord(
                method=name,
                chat_id=chat_id,
                at=arrived,
                status=status,
                params=params.loggable(),
                message_id=message_id,
                description=None if status == 200 else body.get("description"),
            )
        )
        return status, body

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json(ApiError(401, "Unauthorized").payload(), 401)
        stored = self.state.files.by_path(request.match_info["path"])
        if stored is None:
            return _json(ApiError(404, "Not Found").payload(), 404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # --- side door: users ------------------------------------------------------------------------

    def inject_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str | None = None,
    ) -> int:
        """A user writes ``text``; returns the update_id."""
        return inject.text(
            self.state,
            user_id,
            text,
            chat_id=chat_id,
            language_code=language_code,
            chat_type=chat_type,
            first_name=first_name,
        )

    def inject_photo(
        self,
        user_id: int,
        image_bytes: bytes,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str | None = None,
    ) -> int:
        """A user sends a photo (must decode with Pillow); returns the update_id."""
        return inject.photo(
            self.state,
            user_id,
            image_bytes,
            caption,
            chat_id=chat_id,
            language_code=language_code,
            chat_type=chat_type,
            first_name=first_name,
        )

    def inject_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str | None = None,
    ) -> int:
        """A user sends any bytes as a file; returns the update_id."""
        return inject.document(
            self.state,
            user_id,
            data,
            file_name,
            mime_type,
            caption=caption,
            chat_id=chat_id,
            language_code=language_code,
            chat_type=chat_type,
            first_name=first_name,
        )

    def inject_album(
        self,
        user_id: int,
        images: list[bytes],
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str | None = None,
    ) -> list[int]:
        """A user sends 2-10 photos as one album; returns their update_ids."""
        return inject.album(
            self.state,
            user_id,
            images,
            caption,
            chat_id=chat_id,
            language_code=language_code,
            chat_type=chat_type,
            first_name=first_name,
        )

    def inject_callback(self, user_id: int, message_id: int, data: str, chat_id: int | None = None) -> str:
        """A user presses an inline button of the bot's message; returns the callback query id."""
        return inject.callback(self.state, user_id, message_id, data, chat_id=chat_id)

    def inject_pre_checkout(
        self, user_id: int, payload: str, total_amount: int, currency: str = "XTR"
    ) -> str:
        """The user confirms a payment form: a pre_checkout_query; returns its id. The bot has
        ``pre_checkout_timeout`` (Telegram: 10) seconds to answer it."""
        return self.payments.pre_checkout(user_id, payload, total_amount, currency)

    def pre_checkout_answer(self, query_id: str) -> dict[str, Any] | None:
        """{ok, error_message} once the bot answered the query, None before."""
        return self.payments.answer(query_id)

    def inject_successful_payment(
        self,
        user_id: int,
        payload: str,
        total_amount: int,
        *,
        currency: str = "XTR",
        subscription: bool = False,
        renewal_of: str | None = None,
        charge_id: str | None = None,
    ) -> tuple[int, str]:
        """Telegram charged the user: a message with successful_payment (a subscription's has
        subscription_expiration_date and is_recurring; ``renewal_of`` renews the subscription
        whose first charge it names). ``charge_id`` repeats a charge, as a redelivery would.
        Returns (update_id, telegram_payment_charge_id)."""
        return self.payments.successful_payment(
            user_id, payload, total_amount, currency=currency, subscription=subscription,
            renewal_of=renewal_of, charge_id=charge_id,
        )

    def pay(self, user_id: int, invoice: Invoice, timeout: float = 10.0) -> str | None:
        """The whole purchase of ``invoice`` by the user: the pre-checkout query, the bot's answer
        (waited for), and if the bot said ok, the payment. Returns the charge id, None if refused."""
        query_id = self.inject_pre_checkout(user_id, invoice.payload, invoice.amount, invoice.currency)
        self.wait_for_sync(lambda: self.pre_checkout_answer(query_id) is not None, timeout)
        answer = self.pre_checkout_answer(query_id)
        if not answer or not answer["ok"]:
            return None
        _, charge_id = self.inject_successful_payment(
            user_id, invoice.payload, invoice.amount, subscription=invoice.subscription_period is not None
        )
        return charge_id

    def invoices(self) -> list[Invoice]:
        """Every invoice the bot made (sendInvoice and createInvoiceLink), oldest first."""
        return self.payments.invoice_list()

    def charge(self, charge_id: str) -> Charge | None:
        """A payment Telegram holds: refunded, and for a subscription canceled and expires_at."""
        return self.payments.charge(charge_id)

    def open_chat(self, user_id: int, language_code: str = "en", first_name: str | None = None) -> None:
        """Make a private chat known without an update (as if the user had pressed Start long ago)."""
        user = self.state.register_user(user_id, first_name, language_code)
        self.state.register_chat(user, None, "private")

    def block(self, user_id: int) -> None:
        """The user blocks the bot: calls into the private chat answer 403."""
        with self.state.lock:
            self.state.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        with self.state.lock:
            self.state.blocked.discard(user_id)

    # --- side door: what the bot did ----------------------------------------------------------------

    def messages(self, chat_id: int) -> list[BotMessage]:
        """Every message the bot sent to the chat, deleted ones included, oldest first (snapshots)."""
        with self.state.lock:
            return [m.snapshot() for m in self.state.bot_messages.get(chat_id, {}).values()]

    def visible_messages(self, chat_id: int) -> list[BotMessage]:
        """What the user sees now: the bot's messages that were not deleted, in their current version."""
        return [m for m in self.messages(chat_id) if not m.deleted]

    def user_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The Message objects the users sent into the chat, oldest first (copies)."""
        with self.state.lock:
            sent = self.state.user_messages.get(chat_id, {})
            return [json.loads(json.dumps(sent[key])) for key in sorted(sent)]

    def file(self, file_id: str) -> StoredFile | None:
        """A file the fake holds (a photo size, a document, or what the bot uploaded)."""
        return self.state.stored(file_id)

    def calls(self, method: str | None = None) -> list[CallRecord]:
        """The call log (every call, refused ones too), optionally of one method (any case)."""
        with self.state.lock:
            log = list(self.state.call_log)
        return log if method is None else [c for c in log if c.method.lower() == method.lower()]

    def update(self, update_id: int) -> dict[str, Any]:
        """The Update object as it was queued."""
        with self.state.lock:
            copy: dict[str, Any] = json.loads(json.dumps(self.state.all_updates[update_id]))
        return copy

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """How the bot answered a callback query (text, show_alert, ...), None while unanswered."""
        with self.state.lock:
            callback = self.state.callbacks[query_id]
            return dict(callback.answer) if callback.answered else None

    def commands(self, language_code: str = "", scope: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        with self.state.lock:
            return list(self.state.commands.get(key, []))

    @property
    def confirmed_offset(self) -> int:
        """The highest offset the bot has confirmed (updates below it are gone)."""
        with self.state.lock:
            return self.state.confirmed_offset

    @property
    def pending_update_count(self) -> int:
        """Updates queued and not yet confirmed (by getUpdates offset or a 2xx webhook answer)."""
        with self.state.lock:
            return len(self.state.pending)

    @property
    def webhook_url(self) -> str | None:
        with self.state.lock:
            return self.state.webhook.url if self.state.webhook else None

    # --- side door: faults and waiting ------------------------------------------------------------

    def fail_next(self, method: str | None = None, count: int = 1, retry_after: int = 1) -> None:
        """The next ``count`` calls of ``method`` (None: of every method but getUpdates) answer 429."""
        with self.state.lock:
            self.state.fail_queue.append(_FailNext(method.lower() if method else None, count, retry_after))

    def storm(
        self, fraction: float, retry_after: int = 1, duration: float = 10.0, methods: list[str] | None = None
    ) -> None:
        """For ``duration`` seconds answer about ``fraction`` of calls with 429 retry_after
        (``methods``: only those; default every method but getUpdates). Seeded: runs repeat."""
        with self.state.lock:
            self.state.storm_mode = _Storm(
                fraction,
                retry_after,
                time.monotonic() + duration,
                frozenset(m.lower() for m in methods) if methods else None,
                random.Random(self._seed),
            )

    def calm(self) -> None:
        """End a storm and forget pending fail_next faults."""
        with self.state.lock:
            self.state.storm_mode = None
            self.state.fail_queue = []

    def reset(self) -> None:
        """Forget users, chats, updates, messages, files, calls, faults, webhook, commands, payments."""
        self.state.reset()
        self.payments.reset()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait in the calling loop until ``predicate()`` is true (re-checked on every change of
        state); TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        same_loop = self._pulse is not None and asyncio.get_running_loop() is self._loop
        while True:
            event = self._pulse.event if same_loop and self._pulse else None
            if predicate():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            if event is not None and self._pulse is not None:
                await self._pulse.wait(event, min(remaining, 0.5))
            else:
                await asyncio.sleep(min(remaining, 0.02))

    def wait_for_sync(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """The thread-safe, blocking ``wait_for``: for sync tests, with the fake in ``run_in_thread``."""
        deadline = time.monotonic() + timeout
        with self.state.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                self.state.changed.wait(min(remaining, 0.5))
