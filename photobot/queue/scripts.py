"""The queue's Lua scripts, read from the .lua files beside this module when a queue is built.

Each script is `common.lua` followed by its own body, so the helpers that keep the invariants
(add_pending, finish, retry_or_fail) exist once. A call on its own goes through redis-py's Script
object, which runs EVALSHA and loads the script again after a server restart emptied the cache.

In a pipeline the scripts are sent as raw EVALSHA commands, which works the same on a plain and on
a cluster pipeline (the cluster pipeline refuses its `evalsha` method, and the plain one would
send SCRIPT EXISTS before every batch). A call that comes back NOSCRIPT never ran, so it is run
again on its own, which loads the script.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from photobot.redis_client import RedisClient

LUA_DIR = Path(__file__).with_name("lua")
NAMES = (
    "enqueue", "lease", "heartbeat", "complete", "fail", "reap", "promote", "release",
    "update", "cancel", "requeue", "position", "stats", "history",
)


@dataclass(frozen=True)
class PipedCall:
    """A script call queued in a pipeline, kept to run it again alone if it came back NOSCRIPT."""

    name: str
    routing_key: str
    args: list[Any]


class Scripts:
    """Registered scripts by name; `await scripts.run("lease", prefix_key, args)`."""

    def __init__(self, redis: RedisClient) -> None:
        common = (LUA_DIR / "common.lua").read_text(encoding="utf-8")
        self._scripts: dict[str, AsyncScript] = {
            name: AsyncScript(redis, common + "\n" + (LUA_DIR / f"{name}.lua").read_text("utf-8"))  # type: ignore[arg-type]
            for name in NAMES
        }

    def get(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def run(self, name: str, routing_key: str, args: list[Any]) -> Any:
        return await self._scripts[name](keys=[routing_key], args=args)

    def pipe(self, pipe: Any, name: str, routing_key: str, args: list[Any]) -> PipedCall:
        """Queue a call in `pipe` (a plain or cluster pipeline); pass the result to execute()."""
        pipe.execute_command("EVALSHA", self._scripts[name].sha, 1, routing_key, *args)
        return PipedCall(name, routing_key, args)

    async def execute(self, pipe: Any, calls: list[PipedCall]) -> list[Any]:
        """Execute `pipe`, whose commands are exactly `calls`; replies in order. A call refused
        with NOSCRIPT is run again alone; any other error is raised after every call has run."""
        replies = list(await pipe.execute(raise_on_error=False))
        for i, (call, reply) in enumerate(zip(calls, replies, strict=True)):
            if isinstance(reply, NoScriptError):
                replies[i] = await self.run(call.name, call.routing_key, call.args)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies
