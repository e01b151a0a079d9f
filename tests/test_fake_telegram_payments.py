"""The fake Bot API's payments in Telegram Stars, driven by the real aiogram Bot: each documented
limit and error photobot can meet is enforced (see photobot/sandbox/botapi/payments.py for the pages).

Bad input tried: a provider token with XTR, two prices, an over-long title and payload, a
subscription period other than 30 days or on sendInvoice, a subscription over 10000 Stars, a late or
second pre-checkout answer, a refusal without a reason, refunds of an unknown, another user's or a
refunded charge, a subscription edit of a one-off charge, a renewal after a cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import LabeledPrice

from photobot.sandbox.botapi.params import Params
from tests.fakes.telegram import FakeTelegram

USER = 77


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeTelegram, Bot]]:
    async with FakeTelegram(pre_checkout_timeout=0.5) as tg:
        tg.open_chat(USER)
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
        try:
            yield tg, bot
        finally:
            await bot.session.close()


def stars(amount: int) -> list[LabeledPrice]:
    return [LabeledPrice(label="Premium", amount=amount)]


async def test_invoices_in_stars_and_their_limits(fake: tuple[FakeTelegram, Bot]) -> None:
    tg, bot = fake
    sent = await bot.send_invoice(USER, "Premium", "More photos", "p:1", "XTR", stars(50), provider_token="")
    assert sent.invoice is not None and sent.invoice.total_amount == 50
    [invoice] = tg.invoices()
    assert (invoice.payload, invoice.amount, invoice.message_id) == ("p:1", 50, sent.message_id)
    link = await bot.create_invoice_link(
        "Premium", "Monthly", "p:2", "XTR", stars(50), provider_token="", subscription_period=2_592_000
    )
    assert link.startswith("https://t.me/$") and tg.invoices()[-1].subscription_period == 2_592_000
    base = {"title": "Premium", "description": "More", "payload": "p", "currency": "XTR",
            "prices": stars(5), "provider_token": ""}
    refusals: list[dict[str, object]] = [
        {"provider_token": "284685063:TEST:abc"},  # Stars take no provider
        {"prices": [*stars(50), *stars(1)]},  # exactly one price
        {"title": "x" * 33},
        {"payload": "é" * 65},  # 130 bytes
    ]
    for change in refusals:
        with pytest.raises(TelegramBadRequest):
            await bot.send_invoice(USER, **{**base, **change})  # type: ignore[arg-type]
    for period, amount in ((86_400, 50), (2_592_000, 10_001)):
        with pytest.raises(TelegramBadRequest, match="SUBSCRIPTION"):
            await bot.create_invoice_link("P", "M", "p", "XTR", stars(amount), subscription_period=period)
    status, body = await tg.call(
        "sendInvoice",
        Params({"chat_id": USER, "title": "P", "description": "M", "payload": "p", "currency": "XTR",
                "prices": '[{"label":"P","amount":5}]', "subscription_period": 2_592_000}),
    )
    assert status == 400 and "createInvoiceLink only" in body["description"]


async def test_pre_checkout_answered_once_within_the_limit(fake: tuple[FakeTelegram, Bot]) -> None:
    tg, bot = fake
    query_id = tg.inject_pre_checkout(USER, "p:1", 50)
    [update] = await bot.get_updates(allowed_updates=["pre_checkout_query"])
    assert update.pre_checkout_query is not None and update.pre_checkout_query.invoice_payload == "p:1"
    with pytest.raises(TelegramBadRequest, match="ERROR_MESSAGE_EMPTY"):
        await bot.answer_pre_checkout_query(query_id, ok=False)
    assert await bot.answer_pre_checkout_query(query_id, ok=True)
    assert tg.pre_checkout_answer(query_id) == {"ok": True, "error_message": None}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_pre_checkout_query(query_id, ok=True)
    late = tg.inject_pre_checkout(USER, "p:1", 50)
    await asyncio.sleep(0.6)  # the query grows old: past this fake's limit (Telegram's is 10 s)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_pre_checkout_query(late, ok=True)
    assert tg.pre_checkout_answer(late) is None


async def test_refunds_and_subscriptions(fake: tuple[FakeTelegram, Bot]) -> None:
    tg, bot = fake
    _, once = tg.inject_successful_payment(USER, "p:1", 50)
    update_id, first = tg.inject_successful_payment(USER, "p:sub", 50, subscription=True)
    updates = await bot.get_updates(offset=0)
    paid = updates[-1].message.successful_payment if updates[-1].message else None
    assert paid is not None and paid.is_first_recurring and paid.subscription_expiration_date
    assert updates[-1].update_id == update_id
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(USER, "no-such-charge")
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(USER + 1, once)
    assert await bot.refund_star_payment(USER, once)
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(USER, once)
    refunded = (await bot.get_updates(offset=update_id + 1))[-1].message
    assert refunded is not None and refunded.refunded_payment is not None
    assert refunded.refunded_payment.telegram_payment_charge_id == once
    _, renewal = tg.inject_successful_payment(USER, "p:sub", 50, renewal_of=first)
    renewed = tg.charge(first)
    assert renewal != first and renewed is not None and renewed.expires_at
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.edit_user_star_subscription(USER, once, is_canceled=True)
    assert await bot.edit_user_star_subscription(USER, first, is_canceled=True)
    assert tg.charge(first).canceled  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="does not renew"):
        tg.inject_successful_payment(USER, "p:sub", 50, renewal_of=first)
