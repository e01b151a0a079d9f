"""The status message's last word for a job that ended without a result (failed or cancelled).

The worker shows a failure by editing the status message, and /cancel shows a cancel; but a job can
end before the bot has recorded its status message (a file that fails at once, such as an SVG or a
HEIC named .jpg, is leased and failed while the "queued" photo is still on its way to the chat), or
be cancelled where no chat is at hand (the HTTP API). Whoever sees the job ended and the status
message recorded calls `show_final`, so the caption always ends in the job's final state; the edit
is idempotent, so two callers showing the same state do no harm.
"""

from __future__ import annotations

from collections.abc import Mapping

from photobot.bot.adapter import ChatAdapter
from photobot.bot.i18n import t
from photobot.bot.state import MessageLocks
from photobot.jobs import Job, JobStatus, Platform
from photobot.logs import get_logger

log = get_logger(__name__)


def final_caption(job: Job) -> str | None:
    """The caption of a job that ended without a result; None for any other state."""
    if job.status is JobStatus.CANCELLED:
        return t("cancelled_caption", job.language, job_id=job.job_id)
    if job.status is JobStatus.FAILED:
        return t("failed", job.language, message=job.error.message if job.error else "")
    return None


async def show_final(adapters: Mapping[Platform, ChatAdapter], locks: MessageLocks, job: Job) -> None:
    """Edit the job's status message into its final state, if it has one and ended without a
    result; best effort (the job's end stands whether or not the chat shows it)."""
    caption = final_caption(job)
    adapter = adapters.get(job.platform)
    if caption is None or adapter is None or job.chat_id is None or job.status_message_id is None:
        return
    try:
        async with locks.hold(job.platform, job.chat_id, job.status_message_id):
            await adapter.edit_caption(job.chat_id, job.status_message_id, caption)
    except Exception as error:
        log.warning("final state not shown", job_id=job.job_id, status=job.status.value, error=repr(error))
