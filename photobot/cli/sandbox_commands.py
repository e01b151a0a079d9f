"""`sandbox`: photobot against its built-in Bot API stand-in, with a chat page in the browser."""

from __future__ import annotations

import argparse
from typing import Any

from photobot.cli.argtypes import whole_number
from photobot.config import Settings


def register(subparsers: Any) -> None:
    from photobot.sandbox.run import DEFAULT_PORT

    sandbox = subparsers.add_parser(
        "sandbox",
        help="try the bot without Telegram: a chat page at http://127.0.0.1:PORT/ (no token, no network)",
    )
    sandbox.add_argument("--port", type=whole_number(1, 65_535), default=DEFAULT_PORT, metavar="PORT",
                         help=f"port of the chat page on 127.0.0.1 (default {DEFAULT_PORT})")
    sandbox.set_defaults(handler=_sandbox, owns_redis=True)


async def _sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from photobot.sandbox.run import run_sandbox

    await run_sandbox(settings, port=args.port, log_level="DEBUG" if args.verbose else None)
    return 0
