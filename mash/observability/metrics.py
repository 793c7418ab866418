"""Prometheus metrics. Labels hold only bounded, non-personal values (codes, levels, routes).

The README's metrics catalogue describes each one and the question it answers.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# Intake adapter
CONTACTS_RECEIVED = Counter(
    "mash_contacts_received_total", "Contacts accepted by the intake adapter (one per child)", ["source"]
)
OUTCOMES_RECEIVED = Counter(
    "mash_outcomes_received_total", "Outcomes accepted from the council's case system", ["type"]
)
INTAKE_REQUESTS = Counter(
    "mash_intake_requests_total", "HTTP requests to the intake adapter", ["endpoint", "status"]
)
INTAKE_LATENCY = Histogram(
    "mash_intake_request_duration_seconds",
    "Time to answer an intake request",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)

# Worker
CONTACTS_SCREENED = Counter("mash_contacts_screened_total", "Contacts screened, by level of need", ["level"])
CONTACTS_ROUTED = Counter("mash_contacts_routed_total", "Contacts routed, by route", ["route"])
DEAD_LETTERS = Counter(
    "mash_dead_letters_total", "Events sent to the dead-letter topic, by reason", ["topic", "reason"]
)
DUPLICATES = Counter(
    "mash_duplicate_events_total", "Events seen again after a redelivery and not applied twice", ["topic"]
)
SCREENING_LATENCY = Histogram(
    "mash_screening_latency_seconds",
    "Time from a contact being accepted at intake to its screening decision being made",
    buckets=LATENCY_BUCKETS,
)
EVENTS_PROCESSED = Counter("mash_events_processed_total", "Events taken off an input topic", ["agent"])
