"""The one place that turns Settings into a Redis client: a plain client, or a cluster client when
REDIS_CLUSTER is true.

Every photobot key carries the `{prefix}` hash tag, so on a cluster all of them live in one slot:
each Lua script and each pipeline goes to a single node, and BLPOP on the wake list is routed like
any other single-key command. The rest of photobot therefore uses one interface for both.
"""

from __future__ import annotations

from typing import Any, TypeAlias, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from photobot.config import Settings

RedisClient: TypeAlias = Redis | RedisCluster


class RedisNotConfigured(RuntimeError):
    """REDIS_URL is not set."""


def not_configured(settings: Settings) -> str:
    """Why there is no Redis to talk to, in one line: the command-line tools use the embedded Redis
    of DATA_DIR when a photobot runs one (photobot.cli), so reaching here means none does."""
    return (f"REDIS_URL is not set and no photobot is running in DATA_DIR {settings.data_dir.absolute()}: "
            "start one there (photobot run), or set REDIS_URL")


def connect(settings: Settings, *, decode_responses: bool = True) -> RedisClient:
    """A client for settings.redis_url: RedisCluster when settings.redis_cluster, else Redis.

    The URL of a cluster names any one node; the client discovers the others (CLUSTER SLOTS) and
    follows MOVED/ASK redirections by itself.
    """
    if settings.redis_url is None:
        raise RedisNotConfigured(not_configured(settings))
    options: dict[str, Any] = {"decode_responses": decode_responses, "socket_connect_timeout": 5}
    if not settings.redis_url.startswith("unix://"):
        options["socket_keepalive"] = True  # a TCP option; the embedded Redis listens on a socket file
    if settings.redis_cluster:
        return cast(RedisCluster, RedisCluster.from_url(settings.redis_url, **options))
    return cast(Redis, Redis.from_url(settings.redis_url, health_check_interval=30, **options))


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)
