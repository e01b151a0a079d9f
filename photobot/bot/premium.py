"""Premium as the chat sees it: the offer, the checks of a Stars payment, its grant, and the admin's
/grant and /refund. Written once for every platform; Telegram's router (telegram/routers/payments.py)
turns updates into these calls and the replies into invoices and messages.

An invoice's payload names the offer and the buyer: `premium:v1:<once|sub>:<user id>:<stars>:<days>`.
A pre-checkout query is accepted only when the payload parses, names the paying user and matches the
offer as it stands now (price, days, subscription offered); anything else is refused with a reason,
so a stale invoice (the price changed) or one forwarded to someone else cannot be paid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from photobot.bot.allowance import now_ms, premium_line
from photobot.bot.i18n import t
from photobot.config import Settings
from photobot.jobs import Platform
from photobot.logs import get_logger
from photobot.metrics import Metrics
from photobot.payments import Granted, PremiumLedger
from photobot.users import UserRecord

log = get_logger(__name__)

CURRENCY = "XTR"  # Telegram Stars; digital goods are paid in Stars only, with no payment provider
SUBSCRIPTION_PERIOD = 2_592_000  # the one period Telegram subscriptions have: 30 days, in seconds
SUBSCRIPTION_DAYS = 30
CHARGE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_PAYLOAD = re.compile(r"^premium:v1:(once|sub):(\d{1,20}):(\d{1,6}):(\d{1,5})$")


class StarsRefunds(Protocol):
    """Telegram's side of a refund (photobot.bot.telegram.stars implements it)."""

    async def refund(self, user_id: int, charge_id: str) -> None:
        """refundStarPayment; raises RefundRefused with Telegram's reason."""

    async def cancel_subscription(self, user_id: int, charge_id: str) -> None:
        """editUserStarSubscription(is_canceled=True); best effort."""


class RefundRefused(Exception):
    """Telegram did not refund; the message is Telegram's description."""


@dataclass(frozen=True)
class Offer:
    kind: str  # once | sub
    user_id: int
    stars: int
    days: int

    @property
    def payload(self) -> str:
        return f"premium:v1:{self.kind}:{self.user_id}:{self.stars}:{self.days}"

    @classmethod
    def parse(cls, payload: str) -> Offer | None:
        match = _PAYLOAD.match(payload or "")
        if match is None:
            return None
        kind, user_id, stars, days = match.groups()
        return cls(kind, int(user_id), int(stars), int(days))


