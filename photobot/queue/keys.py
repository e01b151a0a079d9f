"""Key names. Every key starts with `{prefix}` (a Redis Cluster hash tag) so all share one slot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str  # e.g. "{photobot}"

    @property
    def tiers(self) -> str:
        """The key every script is routed by (KEYS[1])."""
        return f"{self.prefix}:tiers"

    @property
    def wake(self) -> str:
        return f"{self.prefix}:wake"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def dedup(self, dedup_key: str) -> str:
        return f"{self.prefix}:dedup:{dedup_key}"

    def active(self, user_key: str) -> str:
        return f"{self.prefix}:user:{user_key}:active"

    def history(self, user_key: str) -> str:
        return f"{self.prefix}:user:{user_key}:jobs"
