"""What a user may still send, said in words: the quota refusal, and the tier lines of /tier, /help.

The numbers come from the queue's quota keys (photobot.queue.quota) and the premium ledger
(photobot.payments); this module only renders them, once for every platform.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from photobot.bot.i18n import t
from photobot.config import Settings
from photobot.jobs import Platform
from photobot.queue.quota import Allowance, QuotaBook
from photobot.users import UserRecord


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_text(seconds: int, lang: str) -> str:
    """`5 h 12 min`, `3 min`; a wait under a minute reads as one minute."""
    minutes = max(1, seconds // 60)
    if minutes >= 60:
        return t("wait_hours", lang, hours=minutes // 60, minutes=minutes % 60)
    return t("wait_minutes", lang, minutes=minutes)


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def premium_line(premium_until: int | None, lang: str) -> str | None:
    if premium_until is None:
        return None
    key = "premium_until" if premium_until > now_ms() else "premium_ended"
    return t(key, lang, until=utc_text(premium_until))


def premium_hint(settings: Settings, user: UserRecord, lang: str) -> str | None:
    """How to get more, where premium is sold (Telegram) and ranks above the user's tier."""
    if not settings.premium_for_sale or user.platform is not Platform.TELEGRAM:
        return None
    tiers = settings.tiers
    if tiers[settings.premium_tier] <= tiers.get(user.tier, 0):
        return None
    quota = settings.tier_quota(settings.premium_tier)
    return t("quota_premium_hint", lang, quota=quota if quota is not None else "∞")


class Allowances:
    """The quota and premium lines for one user."""

    def __init__(self, quotas: QuotaBook, settings: Settings) -> None:
        self.quotas = quotas
        self.settings = settings

    async def of(self, user: UserRecord) -> Allowance:
        return await self.quotas.allowance(user.key, user.tier)

    def refusal(self, user: UserRecord, limit: int, wait_seconds: int, lang: str) -> str:
        lines = [t("quota_reached", lang, limit=limit, wait=wait_text(wait_seconds, lang))]
        hint = premium_hint(self.settings, user, lang)
        if hint:
            lines.append(hint)
        return "\n".join(lines)

    async def lines(self, user: UserRecord, lang: str) -> list[str]:
        """The tier, what is left of the quota and when the next unit comes back, premium's end."""
        allowance = await self.of(user)
        lines = [t("tier_own", lang, tier=user.tier)]
        if allowance.limit is None:
            lines.append(t("allowance_unlimited", lang))
        else:
            lines.append(t("allowance_left", lang, left=allowance.left, limit=allowance.limit))
            wait = allowance.wait_seconds(now_ms())
            if wait:
                lines.append(t("allowance_next", lang, wait=wait_text(wait, lang)))
        shown = premium_line(user.premium_until, lang)
        if shown:
            lines.append(shown)
        return lines
