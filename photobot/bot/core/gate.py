"""The gate every update passes, whichever platform it comes from: who is sending and may they act.

A platform's translator names the sender (`Sender`) and says how to answer them; the gate loads
the sender's record once per update (a ban, a tier or admin rights changed a moment ago count at
once), keeps their language, stops a banned user (telling them once per window), counts photos
against the flood limit, refuses a photo over the quota or the pending cap before anything is
downloaded, and says who may run the admin commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from photobot.bot.allowance import Allowances, now_ms
from photobot.bot.i18n import pick_language, t
from photobot.bot.state import WaitingChoices
from photobot.config import Settings
from photobot.jobs import Platform, user_key
from photobot.logs import get_logger
from photobot.queue import JobQueue
from photobot.users import FloodVerdict, UserRecord, UserStore

log = get_logger(__name__)

Say = Callable[[str], Awaitable[object]]

# Commands that act on the queue, on other users or on money: admins only. /tier and /forget are
# everyone's about themselves and admin-only about another user (with an argument).
ADMIN_COMMANDS = frozenset({"stats", "requeue", "job", "grant", "refund", "ban", "unban"})
ADMIN_WITH_ARGUMENT = frozenset({"tier", "forget"})


@dataclass(frozen=True)
class Sender:
    """Who sent an update, as the platform names them."""

    platform: Platform
    user_id: int
    language_code: str | None = None

    @property
    def key(self) -> str:
        return user_key(self.platform, self.user_id)


def may_administer(user: UserRecord) -> bool:
    """Admin rights, judged on the record loaded for this update: an admin demoted or banned a
    moment ago has none."""
    return user.is_admin and not user.banned


def needs_admin(command: str, args: str) -> bool:
    return command in ADMIN_COMMANDS or (command in ADMIN_WITH_ARGUMENT and bool(args.strip()))


@dataclass
class Gate:
    """The rules of a chat, written once for every platform."""

    users: UserStore
    settings: Settings
    queue: JobQueue
    allowances: Allowances
    waiting: WaitingChoices

    def language(self, language_code: str | None) -> str:
        return pick_language(language_code, self.settings.default_language)

    async def admit(
        self, sender: Sender, language: str, refuse: Say, *, exempt: bool = False
    ) -> UserRecord | None:
        """The sender's record, or None for a banned sender (told by `refuse` once per window).
        `exempt` lets a banned sender through: a payment already taken must still be recorded."""
        record = await self.users.get(sender.key)
        if record.language != language:
            await self.users.touch(sender.key, language)
        if record.banned and not exempt:
            log.info("update from a banned user ignored", user_id=record.key)
            if await self.users.warn_once(record.key, "banned", self.settings.flood_window_seconds):
                await refuse(t("banned", language))
            return None
        return record

    async def photo_allowed(
        self, user: UserRecord, event_id: str, sent_at: float | None, language: str, warn: Say
    ) -> bool:
        """Count one photo (by its event id: a repeated update counts once) against the flood limit;
        over it, one polite message per window (through `warn`) and False."""
        verdict = await self.users.check_flood(user.key, event_id, sent_at)
        if verdict is FloodVerdict.ALLOWED:
            return True
        log.info("flood limit reached", user_id=user.key, verdict=verdict.value)
        if verdict is FloodVerdict.WARN:
            s = self.settings
            await warn(t("flood", language, limit=s.flood_limit, window=int(s.flood_window_seconds)))
        return False

    async def unfinished(self, key: str) -> int:
        """The user's unfinished jobs and photos waiting for a choice."""
        return await self.queue.pending_count(key) + await self.waiting.count(key)

    async def photo_refusal(self, user: UserRecord, language: str) -> str | None:
        """Over the quota or the pending cap: the refusal ('' when it was said already in this
        window), before anything is downloaded or stored; None when the photo may go on.

        The enqueue checks both again atomically, since another photo of the user may take the last
        unit in between. Photos waiting for a choice count as unfinished jobs: each holds an original.
        """
        allowance = await self.allowances.of(user)
        if allowance.left == 0:
            assert allowance.limit is not None
            await self.allowances.quotas.count_refusal()
            if self.queue.metrics is not None:
                self.queue.metrics.quota_refusals.labels(user.tier).inc()
            return await self.quota_refusal(user, allowance.limit, allowance.wait_seconds(now_ms()), language)
        cap = self.settings.max_pending_per_user
        if await self.unfinished(user.key) >= cap:
            return t("pending_cap", language, cap=cap)
        return None

    async def quota_refusal(self, user: UserRecord, limit: int, wait_seconds: int, language: str) -> str:
        """One message per flood window, however many photos an album or a burst brings ('' after)."""
        log.info("quota reached", user_id=user.key, limit=limit)
        if not await self.users.warn_once(user.key, "quota", self.settings.flood_window_seconds):
            return ""
        return self.allowances.refusal(user, limit, wait_seconds, language)
