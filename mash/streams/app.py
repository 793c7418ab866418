"""The faust application: topics, the child table, the triage agent and the worker's web pages.

The agent is deliberately thin: parse the raw bytes (bad ones go to the dead-letter topic),
read the child's history, call `mash.domain.triage.triage`, write the history back and
publish the case record. One agent does screening and routing together because both
depend on the same child's history: one topic hop, and a child's events are always
handled in order on one partition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mash.config import Settings
from mash.domain.contact import ContactEvent
from mash.domain.history import ChildHistory
from mash.domain.ruleset import Ruleset
from mash.domain.triage import triage
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.streams.dead_letter import Rejected, dead_letter, parse_event, to_json

log = get_logger(__name__)


def faust_settings(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        "store": settings.store,
        "datadir": str(settings.data_dir),
        "processing_guarantee": "at_least_once",
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication,
        "consumer_auto_offset_reset": "earliest",
        # Every topic and table holds bytes we encode and parse ourselves (pydantic + orjson).
        "key_serializer": "raw",
        "value_serializer": "raw",
        "producer_acks": -1,
        "broker_rebalance_timeout": settings.rebalance_timeout_s,
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": settings.heartbeat_interval_s,
        "web_enabled": True,
        "web_bind": settings.worker_host,
        "web_host": settings.worker_host,
        "web_port": settings.worker_port,
        "web_tables_enabled": False,
        "web_graph_enabled": False,
        "web_stats_enabled": False,
        "web_router_enabled": False,
        "web_metrics_enabled": False,
    }
    if settings.embedded_broker:
        # The embedded broker reports a partition's end as the last batch's base offset + 1,
        # which makes table recovery stop short; one record per batch keeps it exact.
        conf["producer_max_batch_size"] = 1
    return conf


def create_app(settings: Settings, ruleset: Ruleset) -> faust.App:
    app = faust.App(settings.app_id, **faust_settings(settings))
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    contacts = app.topic(settings.topic("contacts"), partitions=settings.topic_partitions, **raw)
    cases = app.topic(settings.topic("cases"), partitions=settings.topic_partitions, **raw)
    dlq = app.topic(settings.topic("dlq"), partitions=1, **raw)
    children = app.Table(
        f"{settings.topic_prefix}-children",
        partitions=settings.topic_partitions,
        key_type=bytes,
        value_type=bytes,
    )

    def send_to_dlq(event: faust.EventT[bytes], rejected: Rejected) -> None:
        message = event.message
        letter = dead_letter(
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value or b"",
            rejected,
            datetime.now(UTC),
        )
        dlq.send_soon(key=None, value=to_json(letter))
        metrics.DEAD_LETTERS.labels(topic=message.topic, reason=rejected.reason.value).inc()
        log.warning("dead_letter", topic=message.topic, offset=message.offset, reason=rejected.reason.value)

    @app.agent(contacts, name="triage")
    async def triage_contacts(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            metrics.EVENTS_PROCESSED.labels(agent="triage").inc()
            try:
                contact = parse_event(event.value, ContactEvent)
            except Rejected as rejected:
                send_to_dlq(event, rejected)
                continue
            key = contact.child_key.encode()
            stored = children.get(key)
            history = ChildHistory.model_validate_json(stored) if stored else ChildHistory()
            result = triage(contact, history, ruleset)
            if result.duplicate:
                metrics.DUPLICATES.labels(topic=event.message.topic).inc()
            else:
                children[key] = result.history.model_dump_json().encode()
                record = result.record
                metrics.CONTACTS_SCREENED.labels(level=str(record.level)).inc()
                metrics.CONTACTS_ROUTED.labels(route=record.route.value).inc()
                metrics.SCREENING_LATENCY.observe(
                    max(0.0, (datetime.now(UTC) - record.accepted_at).total_seconds())
                )
            # Published again on a redelivery, unchanged: readers upsert by contact id.
            cases.send_soon(key=contact.contact_id.encode(), value=to_json(result.record))

    @app.page("/metrics")
    async def metrics_page(view: View, request: Request) -> Response:
        return view.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/health/live")
    async def live(view: View, request: Request) -> Response:
        return view.json({"status": "live"})

    @app.page("/health/ready")
    async def ready(view: View, request: Request) -> Response:
        tables: Any = app.tables
        recovered = bool(tables.recovery.completed.is_set()) and not app.rebalancing
        return view.json({"ready": recovered}, status=200 if recovered else 503)

    return app
