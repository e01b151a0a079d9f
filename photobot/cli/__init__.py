"""The command line: `python -m photobot COMMAND ...`.

Each module in COMMAND_MODULES adds its sub-commands through `register(subparsers)`; a sub-command
sets `handler=` to a function `(args, settings) -> int`, sync or async. Errors the user can fix are
one line on stderr and exit code 2, never a traceback; standard output carries only the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from photobot.config import Settings, SettingsError, load_settings
from photobot.embedded_redis import running_url
from photobot.logs import configure_logging

COMMAND_MODULES: tuple[str, ...] = (
    "photobot.cli.queue_commands",
    "photobot.cli.processing_commands",
    "photobot.cli.storage_commands",
    "photobot.cli.web_commands",
    "photobot.cli.user_commands",
    "photobot.cli.run_commands",
    "photobot.cli.sandbox_commands",
)

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix: printed as one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="photobot", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--verbose", "-v", action="store_true", help="also log to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue  # a part that is not installed in this build offers no commands
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if settings.redis_url is None and not getattr(args, "owns_redis", False):
            settings = with_running_redis(settings)
        logs_to_stderr = bool(args.verbose or getattr(args, "logs_to_stderr", False))
        configure_logging(
            settings.log_level, settings.log_format, settings.resolved_log_file, to_stderr=logs_to_stderr
        )
        result: Any = args.handler(args, settings)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return int(result or 0)
    except (CliError, SettingsError) as error:
        print(f"photobot: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def _await(awaitable: Any) -> Any:
    return await awaitable


def with_running_redis(settings: Settings) -> Settings:
    """REDIS_URL unset: the embedded Redis that a photobot runs for DATA_DIR, if one answers, so
    `photobot stats` beside `make run` sees its queue. Commands that start photobot (owns_redis)
    keep their own embedded Redis and its one-photobot-per-DATA_DIR lock."""
    url = running_url(settings.data_dir)
    return settings if url is None else settings.model_copy(update={"redis_url": url})


def settings_for(args: argparse.Namespace) -> Settings:
    """Settings as loaded by main(); kept for handlers that are called directly in tests."""
    return load_settings()
