"""The Job model round-trips through its Redis hash; job errors carry localized safe messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from photobot.jobs import Job, JobErrorInfo, JobStatus, PermanentJobError, Platform, user_key
from photobot.locales import error_text
from photobot.queue.codec import job_from_hash, job_to_hash


def test_round_trip_through_redis_hash() -> None:
    job = Job(
        platform=Platform.TELEGRAM,
        chat_id=-100123,
        user_id=42,
        operation="sepia",
        photo_id="p1",
        params={"radius": 2.5},
        result_ids=["r1"],
        error=JobErrorInfo(code="x", message="y"),
        metadata={"name": "кот.jpg"},
        delivered=True,
        status=JobStatus.RETRYING,
        next_retry_at=5,
    )
    raw = job_to_hash(job)
    assert all(isinstance(v, str) for v in raw.values())
    assert job_from_hash({k.encode(): v.encode() for k, v in raw.items()}) == job


def test_users_are_keyed_per_platform() -> None:
    assert user_key("telegram", 123) != user_key("vk", 123)
    assert Job(platform="vk", user_id="7", operation="o", photo_id="p").user_key == "vk:7"


@pytest.mark.parametrize("bad", [{"user_id": ""}, {"operation": ""}, {"photo_id": ""}, {"job_id": "../x"}])
def test_bad_fields_are_refused(bad: dict[str, str]) -> None:
    fields = {"user_id": "1", "operation": "sepia", "photo_id": "p", **bad}
    with pytest.raises(ValidationError):
        Job(**fields)


def test_errors_carry_a_code_and_params_rendered_where_shown() -> None:
    class TooBig(PermanentJobError):
        code = "too_large"

    error = TooBig("40000 x 30000 px", what="30 MP", limit="25 MP")
    assert error_text(error, "ru") == "Изображение слишком большое (30 MP); предел — 25 MP."
    assert error_text(error, "de") == "The image is too large (30 MP); the limit is 25 MP."
    assert error.info() == JobErrorInfo(code="too_large", params={"what": "30 MP", "limit": "25 MP"})
    assert "40000" in str(error) and "40000" not in error_text(error, "en")
    assert not error.transient
