"""`photobot ban|unban USER_KEY` and `photobot tier USER_KEY TIER`: the operator's way back.

A chat admin can be locked out (banned by another admin-tier user before ADMIN_IDS admins were
protected, or an admin-tier account taken over); the command line reaches the user store directly,
through the same UserStore as the chats, so a ban or a demotion revokes the user's API tokens here
too. An ADMIN_IDS admin is neither banned nor demoted here either: take them out of ADMIN_IDS first.
"""

from __future__ import annotations

import argparse
from typing import Any

from redis.exceptions import RedisError

from photobot.cli import CliError
from photobot.cli.argtypes import user_ref
from photobot.config import Settings
from photobot.jobs import Platform
from photobot.redis_client import RedisNotConfigured, connect
from photobot.sessions import SessionStore
from photobot.users import ProtectedAdmin, UnknownTier, UserStore

USER_HELP = "the user: a Telegram id (2002), or tg:2002 / vk:2002"


def register(sub: Any) -> None:
    for name, text in (("ban", "ban a user (their updates are ignored, their API tokens revoked)"),
                       ("unban", "lift a user's ban")):
        p = sub.add_parser(name, help=text)
        p.add_argument("user_key", metavar="USER", type=user_ref(Platform.TELEGRAM), help=USER_HELP)
        p.set_defaults(handler=change_user)
    p = sub.add_parser("tier", help="set a user's tier (losing admin revokes their API tokens)")
    p.add_argument("user_key", metavar="USER", type=user_ref(Platform.TELEGRAM), help=USER_HELP)
    p.add_argument("tier", metavar="TIER", help="one of TIERS (e.g. free, premium, admin)")
    p.set_defaults(handler=change_user)


async def change_user(args: argparse.Namespace, settings: Settings) -> int:
    try:
        redis = connect(settings)
    except RedisNotConfigured as error:
        raise CliError(str(error)) from None
    sessions = SessionStore(redis, settings.key_prefix, settings.token_ttl_seconds)
    users = UserStore(redis, settings, sessions)  # type: ignore[arg-type]
    key = args.user_key
    try:
        UserStore.parse_key(key)
        if args.command == "ban":
            await users.ban(key)
        elif args.command == "unban":
            await users.unban(key)
        else:
            await users.set_tier(key, args.tier)
        record = await users.get(key)
    except ValueError as error:
        raise CliError(_refusal(error, key, settings)) from None
    except RedisError as error:
        raise CliError(f"Redis is unreachable: {type(error).__name__}") from None
    finally:
        await redis.aclose()
    print(f"{record.key} tier={record.tier} banned={'yes' if record.banned else 'no'}")
    return 0


def _refusal(error: ValueError, key: str, settings: Settings) -> str:
    if isinstance(error, ProtectedAdmin):
        return f"{key} is an admin in ADMIN_IDS / VK_ADMIN_IDS: remove them there first"
    if isinstance(error, UnknownTier):
        return f"unknown tier {str(error)[:32]!r}; tiers: {', '.join(settings.tiers)}"
    return f"not a user key (expected e.g. tg:123 or vk:456): {key[:64]!r}"
