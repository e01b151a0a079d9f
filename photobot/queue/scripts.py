"""The queue's Lua scripts, read from the .lua files beside this module when a queue is built.

Each script is `common.lua` followed by its own body, so the helpers that keep the invariants
(add_pending, finish, retry_or_fail) exist once. redis-py's Script object runs EVALSHA and loads
the script again after a server restart has emptied the script cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

LUA_DIR = Path(__file__).with_name("lua")
NAMES = (
    "enqueue", "lease", "heartbeat", "complete", "fail", "reap", "promote", "release",
    "update", "cancel", "requeue", "position", "stats", "history",
)


class Scripts:
    """Registered scripts by name; `await scripts.run("lease", prefix_key, *args)`."""

    def __init__(self, redis: Redis) -> None:
        common = (LUA_DIR / "common.lua").read_text(encoding="utf-8")
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(common + "\n" + (LUA_DIR / f"{name}.lua").read_text("utf-8"))
            for name in NAMES
        }

    def get(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def run(self, name: str, routing_key: str, args: list[Any], client: Any = None) -> Any:
        return await self._scripts[name](keys=[routing_key], args=args, client=client)
