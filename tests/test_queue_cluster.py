"""The queue, the noop worker and session tokens on a three-master Redis Cluster (REDIS_CLUSTER=true):
every script, pipeline and the blocking wake-up run through the cluster client, every key lands in
the one slot of the `{photobot}` hash tag, and each job completes exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster as ClusterClient
from redis.crc import key_slot

from photobot.config import Settings
from photobot.jobs import Job, PermanentJobError, TransientJobError
from photobot.queue import JobQueue, Lease
from photobot.redis_client import is_cluster
from photobot.sessions import Scope, SessionStore
from tests.fixtures.redis_cluster import RedisCluster
from tests.queue_support import check_invariants, make_job

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("free", "premium", "admin")

pytestmark = pytest.mark.slow  # a three-master cluster of redis-servers and a worker process


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    started = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    yield started
    started.stop()


@pytest.fixture
def cluster_settings(cluster: RedisCluster, tmp_path: Path) -> Settings:
    client = ClusterClient.from_url(cluster.url)
    client.flushall(target_nodes=ClusterClient.PRIMARIES)
    client.close()
    return Settings(
        _env_file=None, redis_url=cluster.url, redis_cluster=True, data_dir=tmp_path / "data",
        log_file="none", max_pending_per_user=1000, retry_base_seconds=0.05, retry_max_seconds=0.1,
        max_attempts=3, lease_seconds=30,
    )


@pytest.fixture
async def queue(cluster_settings: Settings) -> AsyncIterator[JobQueue]:
    q = JobQueue.from_settings(cluster_settings)
    assert is_cluster(q.redis)
    yield q
    await q.close()


def keys_by_node(cluster: RedisCluster) -> dict[str, list[str]]:
    """Every key of every master, read from each node directly."""
    out = {}
    for node in cluster.nodes:
        client = redis.Redis.from_url(node.url, decode_responses=True)
        out[node.url] = list(client.scan_iter(count=1000))
        client.close()
    return out


def assert_one_slot(cluster: RedisCluster) -> str:
    """All keys live in the slot of `{photobot}` on one node; returns that node's URL."""
    found = {url: keys for url, keys in keys_by_node(cluster).items() if keys}
    assert len(found) == 1, f"keys on {len(found)} nodes"
    [(url, keys)] = found.items()
    assert {key_slot(key.encode()) for key in keys} == {key_slot(b"{photobot}")}
    assert all(key.startswith("{photobot}:") for key in keys)
    return url


async def test_lifecycle_of_300_jobs_on_a_cluster(queue: JobQueue, cluster: RedisCluster) -> None:
    jobs = [make_job(user=f"u{i % 7}", tier=TIERS[i % 3], message_id=i, chat_id=i % 7)
            for i in range(300)]
    jobs[0] = make_job(user="u0", tier="free", dedup_key="same")
    results = await queue.enqueue_many(jobs[:150])
    results += [await queue.enqueue(job) for job in jobs[150:]]
    assert all(result.created for result in results)
    again = await queue.enqueue(make_job(user="u9", dedup_key="same"))
    assert not again.created and again.job.job_id == jobs[0].job_id

    ids = [job.job_id for job in jobs]
    cancelled = set(ids[5::25])
    for job_id in cancelled:
        await queue.cancel(job_id)
    transient_once = set(ids[1::10]) - cancelled
    permanent = set(ids[3::30]) - cancelled

    completions: Counter[str] = Counter()
    failed_for_good: set[str] = set()
    held: list[Lease] = []
    idle_rounds = 0
    while idle_rounds < 200:
        flags, leased = await queue.complete_and_lease(held, "cluster-worker", 17)
        completions.update(lease.job.job_id for lease, done in zip(held, flags, strict=True) if done)
        assert all(flags)
        held = []
        for lease in leased:
            job_id = lease.job.job_id
            if job_id in permanent:
                await queue.fail(lease, PermanentJobError("bad image"))
                failed_for_good.add(job_id)
            elif job_id in transient_once and lease.job.attempts == 1:
                await queue.fail(lease, TransientJobError("network"))
            else:
                held.append(lease)
        if not leased:
            idle_rounds += 1
            await queue.promote_due_retries()
            if completions.total() == 300 - len(cancelled) - len(permanent):
                break
            await asyncio.sleep(0.01)  # an idle round: retries come due with time

    expected = set(ids) - cancelled - permanent
    assert set(completions) == expected
    assert set(completions.values()) == {1}
    assert failed_for_good == permanent
    stats = await queue.stats()
    assert stats.counts == {"pending": 0, "processing": 0, "retrying": 0, "completed": len(expected),
                            "failed": len(permanent), "cancelled": len(cancelled)}
    node_url = assert_one_slot(cluster)
    by_status = check_invariants(node_url)
    assert by_status["completed"] == expected


async def test_an_idle_wait_wakes_on_enqueue(queue: JobQueue) -> None:
    assert await queue.wait_for_work(0.05) is False
    waiter = asyncio.create_task(queue.wait_for_work(30))
    await asyncio.sleep(0.1)  # time for a wrong wake-up to show: nothing was enqueued yet
    assert not waiter.done()
    await queue.enqueue(make_job())
    assert await asyncio.wait_for(waiter, 30) is True
    leases = await queue.lease("w", 5, timeout=1)
    assert len(leases) == 1


def test_noop_worker_process_drains_a_cluster(
    cluster: RedisCluster, cluster_settings: Settings, tmp_path: Path
) -> None:
    jobs = [make_job(user=f"u{i % 13}", tier=TIERS[i % 3]) for i in range(1500)]
    asyncio.run(_enqueue_fresh(cluster_settings, jobs))
    env = {"REDIS_URL": cluster.url, "REDIS_CLUSTER": "true", "LOG_FILE": "none",
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    drained = subprocess.run(
        [sys.executable, "-m", "photobot", "worker", "--noop", "--batch", "100", "--exit-when-idle", "0.5"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert drained.returncode == 0, drained.stderr
    assert drained.stdout.strip() == "1500"
    node_url = assert_one_slot(cluster)
    assert check_invariants(node_url).keys() == {"completed"}


async def _enqueue_fresh(settings: Settings, jobs: list[Job]) -> None:
    q = JobQueue.from_settings(settings)
    try:
        await q.enqueue_many(jobs)
    finally:
        await q.close()


async def test_sessions_on_a_cluster(cluster_settings: Settings, cluster: RedisCluster) -> None:
    store = SessionStore.from_settings(cluster_settings)
    assert is_cluster(store.redis)
    try:
        first = await store.issue("tg:1", Scope.ADMIN)
        second = await store.issue("tg:1")
        other = await store.issue("tg:2")
        session = await store.verify(first)
        assert session is not None and session.is_admin
        assert await store.count("tg:1") == 2
        assert await store.revoke(first) is True
        assert await store.verify(first) is None
        assert await store.revoke_all("tg:1") == 1
        assert await store.verify(second) is None
        assert await store.verify(other) is not None
        assert_one_slot(cluster)
    finally:
        await store.redis.aclose()
