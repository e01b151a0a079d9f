"""Scale-out on a three-master Redis Cluster (redis-server --cluster-enabled, redis-cli --cluster
create): one `python -m photobot bot` takes the photos, two `python -m photobot worker` processes
do the jobs (REDIS_CLUSTER=true everywhere; storage is one local folder all three share, as a
volume would be). Every job is done once: one visible result per photo, one "result delivered" per
job across the two workers' logs, and both workers took a share.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.support import Load, Photobot, base_env, percentile, wait_all_answered, wait_polling
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_cluster import RedisCluster
from tests.waiting import wait_until

PHOTOS = 120
USERS = 20

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    started = RedisCluster(tmp_path / "cluster").start()
    yield started
    started.stop()


def delivered(log: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if '"result delivered"' in line:
            counts[json.loads(line)["job_id"]] += 1
    return counts


def wait_started(worker: Photobot, timeout: float = 60.0) -> None:
    log = Path(worker.env["LOG_FILE"])

    def started() -> bool:
        assert worker.running, worker.tail()
        return log.exists() and '"worker started"' in log.read_text(errors="replace")

    wait_until(started, timeout, lambda: f"the worker to start:\n{worker.tail()}", step=0.2)


def test_two_workers_and_a_bot_on_a_cluster(tg: FakeTelegram, cluster: RedisCluster, tmp_path: Path) -> None:
    shared = {
        "REDIS_CLUSTER": "true", "STORAGE_DIR": str(tmp_path / "shared-storage"),
        "TG_GLOBAL_RATE": "300", "TG_CHAT_RATE": "30", "TG_CHAT_BURST": "10",
        "FLOOD_LIMIT": "10000", "MAX_PENDING_PER_USER": "200",
    }
    parts = [
        Photobot(base_env(tg, cluster.url, tmp_path / name, **shared), tmp_path / name, mode, name)
        for name, mode in (("bot", "bot"), ("worker1", "worker"), ("worker2", "worker"))
    ]
    bot, workers = parts[0], parts[1:]
    began = time.monotonic()
    try:
        for part in parts:
            part.start()
        for worker in workers:
            wait_started(worker)
        wait_polling(bot)
        load = Load(tg, [60_000 + i for i in range(USERS)], PHOTOS, rate=PHOTOS / 10.0, seed=31).start()
        load.join(60)
        result = wait_all_answered(tg, load.sent, timeout=120)
    finally:
        codes = [part.stop() for part in parts]
        for part in parts:
            part.clean_up()
    shares = [delivered(Path(worker.env["LOG_FILE"])) for worker in workers]
    per_job = shares[0] + shares[1]
    print()
    print(result.line(
        "cluster-scale-out", time.monotonic() - began, masters=len(cluster.nodes), workers=len(workers),
        worker_shares="/".join(str(sum(share.values())) for share in shares),
        jobs_delivered_twice=sum(1 for count in per_job.values() if count > 1),
        p50_s=round(percentile(result.latencies, 0.5), 2), p99_s=round(percentile(result.latencies, 0.99), 2),
    ))
    assert not result.lost, f"lost: {[(p.user_id, p.message_id) for p in result.lost][:10]}\n{bot.tail()}"
    assert not result.duplicated, f"duplicated: {[(p.user_id, p.message_id) for p in result.duplicated]}"
    assert len(per_job) == PHOTOS and set(per_job.values()) == {1}, per_job.most_common(3)
    assert all(share for share in shares), "one worker did all the work"
    assert codes == [0, 0, 0], [part.tail() for part in parts]
