"""Prometheus metrics. Labels hold only bounded, non-personal values (codes, levels, routes, topics).

The metrics catalogue (docs/operations/metrics.md) describes each one and the question it
answers. Intake metrics are registered on import. Worker metrics are created unregistered and
registered by `mash.worker.pipeline_metrics.install_pipeline_metrics` in the worker only: the
intake and console processes import this module too, and must not report a worker's figures,
lag or readiness as their own. The console's own metrics live in `mash.console.metrics`, the
live statutory figures in `mash.views.live_figures`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PROCESSING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Intake adapter
CONTACTS_RECEIVED = Counter(
    "mash_contacts_received_total",
    "Contacts accepted by the intake adapter (one per child), by CIN contact source code",
    ["source"],
)
OUTCOMES_RECEIVED = Counter(
    "mash_outcomes_received_total", "Outcomes accepted from the council's case system, by type", ["type"]
)
INTAKE_REQUESTS = Counter(
    "mash_intake_requests_total",
    "HTTP requests to the intake adapter's API, by endpoint and status code",
    ["endpoint", "status"],
)
INTAKE_LATENCY = Histogram(
    "mash_intake_request_duration_seconds",
    "Time to answer an intake API request, by endpoint",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)

# Worker: the business flow it decides
CONTACTS_SCREENED = Counter(
    "mash_contacts_screened_total", "Contacts screened, by level of need", ["level"], registry=None
)
CONTACTS_ROUTED = Counter("mash_contacts_routed_total", "Contacts routed, by route", ["route"], registry=None)
DEAD_LETTERS = Counter(
    "mash_dead_letters_total",
    "Events sent to the dead-letter topic, by input topic and reason",
    ["topic", "reason"],
    registry=None,
)
DUPLICATES = Counter(
    "mash_duplicate_events_total",
    "Events seen again after a redelivery and not applied twice, by input topic",
    ["topic"],
    registry=None,
)
SCREENING_LATENCY = Histogram(
    "mash_screening_latency_seconds",
    "Time from a contact being accepted at intake to its screening decision being made",
    buckets=LATENCY_BUCKETS,
    registry=None,
)
EVENTS_PROCESSED = Counter(
    "mash_events_processed_total", "Events taken off an input topic, by agent", ["agent"], registry=None
)

# Worker: pipeline health (mash.worker.pipeline_metrics fills these in)
MESSAGES_CONSUMED = Counter(
    "mash_worker_messages_consumed_total",
    "Records the worker took off a topic and handed to an agent, by topic",
    ["topic"],
    registry=None,
)
MESSAGES_PRODUCED = Counter(
    "mash_worker_messages_produced_total",
    "Records the worker wrote to a topic and Kafka acknowledged, by topic (table changelogs included)",
    ["topic"],
    registry=None,
)
SEND_ERRORS = Counter(
    "mash_worker_send_errors_total",
    "Records the worker failed to write to a topic, by topic",
    ["topic"],
    registry=None,
)
EVENT_PROCESSING = Histogram(
    "mash_worker_event_processing_seconds",
    "Time the worker spent per event: its batch's time, from taking the first event to the output "
    "handed to the producer, shared among the batch's events",
    ["topic"],
    buckets=PROCESSING_BUCKETS,
    registry=None,
)
CONSUMER_LAG = Gauge(
    "mash_worker_consumer_lag_messages",
    "Records on this worker's assigned partitions after its last committed offset, by input topic",
    ["topic"],
    registry=None,
)
ASSIGNED_PARTITIONS = Gauge(
    "mash_worker_assigned_partitions",
    "Input-topic partitions assigned to this worker by the consumer group, by topic",
    ["topic"],
    registry=None,
)
REBALANCES = Counter(
    "mash_worker_rebalances_total", "Consumer-group rebalances this worker has taken part in", registry=None
)
WORKER_READY = Gauge(
    "mash_worker_ready",
    "1 when the worker has joined its group, recovered its tables and is not rebalancing (its /health/ready)",
    registry=None,
)

WORKER_METRICS: tuple[Counter | Gauge | Histogram, ...] = (
    CONTACTS_SCREENED,
    CONTACTS_ROUTED,
    DEAD_LETTERS,
    DUPLICATES,
    SCREENING_LATENCY,
    EVENTS_PROCESSED,
    MESSAGES_CONSUMED,
    MESSAGES_PRODUCED,
    SEND_ERRORS,
    EVENT_PROCESSING,
    CONSUMER_LAG,
    ASSIGNED_PARTITIONS,
    REBALANCES,
    WORKER_READY,
)
