"""Bearer-token authentication of the JSON API against the SessionStore, and the caller's
authority as it is now.

The middleware runs on the /api/v1 sub-application only (health, metrics and the Telegram webhook
have their own rules) and leaves the OpenAPI document open, since it holds nothing private.

A token carries no authority of its own: every request reads the user's record (ban, tier, ADMIN_IDS)
and the token opens at most what the user may do now. A banned user's tokens are revoked on first
use (the ban revokes them too); an admin-scope token of a user who is no longer an admin opens only
their own jobs. Operator tokens (`cli:` keys, issued by `photobot token issue`) belong to no chat
user and keep the scope they were issued with, unless banned.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web
from aiohttp.typedefs import Handler

from photobot.jobs import Platform
from photobot.sessions import Scope, Session, SessionStore
from photobot.web.deps import DEPS_KEY
from photobot.web.errors import ApiError

SESSION_KEY: web.AppKey[SessionStore] = web.AppKey("photobot_sessions", SessionStore)
CALLER: web.RequestKey[Session] = web.RequestKey("photobot_session", Session)
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="photobot"'}


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(
            401, "unauthorized", "Send Authorization: Bearer <token>; /token in a chat gives one.", _CHALLENGE
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "unauthorized", "Use the Bearer scheme: Authorization: Bearer <token>.", _CHALLENGE
        )
    return token.strip()


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.method == "OPTIONS":
        return await handler(request)
    token = bearer_token(request)
    session = await request.app[SESSION_KEY].verify(token)
    if session is None:
        raise ApiError(
            401, "invalid_token", "The token is unknown, expired or revoked; get a new one with /token.",
            {"WWW-Authenticate": 'Bearer realm="photobot", error="invalid_token"'},
        )
    request[CALLER] = await _authority_now(request, session)
    return await handler(request)


async def _authority_now(request: web.Request, session: Session) -> Session:
    """The session as the user's record allows it today: 403 for a banned user (whose tokens are
    revoked here as well), the user scope for an admin token whose user is no longer an admin."""
    users = request.app[DEPS_KEY].users
    record = await users.get(session.user_key)
    if record.banned:
        await request.app[SESSION_KEY].revoke_all(session.user_key)
        raise ApiError(403, "forbidden", "This account is banned.")
    operator = record.platform is Platform.CLI
    if session.is_admin and not (record.is_admin or operator):
        return dataclasses.replace(session, scope=Scope.USER)
    return session


def current_session(request: web.Request) -> Session:
    return request[CALLER]


def require_admin(request: web.Request) -> Session:
    session = current_session(request)
    if not session.is_admin:
        raise ApiError(403, "forbidden", "This needs an admin token.")
    return session
