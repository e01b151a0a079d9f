"""Premium's rules without a chat: the offer's payload, the pre-checkout checks, the ledger's grants
and refunds, and the tier premium gives while it lasts.

Bad input tried: payloads that are not photobot's, name another user, carry another price or days,
another currency, an amount that is not the offer's; a charge id applied twice; a refund of an
unknown and of a refunded charge; a grant in between a payment and its refund; premium for a user
whose own tier ranks higher.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from photobot.bot.premium import Offer, Premium
from photobot.config import Settings
from photobot.jobs import Platform
from photobot.metrics import Metrics
from photobot.payments import DAY_MS, PremiumLedger
from photobot.users import UserRecord, UserStore


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(premium_price_stars=50, premium_days=30, admin_ids="1")


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url or "", decode_responses=True)
    yield client
    await client.aclose()


def user(key: str) -> UserRecord:
    platform = Platform.TELEGRAM if key.startswith("tg:") else Platform.VK
    return UserRecord(key, platform, key.split(":")[1], "free", False, None, False)


def test_offers_and_pre_checkout_checks(settings: Settings, redis: Redis) -> None:
    premium = Premium(settings, PremiumLedger(redis, settings))
    once, sub = premium.offers(user("tg:7"))
    assert (once.payload, sub.payload) == ("premium:v1:once:7:50:30", "premium:v1:sub:7:50:30")
    assert Offer.parse(once.payload) == once and Offer.parse("premium:v1:once:7:50") is None
    assert premium.offers(user("vk:7")) == []
    assert premium.checkout_refusal(7, once.payload, "XTR", 50, "en") is None
    assert premium.checkout_refusal(7, sub.payload, "XTR", 50, "en") is None
    foreign = premium.checkout_refusal(8, once.payload, "XTR", 50, "en")
    assert foreign and "another user" in foreign
    for payload, currency, total in [
        ("premium:v1:once:7:40:30", "XTR", 40),  # the price changed since
        ("premium:v1:once:7:50:7", "XTR", 50),  # other days
        (once.payload, "USD", 50),
        (once.payload, "XTR", 49),
        ("' or 1=1 --", "XTR", 50),
    ]:
        refusal = premium.checkout_refusal(7, payload, currency, total, "ru")
        assert refusal == "Это предложение больше не действует; отправьте /premium, чтобы получить новое."
    no_sub = Premium(settings.model_copy(update={"premium_subscription": False}), premium.ledger)
    assert no_sub.checkout_refusal(7, sub.payload, "XTR", 50, "en") is not None
    assert "an admin grants it" in premium.offer_text(user("vk:7"), "en")
    closed = Premium(settings.model_copy(update={"premium_price_stars": 0}), premium.ledger)
    assert closed.offers(user("tg:7")) == [] and "not sold" in closed.offer_text(user("tg:7"), "en")


async def test_a_payment_counts_once_and_a_refund_takes_back_only_its_days(
    settings: Settings, redis: Redis
) -> None:
    ledger = PremiumLedger(redis, settings)
    metrics = Metrics()
    premium = Premium(settings, ledger, metrics=metrics)
    buyer = user("tg:7")
    now = time.time() * 1000
    first, matched = await premium.apply_payment(
        buyer, charge_id="c1", payload="premium:v1:once:7:50:30", currency="XTR", total=50
    )
    assert matched and first.new and abs(first.until_ms - (now + 30 * DAY_MS)) < 5000
    again, _ = await premium.apply_payment(
        buyer, charge_id="c1", payload="premium:v1:once:7:50:30", currency="XTR", total=50
    )
    assert not again.new and again.until_ms == first.until_ms
    assert metrics.registry.get_sample_value("photobot_payments_total", {"kind": "invoice"}) == 1
    granted = await ledger.grant_days("tg:7", 10)  # an admin's grant extends the paid period
    assert granted.until_ms == first.until_ms + 10 * DAY_MS
    refunded = await ledger.mark_refunded("c1")
    assert refunded.outcome == "ok" and refunded.stars == 50
    assert abs(refunded.until_ms - (now + 10 * DAY_MS)) < 5000  # the grant's ten days stay
    assert (await ledger.mark_refunded("c1")).outcome == "already"
    assert (await ledger.mark_refunded("nope")).outcome == "unknown"
    odd, matched = await premium.apply_payment(
        buyer, charge_id="c2", payload="premium:v1:once:7:50:30", currency="USD", total=50
    )
    assert not matched and odd.new
    payment = await ledger.payment("c2")
    assert payment is not None and payment.status == "unmatched" and payment.kind == "unknown"
    assert [p.charge_id for p in await ledger.payments_of("tg:7")] == ["c2", "c1"]
    assert await ledger.active_count() == 1


async def test_premium_gives_its_tier_while_it_lasts(settings: Settings, redis: Redis) -> None:
    users = UserStore(redis, settings)
    ledger = PremiumLedger(redis, settings)
    await ledger.grant_days("tg:5", 1)
    assert (await users.get("tg:5")).tier == "premium"
    await ledger.grant_days("tg:1", 1)  # an admin by ADMIN_IDS stays admin
    assert (await users.get("tg:1")).tier == "admin"
    assert (await ledger.grant_days("tg:5", 0)).until_ms <= time.time() * 1000 + 1000
    record = await users.get("tg:5")
    assert record.tier == "free" and record.premium_until is not None
