"""`photobot token issue USER_KEY [--admin]` and `photobot token revoke USER_KEY`.

Operators (and tests, and scripts) mint API tokens here without a chat; in a chat /token and
/logout do the same through the same SessionStore. The token is printed once, on standard output,
and is never logged; Redis keeps only its SHA-256.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from redis.exceptions import RedisError

from photobot.cli import CliError
from photobot.cli.argtypes import user_ref
from photobot.config import Settings
from photobot.jobs import Platform
from photobot.redis_client import not_configured
from photobot.sessions import InvalidSessionRequest, Scope, SessionStore
from photobot.users import UserStore


def register(sub: Any) -> None:
    token = sub.add_parser("token", help="issue or revoke API session tokens")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION")
    actions.required = True

    issue = actions.add_parser("issue", help="print a new token for a user")
    issue.add_argument("user_key", metavar="USER", type=user_ref(Platform.TELEGRAM),
                       help="the user: a Telegram id (2002), or tg:2002 / vk:2002")
    issue.add_argument("--admin", action="store_true", help="the token opens the admin API")
    issue.add_argument("--ttl", type=int, metavar="SECONDS", help="lifetime (default: TOKEN_TTL_SECONDS)")
    issue.add_argument("--json", action="store_true", help="print {token, user_key, scope, expires_at}")
    issue.set_defaults(handler=issue_token)

    revoke = actions.add_parser("revoke", help="revoke every token of a user, as /logout does")
    revoke.add_argument("user_key", metavar="USER", type=user_ref(Platform.TELEGRAM),
                        help="the user: a Telegram id (2002), or tg:2002 / vk:2002")
    revoke.set_defaults(handler=revoke_tokens)


def _store(settings: Settings) -> SessionStore:
    if settings.redis_url is None:
        raise CliError(not_configured(settings))
    return SessionStore.from_settings(settings)


async def issue_token(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    try:
        if args.admin:
            await _require_admin_now(store, settings, args.user_key)
        token = await store.issue(args.user_key, Scope.ADMIN if args.admin else Scope.USER, args.ttl)
        session = await store.verify(token)
    except InvalidSessionRequest as error:
        raise CliError(str(error)) from None
    except RedisError as error:
        raise CliError(f"Redis is unreachable: {error}") from None
    finally:
        await store.redis.aclose()
    assert session is not None
    if args.json:
        print(json.dumps({"token": token, "user_key": session.user_key, "scope": session.scope.value,
                          "expires_at": session.expires_at}))
    else:
        print(token)
    return 0


async def _require_admin_now(store: SessionStore, settings: Settings, user_key: str) -> None:
    """An admin token opens no more than its user may do now (photobot.web.auth): refuse to print
    one that would not work."""
    record = await UserStore(store.redis, settings).get(user_key)  # type: ignore[arg-type]
    if not record.is_admin:
        raise CliError(
            f"{user_key} is not an admin (ADMIN_IDS, VK_ADMIN_IDS or the admin tier), so an admin token "
            f"would open only their own jobs: `photobot tier {user_key} admin` first"
        )


async def revoke_tokens(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    try:
        print(await store.revoke_all(args.user_key))
    except RedisError as error:
        raise CliError(f"Redis is unreachable: {error}") from None
    finally:
        await store.redis.aclose()
    return 0
