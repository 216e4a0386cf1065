"""Prometheus metrics, one registry per app so tests and nodes do not share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = Counter(
            "vigil_alerts_received_total",
            "Alert events accepted, by source and outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.alerts_deduplicated = Counter(
            "vigil_alerts_deduplicated_total",
            "Alert events that joined an open alert (repeats and redeliveries)",
            registry=self.registry,
        )
        self.requests_rejected = Counter(
            "vigil_ingest_rejected_total",
            "Ingest requests refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "vigil_pipeline_batch_size",
            "Alert events per group commit",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "vigil_pipeline_commit_seconds",
            "Time to process and commit one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.notifications = Counter(
            "vigil_notifications_total",
            "Notification delivery attempts by channel kind and outcome "
            "(sent, retrying, dead, skipped)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.notification_seconds = Histogram(
            "vigil_notification_seconds",
            "Time one delivery attempt took, by channel kind",
            ["kind"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "vigil_pipeline_queue_depth",
            "Alert events waiting for a commit",
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "vigil_outbox_consumer_lag_seconds",
            "Age of the oldest outbox event a consumer has not handled yet",
            ["consumer"],
            registry=self.registry,
        )
        self.consumer_last_success = Gauge(
            "vigil_outbox_consumer_last_success_timestamp_seconds",
            "When this node's consumer last completed a pass (Unix time)",
            ["consumer"],
            registry=self.registry,
        )
        self.consumer_parked = Gauge(
            "vigil_outbox_consumer_parked_events",
            "Outbox events a consumer set aside after failing on them (replay them)",
            ["consumer"],
            registry=self.registry,
        )
        self.consumer_retrying = Gauge(
            "vigil_outbox_consumer_retrying_events",
            "Outbox events a consumer failed on and will try again",
            ["consumer"],
            registry=self.registry,
        )
        self.consumer_failures = Counter(
            "vigil_outbox_consumer_failures_total",
            "Failed attempts to handle an outbox event, by consumer",
            ["consumer"],
            registry=self.registry,
        )
        self.loop_failures = Gauge(
            "vigil_background_consecutive_failures",
            "Passes of a background loop (tick, notifier) that failed in a row",
            ["loop"],
            registry=self.registry,
        )
        self.healthy = Gauge(
            "vigil_healthy",
            "1 while /health answers ok, 0 while paging is degraded",
            registry=self.registry,
        )
