"""Bearer-token authentication of the JSON API against the SessionStore.

The middleware runs on the /api/v1 sub-application only (health, metrics and the Telegram webhook
have their own rules) and leaves the OpenAPI document open, since it holds nothing private.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from photobot.sessions import Session, SessionStore
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
    request[CALLER] = session
    return await handler(request)


def current_session(request: web.Request) -> Session:
    return request[CALLER]


def require_admin(request: web.Request) -> Session:
    session = current_session(request)
    if not session.is_admin:
        raise ApiError(403, "forbidden", "This needs an admin token.")
    return session
