"""The side door of FakeTelegram, in Python (sidedoor.py serves it over HTTP): a test, or the
sandbox's chat page, plays the users, reads what the bot did and switches faults on. Every method
is thread-safe: it works while the fake serves from another thread (``run_in_thread``), under the
state's lock."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any, Unpack

from . import inject
from .inject import Sender, SenderOptions
from .model import BotMessage, CallRecord, StoredFile
from .payments import Charge, Invoice, Payments
from .state import State, _FailNext, _Storm


class SideDoor:
    """The Python side door; FakeTelegram is the server that serves the same state to the bot."""

    state: State
    payments: Payments
    _seed: int

    # --- users --------------------------------------------------------------------------------------

    def inject_text(self, user_id: int, text: str, **sender: Unpack[SenderOptions]) -> int:
        """A user writes ``text``; returns the update_id."""
        return inject.text(self.state, Sender(user_id, **sender), text)

    def inject_photo(
        self, user_id: int, image_bytes: bytes, caption: str | None = None, **sender: Unpack[SenderOptions]
    ) -> int:
        """A user sends a photo (must decode with Pillow); returns the update_id."""
        return inject.photo(self.state, Sender(user_id, **sender), image_bytes, caption)

    def inject_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        *,
        caption: str | None = None,
        **sender: Unpack[SenderOptions],
    ) -> int:
        """A user sends any bytes as a file; returns the update_id."""
        return inject.document(self.state, Sender(user_id, **sender), (data, file_name, mime_type), caption)

    def inject_album(
        self, user_id: int, images: list[bytes], caption: str | None = None, **sender: Unpack[SenderOptions]
    ) -> list[int]:
        """A user sends 2-10 photos as one album; returns their update_ids."""
        return inject.album(self.state, Sender(user_id, **sender), images, caption)

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

    # --- what the bot did ---------------------------------------------------------------------------

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

    # --- faults, and waiting from another thread ------------------------------------------------

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
        """End a storm, forget pending fail_next faults and the flood waits they started."""
        with self.state.lock:
            self.state.storm_mode = None
            self.state.fail_queue = []
            self.state.flood_waits = {}

    def reset(self) -> None:
        """Forget users, chats, updates, messages, files, calls, faults, webhook, commands, payments."""
        self.state.reset()
        self.payments.reset()

    def wait_for_sync(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """The thread-safe, blocking ``wait_for``: for sync tests, with the fake in ``run_in_thread``."""
        deadline = time.monotonic() + timeout
        with self.state.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                self.state.changed.wait(min(remaining, 0.5))
