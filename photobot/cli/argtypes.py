"""Argument types with bounds: every count, offset, id and duration the command line takes.

An unbounded number is an attack on the operator's own machine (`enqueue --count 100000000` built
every job in memory) or a traceback from deep inside (`jobs --offset 99999999999999999999` overflows
Redis's integers); a bounded type refuses it as one line, before anything runs.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from photobot.jobs import Platform, parse_user_ref

INT64 = 2**63 - 1  # Telegram's and VK's ids fit in a signed 64-bit integer, as do Redis's


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text[:40]}")
        return value

    return parse


def seconds(high: float) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds from 0 to `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text[:40]!r}") from None
        if not (math.isfinite(value) and 0 <= value <= high):
            raise argparse.ArgumentTypeError(f"must be between 0 and {high:g} seconds, got {text[:40]}")
        return value

    return parse


def user_ref(default: Platform) -> Callable[[str], str]:
    """An argparse type: a user as the chat's admin commands take one, `2002` (a user of `default`)
    or `tg:2002` / `vk:2002`; the value becomes the user key (tg:2002)."""

    def parse(text: str) -> str:
        key = parse_user_ref(text, default)
        if key is None:
            raise argparse.ArgumentTypeError(
                f"not a user: {text[:40]!r} (a {default.value} id such as 2002, or tg:2002 / vk:2002)"
            )
        return key

    return parse
