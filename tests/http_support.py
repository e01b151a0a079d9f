"""Helpers of the end-to-end tests of a running process's HTTP side: plain HTTP calls with a time cap,
a Prometheus scrape read with prometheus_client's own parser, and the token out of /token's answer."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from photobot.sessions import TOKEN_SHAPE
from tests.waiting import wait_until

TOKEN_IN_TEXT = re.compile(r"Bearer ([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base: str,
    path: str,
    *,
    method: str = "GET",
    token: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One HTTP request; any status (4xx and 5xx included) comes back as an Answer."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=body, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), dict(error.headers))


def wait_http(base: str, path: str, status: int = 200, timeout: float = 30.0) -> Answer:
    """Ask until the answer has `status` (the server may still be starting, workers may not have
    sent their first heartbeat yet)."""
    last: Answer | str = "no answer"

    def answered() -> Answer | None:
        nonlocal last
        try:
            last = call(base, path, timeout=5)
        except OSError as error:
            last = repr(error)
            return None
        return last if last.status == status else None

    return wait_until(answered, timeout, lambda: f"{path} to answer {status}; last: {last}", step=0.2)


def scrape(base: str) -> Samples:
    """/metrics as {(sample name, labels): value}; the names as scraped (counters end in _total)."""
    answer = call(base, "/metrics")
    assert answer.status == 200, answer
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


def token_from(text: str) -> str:
    """The token that /token's answer shows in its curl example (and on a line of its own)."""
    found = TOKEN_IN_TEXT.search(text)
    assert found is not None, text
    token = found.group(1)
    assert TOKEN_SHAPE.match(token) and token in text.splitlines(), text
    return token
