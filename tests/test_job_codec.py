"""The one Job <-> Redis hash codec (photobot/queue/codec.py): every job survives the round trip,
whichever way it is read back, and each empty value has one meaning.

Empty values tried: None in every optional field, '' in the text fields (language, tier), '' as the
Lua scripts write it to clear an optional field or the error, 'null' as an error, {} and [] in the
JSON fields, a missing field, '' where no empty value is valid (attempts), an empty dedup key, and
the hash's extra fields of the queue's own (lease_token).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from photobot.config import Settings
from photobot.jobs import Job, JobErrorInfo, JobStatus, Platform
from photobot.locales import error_text
from photobot.queue import JobQueue
from photobot.queue.codec import encode_fields, job_from_flat, job_from_hash, job_to_hash
from tests.queue_support import make_job, open_queue

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
ID = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
INTS = st.none() | st.integers(-(2**53), 2**53)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
JOBS = st.builds(
    Job,
    job_id=ID,
    platform=st.sampled_from(Platform),
    chat_id=INTS,
    message_id=INTS,
    status_message_id=INTS,
    user_id=ID,
    language=TEXT,
    tier=TEXT,
    priority=st.integers(-100, 100),
    operation=ID,
    params=st.dictionaries(TEXT, JSON, max_size=3),
    photo_id=ID,
    result_ids=st.lists(TEXT, max_size=3),
    status=st.sampled_from(JobStatus),
    attempts=st.integers(0, 10),
    max_attempts=st.integers(0, 10),
    next_retry_at=INTS,
    error=st.none() | st.builds(JobErrorInfo, code=TEXT, params=st.dictionaries(TEXT, JSON, max_size=3),
                                message=st.none() | TEXT),
    created_at=st.integers(0, 2**53),
    enqueued_at=INTS,
    started_at=INTS,
    finished_at=INTS,
    delivered=st.booleans(),
    dedup_key=st.none() | TEXT,
    metadata=st.dictionaries(TEXT, JSON, max_size=3),
)


def flat(fields: dict[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]


@settings(max_examples=300, deadline=None)
@given(JOBS)
def test_every_job_round_trips_however_it_is_read(job: Job) -> None:
    stored = job_to_hash(job)
    assert all(isinstance(text, str) for text in stored.values())
    assert job_from_flat([*flat(stored), "lease_token", "t"]) == job
    assert job_from_hash({k.encode(): v.encode() for k, v in stored.items()}) == job
    # An update writes every field, a None as '', over whatever the hash held.
    everything = encode_fields(job, Job.model_fields)
    assert set(everything) == set(Job.model_fields)
    assert job_from_hash({**stored, **everything}) == job


def test_a_new_jobs_hash_leaves_out_what_is_empty_and_keeps_empty_text() -> None:
    job = make_job("8", language="", tier="", dedup_key=None)
    stored = job_to_hash(job)
    assert not {"chat_id", "params", "result_ids", "error", "metadata", "dedup_key"} & set(stored)
    assert stored["language"] == "" and stored["tier"] == "" and stored["delivered"] == "0"
    assert job_from_hash(stored) == job


@pytest.mark.parametrize("cleared", ["", "null"])
def test_what_the_scripts_write_to_clear_a_field_reads_as_none(cleared: str) -> None:
    job = make_job("9", chat_id=5, next_retry_at=7, error=JobErrorInfo(code="x", message="y"))
    stored = {**job_to_hash(job), "next_retry_at": "", "chat_id": "", "error": cleared}
    decoded = job_from_flat(flat(stored))
    assert (decoded.chat_id, decoded.next_retry_at, decoded.error) == (None, None, None)


def test_empty_json_fields_read_back_as_their_defaults() -> None:
    stored = {**job_to_hash(make_job("1")), "params": "{}", "metadata": "", "result_ids": "[]"}
    decoded = job_from_hash(stored)
    assert (decoded.params, decoded.metadata, decoded.result_ids) == ({}, {}, [])


def test_an_empty_value_where_none_is_valid_is_refused() -> None:
    with pytest.raises(ValidationError):
        job_from_hash({**job_to_hash(make_job("1")), "attempts": ""})


def test_an_empty_dedup_key_is_no_key() -> None:
    assert make_job("1", dedup_key="").dedup_key is None


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    async with open_queue(make_settings()) as q:
        yield q


async def test_empty_fields_through_the_queue_and_its_scripts(queue: JobQueue) -> None:
    """Enqueue (the Lua script stores the hash), an update that sets and then clears a field, and
    the two ways back (a script's flat reply, HGETALL) agree."""
    job = make_job("5", platform=Platform.TELEGRAM, chat_id=5, metadata={})
    queued = (await queue.enqueue(job)).job
    await queue.set_fields(job.job_id, status_message_id=12, metadata={"k": []})
    updated = await queue.set_fields(job.job_id, status_message_id=None, metadata={})
    fetched = await queue.get(job.job_id)
    assert fetched == updated
    assert (updated.status_message_id, updated.metadata, updated.error) == (None, {}, None)
    expected: dict[str, Any] = queued.model_dump()
    assert updated.model_dump() == expected


async def test_a_job_stored_by_an_older_photobot_still_shows_its_error(queue: JobQueue) -> None:
    """Older versions stored the error's text in the job's language instead of its parameters; such
    a job reads back and shows that text, and a code this version no longer knows shows the
    generic message rather than nothing."""
    old = make_job("6", language="ru")
    await queue.enqueue(old)
    stored = '{"code":"lease_expired","message":"Обработчик перестал отвечать; задание будет повторено."}'
    await queue.redis.hset(queue.keys.job(old.job_id), "error", stored)  # type: ignore[misc]
    fetched = await queue.get(old.job_id)
    assert fetched is not None and fetched.error is not None and fetched.error.params == {}
    assert error_text(fetched.error, "ru") == "Обработчик перестал отвечать; задание будет повторено."
    assert error_text(fetched.error, "en") == fetched.error.message  # its one language, as stored
    gone = JobErrorInfo(code="no_longer_a_code", params={"x": 1})
    assert error_text(gone, "en") == error_text(JobErrorInfo(code="internal"), "en")
