"""Telegram Stars on an aiogram Bot: the invoice and the subscription link that /premium sends, and
the refund and subscription cancel that an admin's /refund needs.

Digital goods are paid in Stars only: currency XTR, an empty provider token, exactly one price.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice

from photobot.bot.i18n import t
from photobot.bot.premium import CURRENCY, SUBSCRIPTION_PERIOD, Offer, Premium, RefundRefused
from photobot.logs import get_logger

log = get_logger(__name__)


class TelegramStars:
    """The Stars calls of one bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def refund(self, user_id: int, charge_id: str) -> None:
        try:
            await self.bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)
        except TelegramBadRequest as error:
            raise RefundRefused(error.message) from None

    async def cancel_subscription(self, user_id: int, charge_id: str) -> None:
        """Stop a subscription's renewals; one that ended already has nothing to stop."""
        try:
            await self.bot.edit_user_star_subscription(
                user_id=user_id, telegram_payment_charge_id=charge_id, is_canceled=True
            )
        except TelegramBadRequest as error:
            log.info("subscription not cancelled", charge_id=charge_id, reason=error.message)

    async def send_offers(
        self, chat_id: int, offers: list[Offer], premium: Premium, lang: str, text: str
    ) -> None:
        """The offer as text with a subscription button (a link Telegram opens as a payment form),
        then the one-off invoice, whose own button pays."""
        title, description = premium.invoice_texts(lang)

        def invoice(offer: Offer) -> dict[str, Any]:
            return {
                "title": title,
                "description": description,
                "payload": offer.payload,
                "currency": CURRENCY,
                "prices": [LabeledPrice(label=title, amount=offer.stars)],
                "provider_token": "",
            }

        buttons = []
        for offer in offers:
            if offer.kind == "sub":
                link = await self.bot.create_invoice_link(
                    **invoice(offer), subscription_period=SUBSCRIPTION_PERIOD
                )
                label = t("premium_subscribe", lang, price=offer.stars)
                buttons.append([InlineKeyboardButton(text=label, url=link)])
        markup = InlineKeyboardMarkup(inline_keyboard=buttons) if buttons else None
        await self.bot.send_message(chat_id, text, reply_markup=markup)
        for offer in offers:
            if offer.kind == "once":
                await self.bot.send_invoice(chat_id, **invoice(offer))
