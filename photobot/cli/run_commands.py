"""`run` (bot, workers, reaper and HTTP in one process) and `bot` (the chat side only).

The queue's `worker` command runs the other half through the same `photobot.app.run`.
"""

from __future__ import annotations

import argparse
from typing import Any

from photobot.config import Settings


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run", help="run everything: the bot, the workers, the reaper and the HTTP server"
    )
    run.add_argument(
        "--check-config", action="store_true",
        help="only check the configuration that `run` needs, then exit (0: it can start)",
    )
    run.set_defaults(handler=_run_all, logs_to_stderr=True, owns_redis=True)
    bot = subparsers.add_parser("bot", help="run the chat side only (no workers)")
    bot.set_defaults(handler=_run_bot, logs_to_stderr=True, owns_redis=True)


async def _run_all(args: argparse.Namespace, settings: Settings) -> int:
    if args.check_config:
        # A container orchestrator runs this once before `run`: a missing token then stops the
        # deployment with one line, instead of a restart loop of the long-running container.
        from photobot.startup import check_settings

        check_settings(settings, "all")
        return 0
    from photobot.app import run

    await run(settings, mode="all")
    return 0


async def _run_bot(args: argparse.Namespace, settings: Settings) -> int:
    from photobot.app import run

    await run(settings, mode="bot")
    return 0
