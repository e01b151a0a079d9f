"""The value types of photobot.config's Settings: how a setting's text becomes a value, and which
values are refused (with the one-line reason the operator reads).

Kept apart from the Settings class so that the class reads as the list of knobs it documents. Like
photobot.config, this module imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

UNLIMITED_WORDS = frozenset({"unlimited", "none", "inf", "-1"})


def split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def parse_tiers(value: str | dict[str, int]) -> dict[str, int]:
    """Parse `free=0,premium=10,admin=20` into an ordered name -> priority mapping."""
    if isinstance(value, dict):
        pairs = dict(value)
    else:
        pairs = {}
        for raw_item in value.split(","):
            item = raw_item.strip()
            if not item:
                continue
            name, sep, number = item.partition("=")
            name = name.strip().lower()
            if not sep or not name or not name.replace("_", "").isalnum():
                raise ValueError(f"expected name=priority pairs, got {item!r}")
            try:
                pairs[name] = int(number)
            except ValueError:
                raise ValueError(f"priority of tier {name!r} is not an integer: {number!r}") from None
    if not pairs:
        raise ValueError("at least one tier is required")
    if len(set(pairs.values())) != len(pairs):
        raise ValueError("each tier needs its own priority")
    return dict(sorted(pairs.items(), key=lambda kv: kv[1]))


def parse_quotas(value: str | dict[str, int | None]) -> dict[str, int | None]:
    """Parse `free=30,premium=500,admin=unlimited` into tier -> photos per day (None: no limit)."""
    if isinstance(value, dict):
        return {str(name).lower(): (None if n is None or n < 0 else int(n)) for name, n in value.items()}
    quotas: dict[str, int | None] = {}
    for raw_item in value.split(","):
        item = raw_item.strip()
        if not item:
            continue
        name, sep, number = item.partition("=")
        name, number = name.strip().lower(), number.strip().lower()
        if not sep or not name:
            raise ValueError(f"expected tier=photos_per_day pairs, got {item!r}")
        if number in UNLIMITED_WORDS:
            quotas[name] = None
            continue
        try:
            quotas[name] = int(number)
        except ValueError:
            raise ValueError(f"quota of tier {name!r} is not a number or 'unlimited': {number!r}") from None
        if quotas[name] is not None and quotas[name] < 0:  # type: ignore[operator]
            raise ValueError(f"quota of tier {name!r} is negative")
    return quotas


def _when_text_or_mapping(parse: Callable[[Any], object]) -> BeforeValidator:
    def before(value: object) -> object:
        return parse(value) if isinstance(value, str | dict) else value

    return BeforeValidator(before)


def _empty_is_unset(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _check_prefix(value: str) -> str:
    if not value or any(ch in value for ch in "{}: \t\n"):
        raise ValueError("use letters, digits, '-' or '_' (no braces, colons or spaces)")
    return value


def _check_redis_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return value


def _check_public_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
        raise ValueError("must be an http:// or https:// URL, e.g. https://bot.example.com")
    return value


def _check_chunk(value: int) -> int:
    if value % (256 * 1024):
        raise ValueError("must be a multiple of 262144 (256 KiB)")
    return value


# An empty value (`WEBHOOK_URL=` in .env) is the same as no value.
OptionalText = Annotated[str | None, BeforeValidator(_empty_is_unset)]
OptionalPath = Annotated[Path | None, BeforeValidator(_empty_is_unset)]
RedisUrl = Annotated[str | None, BeforeValidator(_empty_is_unset), AfterValidator(_check_redis_url)]
PublicUrl = Annotated[str | None, BeforeValidator(_empty_is_unset), AfterValidator(_check_public_url)]
KeyPrefix = Annotated[str, AfterValidator(_check_prefix)]
ChunkBytes = Annotated[int, AfterValidator(_check_chunk)]
# Lists and mappings are written as comma-separated text, not JSON (NoDecode).
Tiers = Annotated[dict[str, int], NoDecode, _when_text_or_mapping(parse_tiers)]
TierQuotas = Annotated[dict[str, int | None], NoDecode, _when_text_or_mapping(parse_quotas)]
IdList = Annotated[list[int], NoDecode, BeforeValidator(split_csv)]
