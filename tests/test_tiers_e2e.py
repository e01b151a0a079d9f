"""Tiers end to end: daily quotas and premium bought with Telegram Stars. `python -m photobot run` (or
`bot`) against the fake Bot API (which speaks Stars payments) and a real redis-server, with small
quotas (free 2, premium 4 photos per rolling 24 hours).

Shown: a photo over the quota is refused with one message, nothing stored and no job; /premium
sends an invoice and a monthly subscription link; paying makes the user premium and their next
photo goes ahead of the free queue; a replayed payment extends nothing; a renewal extends; expiry
returns the user to free by itself while their queued job keeps its priority; /refund calls
refundStarPayment, ends what the payment bought and stops the subscription; /grant gives premium.

Bad input tried: a photo over the quota, an album over the quota right after (refused without a
second message), /stats from a plain user, a stale invoice (the price changed), another user's
invoice, a payload that is no offer of photobot's (refused at checkout; paid anyway: recorded as
unmatched, nothing granted, and refundable), a successful_payment delivered twice, /refund of an
unknown charge, of a refunded one and from a non-admin, /grant with bad arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from photobot.sandbox.botapi.payments import Invoice
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer
from tests.telegram_support import BotProcess, command, small_image, texts, wait_results, wait_text

pytestmark = pytest.mark.slow
ADMIN = 1
PRICE = 50
SETTINGS: dict[str, Any] = {
    "admin_ids": ADMIN,
    "tier_quotas": "free=2,premium=4,admin=unlimited",
    "premium_price_stars": PRICE,
    "premium_days": 30,
    "tg_global_rate": 500,
    "tg_chat_rate": 50,
    "tg_chat_burst": 10,
}


@pytest.fixture(scope="module")
def bot(module_tg: FakeTelegram, redis_server: RedisServer, workdir: Path) -> Iterator[BotProcess]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    with BotProcess(module_tg, redis_server.url, workdir, **SETTINGS) as process:
        process.start(module_tg)
        yield process
        assert process.stop() == 0, process.log_tail()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiers")


def stored_files(workdir: Path) -> int:
    return sum(1 for path in (workdir / "storage").rglob("*") if path.is_file())


def test_quota_reached_and_refused(tg: FakeTelegram, bot: BotProcess, workdir: Path) -> None:
    user = 301
    for index in range(2):
        tg.inject_photo(user, small_image(3010 + index), caption="sepia")
        wait_results(tg, user, index + 1, bot=bot)
    stored = stored_files(workdir)
    tg.inject_photo(user, small_image(3019), caption="sepia")
    refusal = wait_text(tg, user, "You have used your 2 photos")
    assert re.search(r"the next one is possible in (23 h 59|24 h 0) min\.", refusal), refusal
    assert "Premium gives 4 photos a day and a faster queue: /premium" in refusal
    assert stored_files(workdir) == stored  # nothing of the refused photo is kept
    assert "(1–2 of 2)" in command(tg, user, "/jobs")
    # An album over the quota right after: refused too, and no second message within the minute
    # (a chat's updates are handled in order, so /tier is answered after the album).
    tg.inject_album(user, [small_image(3020), small_image(3021), small_image(3022)], caption="sepia")
    tier = command(tg, user, "/tier")
    assert len([t for t in texts(tg, user) if t.startswith("You have used")]) == 1
    assert tier.startswith("Your tier: free.\nPhotos left for the last 24 hours: 0 of 2.")
    assert re.search(r"The next one comes back in (23 h 5\d|24 h 0) min\.", tier), tier
    assert stored_files(workdir) == stored
    help_text = command(tg, user, "/help")
    assert "Photos left for the last 24 hours: 0 of 2." in help_text and "/grant" not in help_text
    assert command(tg, user, "/stats").startswith("Sorry, this command is for admins only.")
    stats = command(tg, ADMIN, "/stats")
    assert "refused over quota today: 4" in stats and "active premium users: 0" in stats
    assert "Photos: no daily limit." in command(tg, ADMIN, "/tier")


def offers(tg: FakeTelegram, user: int) -> tuple[Invoice, Invoice]:
    """/premium, and the invoice and subscription link it made."""
    before = len(tg.invoices())
    text = command(tg, user, "/premium")
    assert text.startswith("⭐ Premium: 4 photos a day instead of 2"), text
    tg.wait_for_sync(lambda: len(tg.invoices()) >= before + 2, 30)
    made = [i for i in tg.invoices()[before:] if f":{user}:" in i.payload]
    once = next(i for i in made if i.subscription_period is None)
    monthly = next(i for i in made if i.subscription_period == 2_592_000)
    assert once.amount == monthly.amount == PRICE and once.chat_id == user
    [shown] = [m for m in tg.visible_messages(user) if m.text == text]
    assert shown.reply_markup and shown.reply_markup["inline_keyboard"][0][0]["url"] == monthly.link
    return once, monthly


def premium_until(text: str) -> datetime:
    found = re.search(r"Premium until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", text)
    assert found, text
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def days_from_now(when: datetime) -> float:
    return (when - datetime.now(UTC)) / timedelta(days=1)


def test_pay_replay_renew_and_refund(tg: FakeTelegram, bot: BotProcess) -> None:
    user = 501
    _, monthly = offers(tg, user)
    first = tg.pay(user, monthly)
    assert first is not None
    thanks = wait_text(tg, user, "Thank you! Premium is yours until")
    assert 29.9 < days_from_now(premium_until(thanks.replace("yours until", "Premium until"))) <= 30.01
    tier = command(tg, user, "/tier")
    assert tier.startswith("Your tier: premium.\nPhotos left for the last 24 hours: 4 of 4.")
    until = premium_until(tier)
    # Telegram delivers the same payment again: nothing more is granted, nothing said.
    tg.inject_successful_payment(user, monthly.payload, PRICE, subscription=True, charge_id=first)
    assert premium_until(command(tg, user, "/tier")) == until
    assert len([t for t in texts(tg, user) if t.startswith("Thank you!")]) == 1
    # The subscription renews: 30 more days.
    _, renewal = tg.inject_successful_payment(user, monthly.payload, PRICE, renewal_of=first)
    wait_text(tg, user, "Thank you! Premium is yours until " + (until + timedelta(days=30)).strftime("%Y-%m"))
    renewed = premium_until(command(tg, user, "/tier"))
    assert 59.9 < days_from_now(renewed) <= 60.01
    # The admin refunds the renewal: Telegram gives the Stars back, the subscription stops renewing,
    # and the 30 days it bought are gone.
    assert command(tg, user, f"/refund {renewal}").startswith("Sorry, this command is for admins only.")
    refund = command(tg, ADMIN, f"/refund {renewal}")
    assert refund.startswith(f"Refunded {PRICE} Stars of payment {renewal} to tg:{user}. Premium until")
    assert premium_until(refund) == until
    assert tg.charge(renewal).refunded and tg.charge(first).canceled  # type: ignore[union-attr]
    assert command(tg, ADMIN, f"/refund {renewal}") == f"Payment {renewal} is already refunded."
    assert command(tg, ADMIN, "/refund nosuchcharge") == "No payment nosuchcharge."
    assert command(tg, ADMIN, "/refund ../../etc") == "No payment ../../etc."
    # Refunding the first payment too ends premium now.
    assert command(tg, ADMIN, f"/refund {first}").endswith("No premium now.")
    tier = command(tg, user, "/tier")
    assert tier.startswith("Your tier: free.") and "Premium ended" in tier
    support = command(tg, user, "/paysupport")
    assert support.startswith("Payment support: Write to the bot's admins")
    assert f"{renewal} (50 XTR, refunded)" in support and f"{first} (50 XTR, refunded)" in support
    stats = command(tg, ADMIN, "/stats")
    assert "active premium users: 0" in stats


def test_checkout_refuses_stale_foreign_and_unknown_invoices(tg: FakeTelegram, bot: BotProcess) -> None:
    user = 502
    once, _ = offers(tg, user)
    foreign = tg.inject_pre_checkout(503, once.payload, PRICE)
    stale = tg.inject_pre_checkout(user, once.payload.replace(f":{PRICE}:", ":40:"), 40)
    garbage = tg.inject_pre_checkout(user, "premium:v9:free-stuff", PRICE)
    good = tg.inject_pre_checkout(user, once.payload, PRICE)
    for query in (foreign, stale, garbage, good):
        tg.wait_for_sync(lambda q=query: tg.pre_checkout_answer(q) is not None, 10)  # type: ignore[misc]
    assert tg.pre_checkout_answer(foreign) == {
        "ok": False,
        "error_message": "This invoice was made for another user; send /premium for your own.",
    }
    for query in (stale, garbage):
        assert tg.pre_checkout_answer(query) == {
            "ok": False,
            "error_message": "This offer is no longer valid; send /premium for the current one.",
        }
    assert tg.pre_checkout_answer(good) == {"ok": True, "error_message": None}
    # Money that came for no offer of photobot's: recorded, nothing granted, refundable.
    _, charge = tg.inject_successful_payment(user, "something-else", 7)
    assert "does not match any offer" in wait_text(tg, user, f"Your payment {charge} arrived")
    assert command(tg, user, "/tier").startswith("Your tier: free.")
    assert f"{charge} (7 XTR, unmatched)" in command(tg, user, "/paysupport")
    assert command(tg, ADMIN, f"/refund {charge}").startswith(f"Refunded 7 Stars of payment {charge}")
    terms = command(tg, user, "/terms")
    assert terms.startswith("Terms. photobot sells premium: for 30 days, 4 photos a day instead of 2")


def test_admin_grant(tg: FakeTelegram, bot: BotProcess) -> None:
    user = 504
    assert command(tg, user, "/grant 504 30").startswith("Sorry, this command is for admins only.")
    for bad in ("/grant", "/grant 504", "/grant 504 -1", "/grant 504 9999", "/grant x 3"):
        reply = command(tg, ADMIN, bad)
        assert reply.startswith(("Usage: /grant USER_ID DAYS", "Not a user id")), (bad, reply)
    granted = command(tg, ADMIN, "/grant 504 3")
    assert granted.startswith("User tg:504: Premium until")
    assert 2.9 < days_from_now(premium_until(granted)) <= 3.01
    assert command(tg, user, "/tier").startswith("Your tier: premium.")
    assert "active premium users: 1" in command(tg, ADMIN, "/stats")
    assert command(tg, ADMIN, "/grant vk:77 2").startswith("User vk:77: Premium until")
    assert command(tg, ADMIN, "/grant 504 0") == "User tg:504: No premium now."
    assert command(tg, user, "/tier").startswith("Your tier: free.")


def test_a_banned_users_payment_is_recorded_and_their_checkout_refused(
    tg: FakeTelegram, bot: BotProcess
) -> None:
    user = 505
    assert command(tg, ADMIN, f"/ban {user}") == f"User tg:{user} is banned."
    payload = f"premium:v1:once:{user}:{PRICE}:30"
    query = tg.inject_pre_checkout(user, payload, PRICE)
    tg.wait_for_sync(lambda: tg.pre_checkout_answer(query) is not None, 30)
    assert tg.pre_checkout_answer(query) == {"ok": False, "error_message": "Sorry, you cannot use this bot."}
    _, charge = tg.inject_successful_payment(user, payload, PRICE)  # paid before the ban took effect
    tg.wait_for_sync(lambda: any(f"payment {charge}" in t or "Thank you" in t for t in texts(tg, user)), 30)
    assert command(tg, ADMIN, f"/refund {charge}").startswith(f"Refunded {PRICE} Stars of payment {charge}")


def status_caption(tg: FakeTelegram, chat_id: int) -> str:
    photos = [m for m in tg.visible_messages(chat_id) if m.kind in ("photo", "document")]
    return (photos[-1].text or "") if photos else ""


def test_premium_jumps_the_free_queue_and_expires_by_itself(redis_url: str, tmp_path: Path) -> None:
    """`photobot bot` (no workers), so the free photos stay queued while the paid one arrives; its own
    key prefix, so the module's `photobot run` (on the same redis-server) leaves its queue alone."""
    with FakeTelegram.run_in_thread() as tg, BotProcess(
        tg, redis_url, tmp_path, mode="bot", queue_prefix="jump", **SETTINGS
    ) as chat_side:
        chat_side.start(tg)
        for index, user in enumerate((601, 601, 602, 602)):
            tg.inject_photo(user, small_image(6000 + index), caption="sepia")
        tg.wait_for_sync(lambda: sum(status_caption(tg, u).startswith("⏳") for u in (601, 602)) == 2, 30)
        tg.wait_for_sync(lambda: len([m for u in (601, 602) for m in tg.visible_messages(u)]) == 4, 30)
        buyer = 603
        once, _ = offers(tg, buyer)
        assert tg.pay(buyer, once) is not None
        wait_text(tg, buyer, "Thank you! Premium is yours until")
        tg.inject_photo(buyer, small_image(6009), caption="sepia")
        tg.wait_for_sync(lambda: status_caption(tg, buyer).startswith("⏳ Queued"), 30)
        assert status_caption(tg, buyer).startswith("⏳ Queued, position 1."), status_caption(tg, buyer)
        job_id = status_caption(tg, buyer).rsplit(" ", 1)[-1]
        place = command(tg, buyer, f"/status {job_id}").splitlines()[-1]
        assert place == "Position in the queue: 0"  # nobody ahead: the four free photos wait behind it
        # The paid period ends (its end moved into the past, as time would): free again, by itself,
        # and the job queued while premium keeps its place.
        client = redis.Redis.from_url(redis_url)
        client.zadd("{jump}:premium", {f"tg:{buyer}": 1_000})
        client.close()
        tier = command(tg, buyer, "/tier")
        assert tier.startswith("Your tier: free.\nPhotos left for the last 24 hours: 1 of 2."), tier
        assert "Premium ended 1970-01-01 00:00 UTC." in tier
        assert command(tg, buyer, f"/status {job_id}").splitlines()[-1] == place
        assert chat_side.stop() == 0
