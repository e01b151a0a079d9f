"""Payments in Telegram Stars, as strict as the Bot API: sendInvoice, createInvoiceLink,
answerPreCheckoutQuery, refundStarPayment, editUserStarSubscription; and the side door's buyer, who
opens a pre-checkout query and pays.

Limits enforced, from https://core.telegram.org/bots/api#payments and
https://core.telegram.org/bots/payments-stars:
- title 1-32 characters, description 1-255, payload 1-128 bytes (sendInvoice, createInvoiceLink);
- currency XTR takes an empty provider_token and exactly one price ("Pass an empty string for
  payments in Telegram Stars"; prices "must contain exactly one item for payments in Telegram Stars");
- subscription_period: createInvoiceLink only, currency XTR, always 2592000 (30 days), and the
  subscription price must not exceed 10000 Stars;
- answerPreCheckoutQuery: "The Bot API must receive an answer within 10 seconds after the
  pre-checkout query was sent"; later, a second answer, or an unknown id: 400 "query is too old";
  ok=false needs an error_message;
- refundStarPayment: an unknown charge (or another user's) 400 CHARGE_NOT_FOUND, a refunded one 400
  CHARGE_ALREADY_REFUNDED (as tdlib/telegram-bot-api#690 shows it); a refund sends the bot a
  message with refunded_payment;
- editUserStarSubscription: only a subscription's charge, of that user (else CHARGE_NOT_FOUND); to
  cancel it, the subscription must still be active (else SUBSCRIPTION_NOT_ACTIVE).
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .messages import Messages
from .model import MessageVersion, bad_request
from .params import Params
from .state import State

XTR = "XTR"
SUBSCRIPTION_PERIOD = 2_592_000
MAX_SUBSCRIPTION_STARS = 10_000
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


@dataclass
class Invoice:
    """What the bot offered: by sendInvoice (chat_id, message_id) or createInvoiceLink (link)."""

    title: str
    description: str
    payload: str
    currency: str
    amount: int
    subscription_period: int | None = None
    chat_id: int | None = None
    message_id: int | None = None
    link: str | None = None


@dataclass
class PreCheckout:
    id: str
    user_id: int
    payload: str
    currency: str
    total_amount: int
    sent_at: float
    answered: bool = False
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Charge:
    charge_id: str
    user_id: int
    payload: str
    amount: int
    subscription: bool
    expires_at: int | None = None  # a subscription's current period end (Unix seconds)
    refunded: bool = False
    canceled: bool = False
    subscription_of: str | None = None  # a renewal: the first charge, which stands for the subscription


class Payments:
    """The payment methods and their state; `FakeTelegram.payments` is the one instance."""

    def __init__(self, state: State, messages: Messages, pre_checkout_timeout: float = 10.0) -> None:
        self.state = state
        self.messages = messages
        self.pre_checkout_timeout = pre_checkout_timeout
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.state.lock:
            self.invoices: list[Invoice] = []
            self.queries: dict[str, PreCheckout] = {}
            self.charges: dict[str, Charge] = {}

    # --- the Bot API -----------------------------------------------------------------------------

    @staticmethod
    def _texts(params: Params) -> tuple[str, str, str]:
        title = params.string("title") or ""
        description = params.string("description") or ""
        payload = params.string("payload") or ""
        if not 1 <= len(title) <= 32:
            raise bad_request("INVOICE_TITLE_INVALID" if title else "title is empty")
        if not 1 <= len(description) <= 255:
            raise bad_request("INVOICE_DESCRIPTION_INVALID" if description else "description is empty")
        if not 1 <= len(payload.encode()) <= 128:
            raise bad_request("INVOICE_PAYLOAD_INVALID" if payload else "payload is empty")
        return title, description, payload

    def _invoice(self, params: Params, *, link: bool) -> Invoice:
        title, description, payload = self._texts(params)
        currency = params.string("currency") or ""
        prices = params.obj("prices")
        if not isinstance(prices, list) or not prices:
            raise bad_request("prices must be a non-empty array")
        if currency != XTR:
            raise bad_request("CURRENCY_INVALID: this server takes payments in Telegram Stars (XTR) only")
        if params.string("provider_token"):
            raise bad_request("PAYMENT_PROVIDER_INVALID: payments in Stars take an empty provider_token")
        if len(prices) != 1:
            raise bad_request("STARS_INVOICE_INVALID: exactly one price for payments in Telegram Stars")
        try:
            amount = int(prices[0]["amount"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("can't parse prices JSON object") from None
        if amount <= 0:
            raise bad_request("STARS_INVOICE_INVALID: the amount must be positive")
        period = params.integer("subscription_period")
        if period is not None:
            if not link:
                raise bad_request("subscription_period is supported by createInvoiceLink only")
            if period != SUBSCRIPTION_PERIOD:
                raise bad_request("SUBSCRIPTION_PERIOD_INVALID")
            if amount > MAX_SUBSCRIPTION_STARS:
                raise bad_request("SUBSCRIPTION_PRICE_INVALID: at most 10000 Stars")
        return Invoice(title, description, payload, currency, amount, period)

    async def send_invoice(self, method: str, params: Params) -> dict[str, Any]:
        chat = self.state.chat_for_bot(params.chat_id())
        invoice = self._invoice(params, link=False)
        version = MessageVersion(
            "invoice", invoice.title, params.obj("reply_markup"), method, time.monotonic()
        )
        version.invoice = {
            "title": invoice.title,
            "description": invoice.description,
            "start_parameter": "",
            "currency": invoice.currency,
            "total_amount": invoice.amount,
        }
        message = self.messages.new_message(chat["id"], version, params)
        invoice.chat_id, invoice.message_id = chat["id"], message.message_id
        with self.state.lock:
            self.invoices.append(invoice)
        return message.payload

    async def create_invoice_link(self, method: str, params: Params) -> str:
        invoice = self._invoice(params, link=True)
        invoice.link = f"https://t.me/$fake{secrets.token_urlsafe(12)}"
        with self.state.lock:
            self.invoices.append(invoice)
        self.state.notify()
        return invoice.link

    async def answer_pre_checkout(self, method: str, params: Params) -> bool:
        query_id = params.required_str("pre_checkout_query_id", QUERY_TOO_OLD)
        ok = params.flag("ok")
        error = params.string("error_message")
        if not ok and not error:
            raise bad_request("ERROR_MESSAGE_EMPTY: error_message is required when ok is false")
        with self.state.lock:
            query = self.queries.get(query_id)
            late = query is not None and time.monotonic() - query.sent_at > self.pre_checkout_timeout
            if query is None or query.answered or late:
                raise bad_request(QUERY_TOO_OLD)
            query.answered = True
            query.answer = {"ok": ok, "error_message": error}
        self.state.notify()
        return True

    def _charge(self, params: Params) -> Charge:
        user_id = params.integer("user_id")
        charge_id = params.required_str("telegram_payment_charge_id", "CHARGE_ID_EMPTY")
        charge = self.charges.get(charge_id)
        if charge is None or charge.user_id != user_id:
            raise bad_request("CHARGE_NOT_FOUND")
        return charge

    async def refund(self, method: str, params: Params) -> bool:
        with self.state.lock:
            charge = self._charge(params)
            if charge.refunded:
                raise bad_request("CHARGE_ALREADY_REFUNDED")
            charge.refunded = True
        self._service_message(
            charge.user_id,
            "refunded_payment",
            {
                "currency": XTR,
                "total_amount": charge.amount,
                "invoice_payload": charge.payload,
                "telegram_payment_charge_id": charge.charge_id,
            },
        )
        return True

    async def edit_subscription(self, method: str, params: Params) -> bool:
        if "is_canceled" not in params.values:
            raise bad_request("is_canceled is empty")
        cancel = params.flag("is_canceled")
        with self.state.lock:
            charge = self._charge(params)
            if not charge.subscription:
                raise bad_request("CHARGE_NOT_FOUND")
            subscription = self.charges[charge.subscription_of or charge.charge_id]
            if cancel and (subscription.expires_at or 0) <= time.time():
                raise bad_request("SUBSCRIPTION_NOT_ACTIVE")
            subscription.canceled = cancel
        self.state.notify()
        return True

    # --- the side door: a buyer ----------------------------------------------------------------------

    def pre_checkout(self, user_id: int, payload: str, total_amount: int, currency: str = XTR) -> str:
        """The user confirms the payment form: a pre_checkout_query for the bot; returns its id."""
        user = self.state.users.get(user_id) or self.state.register_user(user_id, None, "en")
        query_id = f"{user_id}{next(self._ids):06d}"
        with self.state.lock:
            self.queries[query_id] = PreCheckout(
                query_id, user_id, payload, currency, total_amount, time.monotonic()
            )
        self.state.push_update(
            "pre_checkout_query",
            {
                "id": query_id,
                "from": dict(user),
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
            },
        )
        return query_id

    def successful_payment(
        self,
        user_id: int,
        payload: str,
        total_amount: int,
        *,
        currency: str = XTR,
        subscription: bool = False,
        renewal_of: str | None = None,
        charge_id: str | None = None,
    ) -> tuple[int, str]:
        """Telegram took the Stars: a successful_payment message for the bot. `renewal_of` names a
        subscription's first charge; its renewal gets a new charge id and the next period's end.
        Returns (update_id, telegram_payment_charge_id)."""
        charge_id = charge_id or f"stxfake{secrets.token_hex(10)}"
        expires: int | None = None
        with self.state.lock:
            if renewal_of is not None:
                first = self.charges[renewal_of]
                if first.canceled:
                    raise ValueError("a cancelled subscription does not renew")
                expires = (first.expires_at or int(time.time())) + SUBSCRIPTION_PERIOD
                first.expires_at = expires
                subscription = True
            elif subscription:
                expires = int(time.time()) + SUBSCRIPTION_PERIOD
            charge = Charge(
                charge_id, user_id, payload, total_amount, subscription, expires, subscription_of=renewal_of
            )
            self.charges.setdefault(charge_id, charge)
        paid: dict[str, Any] = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        if subscription:
            paid["subscription_expiration_date"] = expires
            paid["is_recurring"] = True
            if renewal_of is None:
                paid["is_first_recurring"] = True
        return self._service_message(user_id, "successful_payment", paid), charge_id

    def _service_message(self, user_id: int, kind: str, body: dict[str, Any]) -> int:
        from .inject import service_message

        return service_message(self.state, user_id, kind, body)

    def answer(self, query_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            query = self.queries[query_id]
            return dict(query.answer) if query.answered else None

    def invoice_list(self) -> list[Invoice]:
        with self.state.lock:
            return list(self.invoices)

    def charge(self, charge_id: str) -> Charge | None:
        with self.state.lock:
            return self.charges.get(charge_id)


def api_table(payments: Payments) -> dict[str, Any]:
    return {
        "sendInvoice": payments.send_invoice,
        "createInvoiceLink": payments.create_invoice_link,
        "answerPreCheckoutQuery": payments.answer_pre_checkout,
        "refundStarPayment": payments.refund,
        "editUserStarSubscription": payments.edit_subscription,
    }
