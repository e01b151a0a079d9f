"""Random interleavings of enqueue, lease, heartbeat, complete, fail, lease expiry, retry
promotion, cancel, requeue and release against a real redis-server.

After every step the Redis structures are read directly: every job is in exactly one state's
structure, the pending structures agree with each other, and the job ids by status equal what a
simple model of the lifecycle expects, so no job is ever lost or duplicated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
import redis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from photobot.config import Settings
from photobot.jobs import JobStatus, PermanentJobError, TransientJobError
from photobot.queue import (
    JobQueue,
    Lease,
    LeaseLost,
    NotCancellable,
    NotRequeueable,
    PendingCapReached,
)
from tests.queue_support import check_invariants, make_job

CAP = 4
MAX_ATTEMPTS = 3
ACTIVE = {"pending", "processing", "retrying"}


class QueueMachine(RuleBasedStateMachine):
    settings: ClassVar[Settings]

    def __init__(self) -> None:
        super().__init__()
        self.url = self.settings.redis_url or ""
        self.sync = redis.Redis.from_url(self.url, decode_responses=True)
        self.sync.flushall()
        self.loop = asyncio.new_event_loop()
        self.queue = JobQueue.from_settings(self.settings)
        self.status: dict[str, str] = {}
        self.user: dict[str, str] = {}
        self.attempts: dict[str, int] = {}
        self.token: dict[str, str] = {}
        self.leases: list[Lease] = []
        self.dedup: dict[str, str] = {}
        self.counter = 0  # job ids in enqueue order, so that a replayed example draws the same

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.queue.close())
        self.loop.close()
        self.sync.close()

    def holds(self, lease: Lease) -> bool:
        jid = lease.job.job_id
        return self.status[jid] == "processing" and self.token.get(jid) == lease.token

    def ids(self, *statuses: str) -> list[str]:
        return sorted(jid for jid, status in self.status.items() if status in statuses)

    def after_failure(self, jid: str, transient: bool) -> str:
        return "retrying" if transient and self.attempts[jid] < MAX_ATTEMPTS else "failed"

    # --- Rules -----------------------------------------------------------------------------------
    @rule(
        user=st.sampled_from(["a", "b", "c"]),
        tier=st.sampled_from(["free", "premium", "admin"]),
        dedup=st.none() | st.sampled_from(["k1", "k2", "k3"]),
    )
    def enqueue(self, user: str, tier: str, dedup: str | None) -> None:
        self.counter += 1
        job = make_job(user, tier, dedup_key=dedup, job_id=f"job{self.counter:04d}")
        if dedup in self.dedup:
            result = self.run(self.queue.enqueue(job))
            assert not result.created and result.job.job_id == self.dedup[dedup]
            return
        active = sum(1 for jid in self.ids(*ACTIVE) if self.user[jid] == user)
        if active >= CAP:
            with pytest.raises(PendingCapReached):
                self.run(self.queue.enqueue(job))
            return
        result = self.run(self.queue.enqueue(job))
        assert result.created
        jid = result.job.job_id
        self.status[jid], self.user[jid], self.attempts[jid] = "pending", user, 0
        if dedup is not None:
            self.dedup[dedup] = jid

    @rule(count=st.integers(1, 3))
    def lease(self, count: int) -> None:
        pending = self.ids("pending")
        leases = self.run(self.queue.lease("w", count))
        assert len(leases) == min(count, len(pending))
        for lease in leases:
            jid = lease.job.job_id
            assert self.status[jid] == "pending"
            self.status[jid] = "processing"
            self.attempts[jid] += 1
            assert lease.job.attempts == self.attempts[jid]
            self.token[jid] = lease.token
            self.leases.append(lease)

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        lease = data.draw(st.sampled_from(self.leases))
        assert self.run(self.queue.heartbeat([lease])) == [self.holds(lease)]

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        lease = data.draw(st.sampled_from(self.leases))
        if self.holds(lease):
            self.run(self.queue.complete(lease))
            self.status[lease.job.job_id] = "completed"
        else:
            with pytest.raises(LeaseLost):
                self.run(self.queue.complete(lease))

    @precondition(lambda self: self.leases)
    @rule(data=st.data(), transient=st.booleans())
    def fail(self, data: st.DataObject, transient: bool) -> None:
        lease = data.draw(st.sampled_from(self.leases))
        error = TransientJobError() if transient else PermanentJobError()
        if self.holds(lease):
            status = self.run(self.queue.fail(lease, error))
            expected = self.after_failure(lease.job.job_id, transient)
            assert status == JobStatus(expected)
            self.status[lease.job.job_id] = expected
        else:
            with pytest.raises(LeaseLost):
                self.run(self.queue.fail(lease, error))

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        lease = data.draw(st.sampled_from(self.leases))
        held = self.holds(lease)
        assert self.run(self.queue.release([lease])) == [held]
        if held:
            self.status[lease.job.job_id] = "pending"
            self.attempts[lease.job.job_id] -= 1

    @precondition(lambda self: self.ids("processing"))
    @rule(data=st.data())
    def lease_expires(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(self.ids("processing")))
        self.sync.zadd("{photobot}:processing", {jid: 1}, xx=True)
        assert self.run(self.queue.reap_expired()) == 1
        self.status[jid] = self.after_failure(jid, transient=True)

    @rule()
    def retries_come_due(self) -> None:
        retrying = self.ids("retrying")
        for jid in retrying:
            self.sync.zadd("{photobot}:retry", {jid: 1}, xx=True)
        assert self.run(self.queue.promote_due_retries()) == len(retrying)
        for jid in retrying:
            self.status[jid] = "pending"

    @precondition(lambda self: self.status)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(sorted(self.status)))
        if self.status[jid] in ("pending", "retrying"):
            assert self.run(self.queue.cancel(jid)).status == JobStatus.CANCELLED
            self.status[jid] = "cancelled"
        else:
            with pytest.raises(NotCancellable):
                self.run(self.queue.cancel(jid))

    @precondition(lambda self: self.status)
    @rule(data=st.data())
    def requeue(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(sorted(self.status)))
        if self.status[jid] == "failed":
            assert self.run(self.queue.requeue(jid)).attempts == 0
            self.status[jid], self.attempts[jid] = "pending", 0
        else:
            with pytest.raises(NotRequeueable):
                self.run(self.queue.requeue(jid))

    # --- Invariants ------------------------------------------------------------------------------
    @invariant()
    def every_job_in_exactly_one_state_and_none_lost(self) -> None:
        by_status = check_invariants(self.url)
        expected: dict[str, set[str]] = {}
        for jid, status in self.status.items():
            expected.setdefault(status, set()).add(jid)
        assert by_status == expected

    @invariant()
    def pending_counts_match_the_model(self) -> None:
        for user in ("a", "b", "c"):
            active = sum(1 for jid in self.ids(*ACTIVE) if self.user[jid] == user)
            assert self.run(self.queue.pending_count(f"cli:{user}")) == active


def test_random_interleavings_keep_every_job_in_exactly_one_state(
    make_settings: Callable[..., Settings],
) -> None:
    QueueMachine.settings = make_settings(
        max_pending_per_user=CAP,
        max_attempts=MAX_ATTEMPTS,
        retry_base_seconds=60,
        retry_max_seconds=60,
        lease_seconds=60,
    )
    run_state_machine_as_test(
        QueueMachine,
        settings=hsettings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
