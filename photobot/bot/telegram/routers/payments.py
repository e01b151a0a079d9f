"""Telegram Stars: /premium sends the offer with its invoice, a pre-checkout query is answered at
once (Telegram waits 10 s), and a successful payment grants premium.

The successful payment arrives as a message in the inbox, which is confirmed to Telegram once kept
and removed only after this handler returned: a crash or a Redis outage between the payment and its
grant means the update is handled again, and the grant, keyed by telegram_payment_charge_id, is
applied once.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message, PreCheckoutQuery

from photobot.bot.allowance import utc_text
from photobot.bot.i18n import t
from photobot.bot.premium import Premium
from photobot.bot.telegram.adapter import TelegramAdapter
from photobot.bot.telegram.stars import TelegramStars
from photobot.logs import get_logger
from photobot.users import UserRecord

log = get_logger(__name__)


def build() -> Router:
    router = Router(name="payments")

    @router.message(Command("premium"))
    async def on_premium(
        message: Message,
        *,
        premium: Premium,
        stars: TelegramStars,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        text = premium.offer_text(user, lang)
        offers = premium.offers(user)
        if not offers:
            await adapter.send_text(message.chat.id, text, reply_to=message.message_id)
            return
        await stars.send_offers(message.chat.id, offers, premium, lang, text)

    @router.pre_checkout_query()
    async def on_pre_checkout(
        query: PreCheckoutQuery, *, premium: Premium, user: UserRecord, lang: str
    ) -> None:
        refusal = (
            t("banned", lang)
            if user.banned
            else premium.checkout_refusal(
                query.from_user.id, query.invoice_payload, query.currency, query.total_amount, lang
            )
        )
        if refusal is not None:
            log.info("pre-checkout refused", payload=query.invoice_payload[:128])
        await query.answer(ok=refusal is None, error_message=refusal)

    @router.message(F.successful_payment)
    async def on_payment(
        message: Message, *, premium: Premium, adapter: TelegramAdapter, user: UserRecord, lang: str
    ) -> None:
        paid = message.successful_payment
        assert paid is not None
        granted, matched = await premium.apply_payment(
            user,
            charge_id=paid.telegram_payment_charge_id,
            payload=paid.invoice_payload,
            currency=paid.currency,
            total=paid.total_amount,
            recurring=bool(paid.is_recurring) and not paid.is_first_recurring,
            subscription_end=paid.subscription_expiration_date,
        )
        if not granted.new:
            log.info("payment seen before", charge_id=paid.telegram_payment_charge_id)
            return
        if matched:
            text = t("payment_thanks", lang, until=utc_text(granted.until_ms))
        else:
            text = t("payment_unmatched", lang, charge_id=paid.telegram_payment_charge_id)
        await adapter.send_text(message.chat.id, text)

    @router.message(F.refunded_payment)
    async def on_refunded(message: Message, *, premium: Premium) -> None:
        """Telegram's note of a refund (after /refund, or one made elsewhere): the premium that
        payment bought ends, once; nothing is said, /refund already answered the admin."""
        refunded = message.refunded_payment
        assert refunded is not None
        outcome = await premium.ledger.mark_refunded(refunded.telegram_payment_charge_id)
        log.info("refund noted", charge_id=refunded.telegram_payment_charge_id, outcome=outcome.outcome)

    return router
