"""The one codec between a Job and its Redis hash, used by the enqueue, every read and every update.

A hash field is text, so "no value" needs one spelling, shared with the Lua scripts (which clear a
field by writing ''):

- an optional field (chat_id, error, dedup_key, ...) that is None is left out of a new job's hash
  and written as '' by an update; reading, a missing field and '' are both None;
- a text field (language, tier, ...) keeps '': there it is a value, not "none";
- params, metadata and result_ids are JSON; {} and [] are left out of a new job's hash and read
  back as those defaults; error is a JSON object or nothing ('', 'null' or missing);
- delivered is '1' or '0'.

A worker decodes every job it leases, so the field names are classified once, and {} and [] skip
the JSON parser.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from photobot.jobs import Job

_EMPTY_JSON = ("{}", "[]")


@dataclass(frozen=True)
class _Fields:
    names: frozenset[str]
    json: frozenset[str]
    text: frozenset[str]  # plain str: '' is a value of theirs


@functools.cache
def _fields() -> _Fields:
    text = {name for name, info in Job.model_fields.items() if info.annotation is str}
    return _Fields(frozenset(Job.model_fields), frozenset(Job.JSON_FIELDS), frozenset(text))


def job_to_hash(job: Job) -> dict[str, str]:
    """A new job's hash: the fields that carry a value (a smaller hash is cheaper to write at the
    enqueue and to read at every lease, on both sides of the socket)."""
    fields = _fields()
    return {
        name: text for name, text in _encode(job.model_dump(mode="json"))
        if (text != "" or name in fields.text) and (text not in _EMPTY_JSON or name not in fields.json)
    }


def encode_fields(job: Job, names: Iterable[str]) -> dict[str, str]:
    """The named fields of `job` as an update writes them: a None as '', which clears the field."""
    return dict(_encode(job.model_dump(mode="json", include=set(names))))


def _encode(dump: dict[str, Any]) -> Iterable[tuple[str, str]]:
    json_names = _fields().json
    for name, value in dump.items():
        if value is None:
            yield name, ""
        elif name in json_names:
            yield name, json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif value is True:
            yield name, "1"
        elif value is False:
            yield name, "0"
        else:
            yield name, str(value)


def job_from_flat(flat: Sequence[str]) -> Job:
    """A Job from a flat [field, value, ...] reply, as the Lua scripts return a hash."""
    return _decode(zip(flat[::2], flat[1::2], strict=True))


def job_from_hash(raw: Mapping[str, str] | Mapping[bytes, bytes]) -> Job:
    """A Job from an HGETALL reply, of a client with or without decode_responses."""
    return _decode((_text(key), _text(value)) for key, value in raw.items())


def _text(part: str | bytes) -> str:
    return part.decode() if isinstance(part, bytes) else part


def _decode(pairs: Iterable[tuple[str, str]]) -> Job:
    fields = _fields()
    data: dict[str, Any] = {}
    for name, text in pairs:
        if name not in fields.names:
            continue  # the queue's own fields: lease_token, lease_worker
        if name in fields.json:
            if text not in ("", "null"):
                data[name] = _json(text)
        elif text == "":
            # '' is a text field's value; anywhere else it is "none" (invalid where None is).
            data[name] = "" if name in fields.text else None
        elif name == "delivered":
            data[name] = text == "1"
        else:
            data[name] = text
    return Job.model_validate(data)


def _json(text: str) -> Any:
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)
