"""Prometheus metrics, built on a registry the composition root owns (no process-wide globals).

Every part takes an optional `Metrics`; tests build their own, so figures never leak between them.
Names are prefixed photobot_ and documented in the metrics table of docs/api.md.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs_enqueued = Counter(
            "photobot_jobs_enqueued", "Jobs accepted into the queue.", ["tier", "operation"], registry=r
        )
        self.jobs_finished = Counter(
            "photobot_jobs_finished",
            "Jobs that reached a final state (completed, failed, cancelled).",
            ["operation", "status"],
            registry=r,
        )
        self.job_retries = Counter(
            "photobot_job_retries", "Jobs sent back for another attempt.", ["reason"], registry=r
        )
        by_operation_and_tier = ["operation", "tier"]
        self.job_duration = Histogram("photobot_job_duration_seconds", "From lease to completion.",
                                      by_operation_and_tier, buckets=DURATION_BUCKETS, registry=r)
        self.queue_wait = Histogram("photobot_queue_wait_seconds", "From enqueue to lease.",
                                    by_operation_and_tier, buckets=WAIT_BUCKETS, registry=r)
        self.queue_depth = Gauge(
            "photobot_queue_depth", "Jobs in the queue by tier and status.", ["tier", "status"], registry=r
        )
        self.quota_refusals = Counter(
            "photobot_quota_refusals", "Photos refused over their tier's daily quota.", ["tier"], registry=r
        )
        self.payments = Counter(
            "photobot_payments",
            "Telegram Stars payments applied (invoice, subscription, renewal, unknown) and refunds.",
            ["kind"],
            registry=r,
        )
        self.workers_alive = Gauge("photobot_workers_alive", "Worker processes seen recently.", registry=r)
        self.updates_in_hand = Gauge(
            "photobot_updates_in_hand",
            "Chat updates kept in the inbox and not handled yet, in this process.",
            ["platform"],
            registry=r,
        )
        self.chat_api_calls = Counter(
            "photobot_chat_api_calls",
            "Calls to the Telegram or VK API.",
            ["platform", "method", "outcome"],
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "photobot_rate_limit_waits", "Outgoing calls that had to wait.", ["platform", "scope"], registry=r
        )
        self.rate_limit_wait_seconds = Counter(
            "photobot_rate_limit_wait_seconds", "Time spent waiting for the rate limiter.", ["platform"],
            registry=r,
        )
        self.storage_calls = Counter(
            "photobot_storage_calls", "Storage operations.", ["backend", "operation", "outcome"], registry=r
        )
        self.bytes_stored = Counter(
            "photobot_bytes_stored", "Bytes written to storage.", ["backend", "kind"], registry=r
        )
        self.processing_seconds = Histogram(
            "photobot_processing_seconds",
            "Image operation time in the process pool.",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
