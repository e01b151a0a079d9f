"""What every chat command answers, written once for all platforms.

Each method takes the caller (`UserRecord`), their language and the command's argument text, and
returns a `Reply`; the platform's router only parses the command and sends the reply. `run`
refuses an admin command to anyone the gate (photobot.bot.core.gate) does not hold an admin.
/token answers only in a private chat, since a token posted in a group would open the caller's
jobs to every member.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from photobot.bot.adapter import Button, Keyboard
from photobot.bot.core.gate import may_administer, needs_admin
from photobot.bot.core.status import operation_title
from photobot.bot.i18n import error_text, status_name, t
from photobot.bot.premium import Premium
from photobot.bot.service import BotService
from photobot.config import Settings
from photobot.jobs import Job, JobStatus, Platform, parse_user_ref
from photobot.logs import get_logger
from photobot.processing import list_operations
from photobot.processing.describe import params_line
from photobot.queue import JobNotFound, JobQueue, NotCancellable, NotRequeueable
from photobot.sessions import Scope, SessionStore
from photobot.users import ProtectedAdmin, UnknownTier, UserRecord, UserStore

log = get_logger(__name__)

JOBS_PAGE = 5
TOKENS_PER_WINDOW, TOKEN_WINDOW_SECONDS = 3, 600  # /token; a user keeps at most 5 live tokens anyway
MAX_JOBS_OFFSET = 100_000  # the queue keeps a user's history shorter than this

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Reply:
    text: str
    keyboard: Keyboard | None = None


@dataclass
class Commands:
    """User and admin commands over the queue and the user store."""

    service: BotService
    users: UserStore
    sessions: SessionStore
    premium: Premium

    @property
    def queue(self) -> JobQueue:
        return self.service.queue

    @property
    def settings(self) -> Settings:
        return self.service.settings

    async def run(
        self, name: str, args: str, user: UserRecord, lang: str, *, private: bool
    ) -> Reply | None:
        """The reply to command `name` (without its slash) with its argument text; None when photobot
        has no such command. Every platform dispatches through here."""
        command = _DISPATCH.get(name)
        if command is None:
            return None
        if needs_admin(name, args) and not may_administer(user):
            return Reply(t("admin_only", lang))
        reply = command(self, _Call(user, lang, args, private))
        return await reply if inspect.isawaitable(reply) else reply

    # --- everyone ------------------------------------------------------------------------------------
    def start(self, lang: str) -> Reply:
        return Reply(t("start", lang))

    async def help(self, user: UserRecord, lang: str) -> Reply:
        s = self.settings
        text = t(
            "help",
            lang,
            max_mb=s.max_download_bytes // (1024 * 1024),
            flood_limit=s.flood_limit,
            flood_window=int(s.flood_window_seconds),
            pending_cap=s.max_pending_per_user,
        )
        text += "\n\n" + "\n".join(await self.service.allowances.lines(user, lang))
        if may_administer(user):
            text += "\n\n" + t("admin_help", lang) + "\n" + t("admin_help_premium", lang)
        return Reply(text)

    def ops(self, lang: str) -> Reply:
        lines = [t("ops_header", lang)]
        for op in list_operations():
            aliases = ", ".join(a for a in op.aliases if a != op.name)
            title = op.title(lang)
            lines.append(f"• {op.name}: {title}" + (f" ({aliases})" if aliases else ""))
            if params := params_line(op):
                lines.append(f"    {params}")
        return Reply("\n".join(lines))

    async def jobs(self, user: UserRecord, lang: str, offset: int = 0) -> Reply:
        offset = min(max(0, offset), MAX_JOBS_OFFSET)
        jobs, total = await self.queue.user_jobs(user.key, limit=JOBS_PAGE, offset=offset)
        if total == 0:
            return Reply(t("jobs_empty", lang))
        if not jobs and offset > 0:
            return await self.jobs(user, lang, 0)
        lines = [t("jobs_header", lang, first=offset + 1, last=offset + len(jobs), total=total)]
        lines += [self._job_line(job, lang) for job in jobs]
        buttons = []
        if offset > 0:
            buttons.append(Button(t("prev", lang), "jobs", str(max(0, offset - JOBS_PAGE))))
        if offset + len(jobs) < total:
            buttons.append(Button(t("next", lang), "jobs", str(offset + JOBS_PAGE)))
        return Reply("\n".join(lines), Keyboard(rows=[buttons]) if buttons else None)

    def _job_line(self, job: Job, lang: str) -> str:
        return f"• {job.job_id} · {operation_title(job.operation, lang)} · {_status(job.status, lang)}"

    async def status(self, user: UserRecord, lang: str, arg: str) -> Reply:
        job = await self._named_job(user, lang, arg, "/status JOB_ID")
        if isinstance(job, Reply):
            return job
        lines = [
            t(
                "status_line",
                lang,
                job_id=job.job_id,
                operation=operation_title(job.operation, lang),
                status=_status(job.status, lang),
            )
        ]
        if job.status is JobStatus.PENDING:
            position = await self.queue.position(job.job_id)
            if position is not None:
                lines.append(t("position_line", lang, position=position))
        if job.error is not None:
            lines.append(t("error_line", lang, message=error_text(job.error, lang)))
        return Reply("\n".join(lines))

    async def cancel(self, user: UserRecord, lang: str, arg: str) -> Reply:
        job = await self._named_job(user, lang, arg, "/cancel JOB_ID")
        if isinstance(job, Reply):
            return job
        job_id = arg.strip()
        try:
            after = await self.queue.cancel(job.job_id, None if may_administer(user) else user.key)
        except JobNotFound:
            return Reply(t("job_not_found", lang, job_id=job_id[:64]))
        except NotCancellable:
            current = await self.queue.get(job.job_id)
            status = current.status if current is not None else job.status
            return Reply(t("cannot_cancel", lang, job_id=job.job_id, status=_status(status, lang)))
        await self.service.status.show_final(after)
        return Reply(t("cancelled", lang, job_id=job.job_id))

    async def tier(self, user: UserRecord, lang: str, arg: str) -> Reply:
        parts = arg.split()
        if not parts:
            return Reply("\n".join(await self.service.allowances.lines(user, lang)))
        if len(parts) != 2:
            return Reply(t("usage", lang, usage="/tier USER_ID TIER"))
        target = self._user_key(user.platform, parts[0])
        if target is None:
            return Reply(t("bad_user_id", lang, value=parts[0][:64]))
        return Reply(await self._set_tier(user, lang, target, parts[1]))

    async def _set_tier(self, admin: UserRecord, lang: str, target: str, tier: str) -> str:
        try:
            await self.users.set_tier(target, tier)
        except UnknownTier:
            return t("unknown_tier", lang, tier=tier[:32], tiers=", ".join(self.settings.tiers))
        except ProtectedAdmin:
            return t("protected_admin", lang, user=target)
        log.info("tier set", admin=admin.key, target=target, tier=tier.lower())
        return t("tier_set", lang, user=target, tier=tier.lower())

    # --- API tokens ----------------------------------------------------------------------------------
    async def token(self, user: UserRecord, lang: str, *, private: bool) -> Reply:
        """A new API token, answered in a private chat only; an admin's carries the admin scope."""
        if not private:
            return Reply(t("token_private_only", lang))
        if not await self.users.within_rate(user.key, "token", TOKENS_PER_WINDOW, TOKEN_WINDOW_SECONDS):
            return Reply(t("token_too_often", lang, count=TOKENS_PER_WINDOW,
                           minutes=TOKEN_WINDOW_SECONDS // 60))
        scope = Scope.ADMIN if may_administer(user) else Scope.USER
        ttl = self.sessions.default_ttl
        token = await self.sessions.issue(user.key, scope, ttl)
        base = self.settings.public_url or t("token_base_unknown", lang)
        return Reply(
            t("token_issued", lang, token=token, base=base, scope=scope.value, lifetime=_lifetime(ttl, lang))
        )

    async def logout(self, user: UserRecord, lang: str) -> Reply:
        """Every token of the caller stops working at once (wherever the command is sent)."""
        count = await self.sessions.revoke_all(user.key)
        return Reply(t("logged_out", lang, count=count))

    async def forget(self, user: UserRecord, lang: str, arg: str) -> Reply:
        """`/forget`: the caller's stored photos and results are deleted now, their waiting jobs and
        photos waiting for a choice cancelled. `/forget USER_ID`: an admin's, for a banned user."""
        retention = self.service.retention
        value = arg.strip()
        if not value:
            files = await retention.forget(user.key) if retention is not None else 0
            await self.service.waiting.clear(user.key)
            return Reply(t("forgotten", lang, files=files))
        target = self._user_key(user.platform, value)
        if target is None:
            return Reply(t("bad_user_id", lang, value=value[:64]))
        if not (await self.users.get(target)).banned:
            return Reply(t("forget_not_banned", lang, user=target))
        files = await retention.forget(target) if retention is not None else 0
        await self.service.waiting.clear(target)
        log.info("banned user's data forgotten", admin=user.key, target=target, files=files)
        return Reply(t("user_forgotten", lang, user=target, files=files))

    # --- admins ------------------------------------------------------------------------------------
    async def ban(self, user: UserRecord, lang: str, arg: str, *, banned: bool = True) -> Reply:
        value = arg.strip()
        target = self._user_key(user.platform, value) if value else None
        if target is None:
            usage = "/ban USER_ID" if banned else "/unban USER_ID"
            return Reply(t("bad_user_id", lang, value=value[:64]) if value else t("usage", lang, usage=usage))
        if banned:
            try:
                await self.users.ban(target)
            except ProtectedAdmin:
                return Reply(t("protected_admin", lang, user=target))
        else:
            await self.users.unban(target)
        log.info("ban changed", admin=user.key, target=target, banned=banned)
        return Reply(t("user_banned" if banned else "user_unbanned", lang, user=target))

    async def stats(self, user: UserRecord, lang: str) -> Reply:
        s = await self.queue.stats()
        depth = ", ".join(f"{tier} {count}" for tier, count in s.tiers.items()) or "0"
        counts = s.counts
        return Reply(
            t(
                "stats",
                lang,
                depth=depth,
                processing=counts.get("processing", 0),
                retrying=counts.get("retrying", 0),
                failed=counts.get("failed", 0),
                completed_hour=s.completed_last_hour,
                failed_hour=s.failed_last_hour,
                oldest_wait=_num(s.oldest_wait_seconds),
                p50=_num(s.processing_p50_seconds),
                p95=_num(s.processing_p95_seconds),
                workers=s.workers_alive,
            )
            + "\n"
            + t(
                "stats_tiers",
                lang,
                refused=await self.service.allowances.quotas.refused_today(),
                premium=await self.premium.ledger.active_count(),
            )
        )

    async def requeue(self, user: UserRecord, lang: str, arg: str) -> Reply:
        value = arg.strip()
        if not value:
            return Reply(t("usage", lang, usage="/requeue JOB_ID | failed"))
        if value.lower() == "failed":
            count = await self.queue.requeue_all_failed()
            log.info("failed jobs requeued", admin=user.key, count=count)
            return Reply(t("requeued_failed", lang, count=count))
        job = await self._any_job(value)
        if job is None:
            return Reply(t("job_not_found", lang, job_id=value[:64]))
        try:
            requeued = await self.queue.requeue(job.job_id)
        except (NotRequeueable, JobNotFound):
            current = await self.queue.get(job.job_id) or job
            return Reply(t("cannot_requeue", lang, job_id=job.job_id, status=_status(current.status, lang)))
        log.info("job requeued", admin=user.key, job_id=job.job_id)
        await self.service.status.show_queued(requeued)
        return Reply(t("requeued", lang, job_id=job.job_id))

    async def job(self, user: UserRecord, lang: str, arg: str) -> Reply:
        job = await self._named_job(user, lang, arg, "/job JOB_ID")
        if isinstance(job, Reply):
            return job
        text = json.dumps(job.model_dump(mode="json"), ensure_ascii=False, indent=1)
        return Reply(text[:3900])

    # --- premium ------------------------------------------------------------------------------------
    async def grant(self, user: UserRecord, lang: str, arg: str) -> Reply:
        parts = arg.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) > 3650:
            return Reply(t("usage", lang, usage="/grant USER_ID DAYS (0-3650)"))
        target = self._user_key(user.platform, parts[0])
        if target is None:
            return Reply(t("bad_user_id", lang, value=parts[0][:64]))
        log.info("premium granted", admin=user.key, target=target, days=int(parts[1]))
        return Reply(await self.premium.grant(target, int(parts[1]), lang))

    async def refund(self, user: UserRecord, lang: str, arg: str) -> Reply:
        charge_id = arg.strip()
        if not charge_id:
            return Reply(t("usage", lang, usage="/refund CHARGE_ID"))
        log.info("refund asked", admin=user.key, charge_id=charge_id[:128])
        return Reply(await self.premium.refund(charge_id, lang))

    # --- helpers -----------------------------------------------------------------------------------
    async def _any_job(self, job_id: str) -> Job | None:
        if not _JOB_ID.match(job_id):
            return None
        job: Job | None = await self.queue.get(job_id)
        return job

    async def _named_job(self, user: UserRecord, lang: str, arg: str, usage: str) -> Job | Reply:
        """The job the argument names, if the caller may see it (their own; any, for an admin), or
        the reply that says why not."""
        job_id = arg.strip()
        if not job_id:
            return Reply(t("usage", lang, usage=usage))
        job = await self._own_job(user, job_id)
        return job if job is not None else Reply(t("job_not_found", lang, job_id=job_id[:64]))

    async def _own_job(self, user: UserRecord, job_id: str) -> Job | None:
        job = await self._any_job(job_id)
        if job is None or (job.user_key != user.key and not may_administer(user)):
            return None
        return job

    @staticmethod
    def _user_key(platform: Platform, value: str) -> str | None:
        """`123` -> the caller's platform's user; `tg:123` / `vk:123` name a platform explicitly."""
        return parse_user_ref(value, platform)


def _status(status: JobStatus | str, lang: str) -> str:
    return status_name(str(status), lang)


def _lifetime(seconds: int, lang: str) -> str:
    if seconds % 3600 == 0:
        return t("lifetime_hours", lang, count=seconds // 3600)
    return t("lifetime_minutes", lang, count=max(1, round(seconds / 60)))


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


async def _reply(text: Awaitable[str]) -> Reply:
    return Reply(await text)


@dataclass(frozen=True)
class _Call:
    user: UserRecord
    lang: str
    args: str
    private: bool


_DISPATCH: dict[str, Callable[[Commands, _Call], Reply | Awaitable[Reply]]] = {
    "start": lambda c, call: c.start(call.lang),
    "help": lambda c, call: c.help(call.user, call.lang),
    "ops": lambda c, call: c.ops(call.lang),
    "jobs": lambda c, call: c.jobs(call.user, call.lang),
    "status": lambda c, call: c.status(call.user, call.lang, call.args),
    "cancel": lambda c, call: c.cancel(call.user, call.lang, call.args),
    "tier": lambda c, call: c.tier(call.user, call.lang, call.args),
    "token": lambda c, call: c.token(call.user, call.lang, private=call.private),
    "logout": lambda c, call: c.logout(call.user, call.lang),
    "forget": lambda c, call: c.forget(call.user, call.lang, call.args),
    "stats": lambda c, call: c.stats(call.user, call.lang),
    "requeue": lambda c, call: c.requeue(call.user, call.lang, call.args),
    "job": lambda c, call: c.job(call.user, call.lang, call.args),
    "premium": lambda c, call: Reply(c.premium.offer_text(call.user, call.lang)),
    "paysupport": lambda c, call: _reply(c.premium.paysupport(call.user, call.lang)),
    "terms": lambda c, call: Reply(c.premium.terms(call.lang)),
    "grant": lambda c, call: c.grant(call.user, call.lang, call.args),
    "refund": lambda c, call: c.refund(call.user, call.lang, call.args),
    "ban": lambda c, call: c.ban(call.user, call.lang, call.args, banned=True),
    "unban": lambda c, call: c.ban(call.user, call.lang, call.args, banned=False),
}
NAMES = tuple(_DISPATCH)  # every command, without its slash