@dataclass(eq=False)
class Premium:
    """Premium's commands and payment steps."""

    settings: Settings
    ledger: PremiumLedger
    refunds: StarsRefunds | None = None
    metrics: Metrics | None = None

    # --- the offer -----------------------------------------------------------------------------------
    def offers(self, user: UserRecord) -> list[Offer]:
        """What /premium offers this user now: a one-off invoice, and a monthly subscription."""
        s = self.settings
        if not s.premium_for_sale or user.platform is not Platform.TELEGRAM or user.numeric_id is None:
            return []
        found = [Offer("once", user.numeric_id, s.premium_price_stars, s.premium_days)]
        if s.premium_subscription and s.premium_days == SUBSCRIPTION_DAYS:
            found.append(Offer("sub", user.numeric_id, s.premium_price_stars, SUBSCRIPTION_DAYS))
        return found

    def _quotas(self) -> dict[str, object]:
        s = self.settings
        quota = s.tier_quota(s.premium_tier)
        free = s.tier_quota(s.default_tier)
        return {"quota": "∞" if quota is None else quota, "free_quota": "∞" if free is None else free}

    def offer_text(self, user: UserRecord, lang: str) -> str:
        s = self.settings
        if user.platform is Platform.VK:
            lines = [t("premium_vk", lang)]
        elif not s.premium_for_sale:
            lines = [t("premium_not_sold", lang)]
        else:
            lines = [
                t("premium_offer", lang, price=s.premium_price_stars, days=s.premium_days, **self._quotas())
            ]
        shown = premium_line(user.premium_until, lang)
        if shown:
            lines.append(shown)
        return "\n".join(lines)

    def invoice_texts(self, lang: str) -> tuple[str, str]:
        """(title, description) of the invoice: at most 32 and 255 characters, as Telegram requires."""
        s = self.settings
        title = t("premium_invoice_title", lang, days=s.premium_days)[:32]
        text = t("premium_invoice_text", lang, days=s.premium_days, **self._quotas())[:255]
        return title, text

    def terms(self, lang: str) -> str:
        s = self.settings
        if not s.premium_for_sale:
            return t("premium_not_sold", lang)
        return t("terms", lang, price=s.premium_price_stars, days=s.premium_days, **self._quotas())

    async def paysupport(self, user: UserRecord, lang: str) -> str:
        payments = await self.ledger.payments_of(user.key)
        listed = ", ".join(f"{p.charge_id} ({p.stars} XTR, {p.status})" for p in payments)
        return t(
            "paysupport",
            lang,
            support=self.settings.pay_support,
            payments=listed or t("paysupport_none", lang),
        )

    # --- a payment -------------------------------------------------------------------------------------
    def checkout_refusal(
        self, user_id: int, payload: str, currency: str, total: int, lang: str
    ) -> str | None:
        """None when the pre-checkout query may go on; otherwise the reason shown to the payer."""
        offer = Offer.parse(payload)
        if offer is not None and offer.user_id != user_id:
            return t("checkout_foreign", lang)
        current = {(o.kind, o.stars, o.days) for o in self._current_offers(user_id)}
        if (
            offer is None
            or currency != CURRENCY
            or total != offer.stars
            or (offer.kind, offer.stars, offer.days) not in current
        ):
            return t("checkout_stale", lang)
        return None

    def _current_offers(self, user_id: int) -> list[Offer]:
        probe = UserRecord(f"tg:{user_id}", Platform.TELEGRAM, str(user_id), "", False, None, False)
        return self.offers(probe)

    async def apply_payment(
        self,
        user: UserRecord,
        *,
        charge_id: str,
        payload: str,
        currency: str,
        total: int,
        recurring: bool = False,
        subscription_end: int | None = None,
    ) -> tuple[Granted, bool]:
        """Record the payment and grant what it paid for, once per charge id. Returns the grant and
        whether the payment matched an offer (an unmatched one is recorded for a refund, no grant)."""
        offer = Offer.parse(payload)
        matched = (
            offer is not None
            and offer.user_id == user.numeric_id
            and currency == CURRENCY
            and total == offer.stars
        )
        if offer is not None and matched:
            kind = (
                "renewal"
                if recurring and offer.kind == "sub"
                else {"once": "invoice", "sub": "subscription"}[offer.kind]
            )
            days = offer.days
        else:
            kind, days = "unknown", 0
        granted = await self.ledger.record_payment(
            charge_id, user.key, stars=total, days=days, kind=kind, payload=payload, currency=currency,
            subscription_end=subscription_end,
        )
        if granted.new and self.metrics is not None:
            self.metrics.payments.labels(kind).inc()
        log.info(
            "payment",
            user_id=user.key,
            charge_id=charge_id,
            stars=total,
            kind=kind,
            applied=granted.new,
            until=granted.until_ms,
        )
        return granted, matched

    # --- admins ----------------------------------------------------------------------------------------
    async def grant(self, target: str, days: int, lang: str) -> str:
        granted = await self.ledger.grant_days(target, days)
        return t("grant_done", lang, user=target, premium=self._premium_state(granted.until_ms, lang))

    async def refund(self, charge_id: str, lang: str) -> str:
        """Refund a payment through Telegram, then end the premium it paid for."""
        payment = await self.ledger.payment(charge_id) if CHARGE_ID.match(charge_id) else None
        if payment is None:
            return t("refund_unknown", lang, charge_id=charge_id[:128])
        if payment.status == "refunded":
            return t("refund_already", lang, charge_id=charge_id)
        if self.refunds is None:
            return t("refund_needs_telegram", lang)
        user_id = int(payment.user_key.split(":", 1)[1])
        if payment.kind in ("subscription", "renewal"):
            await self.refunds.cancel_subscription(user_id, charge_id)  # no renewal after a refund
        try:
            await self.refunds.refund(user_id, charge_id)
        except RefundRefused as error:
            if "CHARGE_ALREADY_REFUNDED" not in str(error):
                return t("refund_refused", lang, charge_id=charge_id, reason=str(error)[:200])
            # Refunded already (by another admin at the same moment): the premium ends here too.
        done = await self.ledger.mark_refunded(charge_id)
        if done.outcome != "ok":
            return t("refund_already", lang, charge_id=charge_id)
        log.info("payment refunded", charge_id=charge_id, user_id=done.user_key, until=done.until_ms)
        if self.metrics is not None:
            self.metrics.payments.labels("refund").inc()
        return t(
            "refund_done",
            lang,
            stars=done.stars,
            charge_id=charge_id,
            user=done.user_key,
            premium=self._premium_state(done.until_ms, lang),
        )

    @staticmethod
    def _premium_state(until_ms: int, lang: str) -> str:
        if until_ms <= now_ms():
            return t("premium_none", lang)
        return premium_line(until_ms, lang) or ""
