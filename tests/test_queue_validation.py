"""Bad enqueue input gets a clear, typed, localized error and writes nothing to Redis.

Bad inputs covered: missing user_id / photo_id / operation, an unknown field, a wrong type
(chat_id "abc", priority "high", metadata a list), an unknown tier, oversized metadata and params,
metadata that is not JSON, an invalid job id, a job built without validation, max_attempts 0,
a bad batch (one bad job among good ones), and bad set_fields / save_progress values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis

from photobot.config import Settings
from photobot.jobs import Job
from photobot.locales import error_text
from photobot.queue import InvalidJob, JobNotFound, JobQueue
from tests.fixtures.redis_server import reply
from tests.queue_support import make_job, open_queue

GOOD = {"user_id": 1, "photo_id": "p", "operation": "blur"}


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    async with open_queue(make_settings(max_metadata_bytes=256)) as q:
        yield q


def db_size(queue: JobQueue) -> int:
    r = redis.Redis.from_url(queue.settings.redis_url or "")
    try:
        return int(reply(r.dbsize()))
    finally:
        r.close()


@pytest.mark.parametrize(
    ("task", "field"),
    [
        pytest.param({k: v for k, v in GOOD.items() if k != "user_id"}, "user_id", id="missing-user_id"),
        pytest.param({k: v for k, v in GOOD.items() if k != "photo_id"}, "photo_id", id="missing-photo"),
        pytest.param({**GOOD, "operation": ""}, "operation", id="empty-operation"),
        pytest.param({**GOOD, "colour": "red"}, "colour", id="unknown-field"),
        pytest.param({**GOOD, "chat_id": "abc"}, "chat_id", id="chat_id-not-a-number"),
        pytest.param({**GOOD, "priority": "high"}, "priority", id="priority-not-a-number"),
        pytest.param({**GOOD, "tier": "gold"}, "tier", id="unknown-tier"),
        pytest.param({**GOOD, "tier": 3}, "tier", id="tier-not-a-name"),
        pytest.param({**GOOD, "metadata": ["a"]}, "metadata", id="metadata-not-an-object"),
        pytest.param({**GOOD, "metadata": {"x": "y" * 300}}, "metadata", id="oversized-metadata"),
        pytest.param({**GOOD, "params": {"x": "y" * 300}}, "params", id="oversized-params"),
        pytest.param({**GOOD, "job_id": "has spaces"}, "job_id", id="bad-job-id"),
        pytest.param({**GOOD, "platform": "icq"}, "platform", id="unknown-platform"),
        pytest.param({**GOOD, "max_attempts": 0}, "max_attempts", id="zero-attempts"),
    ],
)
async def test_bad_task_is_refused_with_a_typed_error_and_nothing_written(
    queue: JobQueue, task: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidJob) as caught:
        await queue.enqueue_task(task)
    error = caught.value
    assert error.code == "invalid_job"
    assert field in str(error)
    assert error_text(error, "ru").startswith("Неверное задание")
    assert db_size(queue) == 0


async def test_task_that_is_not_a_dict(queue: JobQueue) -> None:
    with pytest.raises(InvalidJob):
        await queue.enqueue_task(["not", "a", "dict"])  # type: ignore[arg-type]
    assert db_size(queue) == 0


async def test_job_with_unknown_tier_or_unserialisable_metadata(queue: JobQueue) -> None:
    with pytest.raises(InvalidJob, match="tier"):
        await queue.enqueue(make_job("1", tier="platinum"))
    with pytest.raises(InvalidJob, match="metadata"):
        await queue.enqueue(make_job("1", metadata={"when": object()}))
    assert db_size(queue) == 0


async def test_job_built_without_validation_is_checked_again(queue: JobQueue) -> None:
    sneaky = Job.model_construct(**{**make_job("1").model_dump(), "user_id": ""})
    with pytest.raises(InvalidJob, match="user_id"):
        await queue.enqueue(sneaky)
    assert db_size(queue) == 0


async def test_one_bad_job_in_a_batch_writes_none_of_it(queue: JobQueue) -> None:
    with pytest.raises(InvalidJob):
        await queue.enqueue_many([make_job("1"), make_job("2", tier="nope"), make_job("3")])
    assert db_size(queue) == 0


async def test_bad_set_fields(queue: JobQueue) -> None:
    job = (await queue.enqueue(make_job("1"))).job
    before = await queue.get(job.job_id)
    with pytest.raises(InvalidJob, match="status"):
        await queue.set_fields(job.job_id, status="completed")
    with pytest.raises(InvalidJob):
        await queue.set_fields(job.job_id, status_message_id="not a number")
    with pytest.raises(InvalidJob, match="metadata"):
        await queue.set_fields(job.job_id, metadata={"x": "y" * 300})
    with pytest.raises(JobNotFound):
        await queue.set_fields("missing", language="ru")
    assert await queue.get(job.job_id) == before


async def test_bad_save_progress_changes_nothing(queue: JobQueue) -> None:
    await queue.enqueue(make_job("1"))
    lease = (await queue.lease("w"))[0]
    with pytest.raises(InvalidJob):
        await queue.save_progress(lease, metadata={"x": "y" * 300})
    with pytest.raises(InvalidJob):
        await queue.save_progress(lease, result_ids="not-a-list")  # type: ignore[arg-type]
    job = await queue.get(lease.job.job_id)
    assert job is not None and job.metadata == {} and job.result_ids == []


async def test_lookups_with_malformed_ids_find_nothing(queue: JobQueue) -> None:
    assert await queue.get("../../etc") is None
    assert await queue.position("x" * 100) is None
    with pytest.raises(JobNotFound):
        await queue.cancel("no such job")
