"""Queue commands: enqueue, stats, jobs, show, requeue, cancel, worker.

Standard output carries the answer only (a job id, a table, JSON), so scripts can read it; a
mistake the user can fix (bad flag, unknown id) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from photobot.cli import CliError
from photobot.cli.argtypes import INT64, seconds, user_ref, whole_number
from photobot.config import Settings
from photobot.jobs import Job, JobStatus, Platform, new_job_id, parse_user_ref
from photobot.locales import error_text
from photobot.queue import InvalidJob, JobQueue, Maintenance, PendingCapReached, QueueError
from photobot.queue.drain import NoopDrainer
from photobot.queue.outage import REDIS_DOWN
from photobot.queue.views import MAX_PAGE
from photobot.redis_client import not_configured

NOOP_BATCH = 500
MAX_COUNT = 100_000  # enqueue --count: copies are built and sent ENQUEUE_CHUNK at a time
ENQUEUE_CHUNK = 1000
MAX_OFFSET = 1_000_000
PRIORITY = whole_number(-1_000_000, 1_000_000)


def register(sub: Any) -> None:
    p = sub.add_parser("enqueue", help="queue a job; prints its id")
    p.add_argument("--user", required=True, metavar="USER",
                   help="the user: an id on --platform (2002), or tg:2002 / vk:2002")
    p.add_argument("--operation", required=True, metavar="NAME",
                   help="operation, checked as the bot checks it (see `photobot ops`)")
    p.add_argument("--photo", required=True, help="storage id of the original")
    p.add_argument("--platform", choices=[p.value for p in Platform], default=None,
                   help="platform of a bare --user id (default: cli, a job with no chat to answer)")
    p.add_argument("--tier", help="tier name (default: DEFAULT_TIER)")
    p.add_argument("--priority", type=PRIORITY, help="priority (default: the tier's)")
    p.add_argument("--chat", type=whole_number(-INT64, INT64), help="chat id")
    p.add_argument("--message", type=whole_number(1, INT64),
                   help="message id (dedup with chat and operation)")
    p.add_argument("--dedup-key", help="a job with this key is not queued twice (default: from --message)")
    p.add_argument("--params", type=_json_object, default={},
                   help='operation parameters as a JSON object, e.g. \'{"radius": 5}\'')
    p.add_argument("--metadata", type=_json_object, default={}, help="a JSON object kept with the job")
    p.add_argument("--count", type=whole_number(1, MAX_COUNT), default=1,
                   help="queue this many copies (benchmarks)")
    p.set_defaults(handler=enqueue)

    p = sub.add_parser("stats", help="queue figures")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=stats)

    p = sub.add_parser("jobs", help="list jobs, newest finished first")
    p.add_argument("--status", choices=[s.value for s in JobStatus], help="only jobs in this status")
    p.add_argument("--user", type=user_ref(Platform.TELEGRAM), metavar="USER",
                   help="only this user's jobs: a Telegram id (2002), or tg:2002 / vk:2002")
    p.add_argument("--limit", type=whole_number(1, MAX_PAGE), default=20, help="jobs per page (default 20)")
    p.add_argument("--offset", type=whole_number(0, MAX_OFFSET), default=0, help="jobs to skip (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.set_defaults(handler=jobs)

    for name, about, handler in (("show", "one job, every field", show),
                                 ("cancel", "cancel a pending or retrying job", cancel)):
        p = sub.add_parser(name, help=about)
        p.add_argument("job_id", metavar="JOB_ID", help="the job's id")
        p.set_defaults(handler=handler)

    p = sub.add_parser("requeue", help="failed job(s) back to pending")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("job_id", nargs="?", metavar="JOB_ID", help="the failed job to requeue")
    target.add_argument("--all-failed", action="store_true", help="requeue every failed job")
    p.set_defaults(handler=requeue)

    p = sub.add_parser("worker", help="run a worker until SIGTERM")
    p.add_argument("--noop", action="store_true", help="drain with a no-op handler (benchmarks)")
    p.add_argument("--batch", type=whole_number(1, 10_000), default=NOOP_BATCH,
                   help="with --noop: jobs leased and acknowledged per round trip")
    p.add_argument("--exit-when-idle", type=seconds(86_400), metavar="SECONDS",
                   help="stop after this long with nothing to do")
    p.set_defaults(handler=worker)


# --- Argument types ----------------------------------------------------------------------------
def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


# --- Plumbing ----------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def open_queue(settings: Settings) -> AsyncIterator[JobQueue]:
    if settings.redis_url is None:
        raise CliError(not_configured(settings))
    try:
        queue = JobQueue.from_settings(settings)
    except QueueError as error:
        raise CliError(str(error)) from None
    try:
        yield queue
    except REDIS_DOWN as error:
        raise CliError(f"cannot reach Redis at {_safe_url(settings)}: {type(error).__name__}") from None
    except QueueError as error:
        raise CliError(error_text(error, "en")) from None
    finally:
        with contextlib.suppress(Exception):
            await queue.close()


def _safe_url(settings: Settings) -> str:
    """The Redis URL without its password."""
    url = settings.redis_url or ""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


def _job_line(job: Job) -> str:
    return (f"{job.job_id}  {job.status.value:<10}  {job.user_key:<16}  {job.tier:<8}  "
            f"{job.operation:<12}  attempts={job.attempts}/{job.max_attempts}")


# --- Commands ----------------------------------------------------------------------------------
async def enqueue(args: argparse.Namespace, settings: Settings) -> int:
    platform, user_id = _enqueue_user(args.user, args.platform)
    _check_operation(args.operation, args.params)
    task: dict[str, Any] = {
        "user_id": user_id, "operation": args.operation, "photo_id": args.photo,
        "platform": platform, "tier": args.tier, "priority": args.priority,
        "chat_id": args.chat, "message_id": args.message, "dedup_key": args.dedup_key,
        "params": args.params, "metadata": args.metadata,
    }
    from photobot.queue.validation import job_from_task

    async with open_queue(settings) as queue:
        try:
            if args.count == 1:
                print(await queue.enqueue_task(task))
                return 0
            if args.dedup_key or args.message is not None:
                raise CliError("--count cannot be combined with --dedup-key or --message")
            first = job_from_task(task, settings)
            for start in range(0, args.count, ENQUEUE_CHUNK):
                size = min(ENQUEUE_CHUNK, args.count - start)
                copies = [first.model_copy(update={"job_id": new_job_id()}) for _ in range(size)]
                for result in await queue.enqueue_many(copies):
                    print(result.job.job_id)
        except PendingCapReached as error:
            raise CliError(error_text(error, "en")) from None
        except InvalidJob as error:
            raise CliError(error_text(error, "en")) from None
    return 0


def _enqueue_user(value: str, platform: str | None) -> tuple[str, str]:
    """--user as every command takes it; a bare id belongs to --platform (cli when not given)."""
    key = parse_user_ref(value, platform or Platform.CLI)
    if key is None:
        raise CliError(f"--user: not a user: {value!r} (an id such as 2002, or tg:2002 / vk:2002)")
    short, _, user_id = key.partition(":")
    named = next(p for p in Platform if p.short == short)
    if platform is not None and named.value != platform:
        raise CliError(f"--user {value} is a {named.value} user, but --platform says {platform}")
    return named.value, user_id


def _check_operation(name: str, params: dict[str, Any]) -> None:
    """The operation and its parameters, refused now as the bot refuses them, not when a worker
    takes the job."""
    from photobot.processing import get_operation, validate_params
    from photobot.processing.errors import ProcessingError

    try:
        validate_params(get_operation(name), params)
    except ProcessingError as error:
        raise CliError(f"{error.code}: {error_text(error, 'en')} See `photobot ops`.") from None


async def stats(args: argparse.Namespace, settings: Settings) -> int:
    async with open_queue(settings) as queue:
        figures = await queue.stats()
    if args.json:
        print(figures.model_dump_json(indent=2))
        return 0
    rows = [(status, str(count)) for status, count in figures.counts.items()]
    rows += [(f"tier {name}", str(depth)) for name, depth in figures.tiers.items()]
    rows += [
        ("oldest wait", f"{figures.oldest_wait_seconds:.1f}s"),
        ("completed 1m / 1h", f"{figures.completed_last_minute} / {figures.completed_last_hour}"),
        ("failed 1m / 1h", f"{figures.failed_last_minute} / {figures.failed_last_hour}"),
        ("processing p50 / p95", f"{_seconds(figures.processing_p50_seconds)} / "
                                 f"{_seconds(figures.processing_p95_seconds)}"),
        ("workers alive", str(figures.workers_alive)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


async def jobs(args: argparse.Namespace, settings: Settings) -> int:
    status = JobStatus(args.status) if args.status else None
    async with open_queue(settings) as queue:
        page, total = await queue.list_jobs(status, args.user, args.limit, args.offset)
    for job in page:
        print(job.model_dump_json() if args.json else _job_line(job))
    if not args.json:
        print(f"{len(page)} of {total}", file=sys.stderr)
    return 0


async def show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_queue(settings) as queue:
        job = await queue.get(args.job_id)
        position = await queue.position(args.job_id) if job is not None else None
    if job is None:
        raise CliError(f"no job {args.job_id}")
    data = job.model_dump(mode="json")
    data["user_key"] = job.user_key
    if position is not None:
        data["position"] = position
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


async def requeue(args: argparse.Namespace, settings: Settings) -> int:
    async with open_queue(settings) as queue:
        if args.all_failed:
            print(await queue.requeue_all_failed())
        else:
            print(_job_line(await queue.requeue(args.job_id)))
    return 0


async def cancel(args: argparse.Namespace, settings: Settings) -> int:
    async with open_queue(settings) as queue:
        print(_job_line(await queue.cancel(args.job_id)))
    return 0


async def worker(args: argparse.Namespace, settings: Settings) -> int:
    if not args.noop:
        from photobot.app import run

        await run(settings, mode="worker")
        return 0
    async with open_queue(settings) as queue:
        runner = NoopDrainer(queue, batch=args.batch)
        maintenance = Maintenance(queue)
        _on_signals(runner.stop)
        tasks = [asyncio.create_task(runner.run()), asyncio.create_task(maintenance.run())]
        if args.exit_when_idle:
            tasks.append(asyncio.create_task(_stop_when_idle(queue, runner, args.exit_when_idle)))
        await tasks[0]
        maintenance.stop()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
        print(runner.processed)
    return 0


def _on_signals(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop)


async def _stop_when_idle(queue: JobQueue, runner: NoopDrainer, seconds: float) -> None:
    processed, idle_since = -1, asyncio.get_running_loop().time()
    while not runner.stopping:
        await asyncio.sleep(min(seconds, 0.2))
        now = asyncio.get_running_loop().time()
        if runner.processed != processed:
            processed, idle_since = runner.processed, now
        elif now - idle_since >= seconds:
            runner.stop()
