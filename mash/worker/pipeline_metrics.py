"""Pipeline-health metrics for the faust worker: throughput, processing time, lag, rebalances.

`install_pipeline_metrics(app, settings)` is called once at the end of `create_app`. It adds:

- a faust Sensor, the least invasive hook faust has: it counts records consumed (per topic),
  records produced and failed sends (per topic), and counts rebalances (the agent times each
  event it handles itself: it acknowledges its events by hand, and faust then passes its
  sensors no timing). Sensor callbacks run on faust's hot path (and rebalances on the consumer's
  thread), so each does no more than one thread-safe Prometheus update.
- a timer that every 5 s computes the consumer lag of each input topic from the partitions
  assigned to this worker: the partition's end offset (as of the consumer's latest fetch)
  minus the group's last committed offset (or minus the partition's first offset while the
  group has committed nothing), the LAG that `kafka-consumer-groups.sh` reports. faust
  commits every few seconds, once the output of the events before the offset is flushed, so
  the lag says what a restart would have to process again, not only what is unread.
- `mash_worker_ready`, computed when scraped, with the same test as `/health/ready`.

Labels are topic names only: bounded by the service's configuration, never a key or an id.
Series for the topics the worker reads and writes are created at zero up front, so an alert
on `increase(...)` sees the first dead letter or send error, and every dashboard query has
a series to show from the first scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

import faust
from prometheus_client import REGISTRY, CollectorRegistry

from mash.adapters.dead_letters import DeadLetterReason
from mash.adapters.topics import CHILD_INPUTS, DEAD_LETTERS, OUTPUTS
from mash.config import Settings
from mash.domain.ruleset import Route
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.worker.faust_internals import committed_offset

log = get_logger(__name__)

LAG_INTERVAL_S = 5.0
OFFSETS_TIMEOUT_S = 5.0
LEVELS = (1, 2, 3, 4)


def register_worker_metrics(registry: CollectorRegistry = REGISTRY) -> None:
    """Registers the worker's metrics (`metrics.WORKER_METRICS`) once per process.

    Only the worker calls this, so the intake and console never serve a worker's metrics;
    create_app may run more than once in one process (tests do), hence once.
    """
    for metric in metrics.WORKER_METRICS:
        with contextlib.suppress(ValueError):  # already registered
            registry.register(metric)


class PipelineSensor(faust.Sensor):
    """Counts and times what flows through the worker. Returns states for faust to hand back."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        metrics.MESSAGES_CONSUMED.labels(topic=tp.topic).inc()

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> str:
        return topic

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        topic = metadata.topic if metadata is not None else state
        if isinstance(topic, str):
            metrics.MESSAGES_PRODUCED.labels(topic=topic).inc()

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        send_failed(state if isinstance(state, str) else "unknown", exc)

    def on_rebalance_start(self, app: Any) -> dict[str, float]:
        metrics.REBALANCES.inc()
        log.info("rebalance_started")
        return {"time_start": time.monotonic()}


def send_failed(topic: str, exc: BaseException) -> None:
    """A record sent without waiting that Kafka refused: its contact's output may be missing
    until the contact is processed again, so it must be seen, not only counted."""
    metrics.SEND_ERRORS.labels(topic=topic).inc()
    log.error("send_failed", topic=topic, error=type(exc).__name__)


def worker_ready(app: faust.App) -> bool:
    """The worker's readiness: tables recovered after joining the group, and no rebalance under way."""
    try:
        tables: Any = app.tables
        return bool(tables.recovery.completed.is_set()) and not app.rebalancing
    except Exception:  # not started yet: not ready
        return False


def lag_by_topic(
    assigned: Iterable[Any],
    end_offsets: Mapping[Any, int | None],
    committed: Mapping[Any, int | None],
    first_offsets: Mapping[Any, int | None],
) -> dict[str, int]:
    """Records after the committed offset on each topic, summed over the given partitions.

    With nothing committed on a partition yet, every record from its first offset on counts.
    """
    lag: dict[str, int] = {}
    for tp in assigned:
        end = end_offsets.get(tp)
        if end is None:
            continue
        start = committed.get(tp)
        if start is None:
            start = first_offsets.get(tp) or 0
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - start)
    return lag


def input_topics(app: faust.App, configured: frozenset[str]) -> frozenset[str]:
    """The topics the worker's agents read: the configured inputs, and any other topic an agent
    subscribes to (faust's acking topics). Table changelogs are not among them: they are read
    only to recover a table, and no consumer offset is committed for them."""
    conductor: Any = app.topics
    return configured | frozenset(conductor.acking_topics)


async def update_lag(app: faust.App, inputs: frozenset[str], first_offsets: dict[Any, int | None]) -> None:
    """Sets the lag and assignment gauges of every input topic from the consumer's partitions.

    End offsets are the consumer's own, from its latest fetch (no request to Kafka, so the
    figure stays current however busy the worker is); only a partition not fetched yet costs a
    request. First offsets, needed only until a partition's first commit, are asked once.
    """
    consumer: Any = app.consumer
    inputs = input_topics(app, inputs)
    assigned = [tp for tp in consumer.assignment() if tp.topic in inputs]
    counts = dict.fromkeys(inputs, 0)
    for tp in assigned:
        counts[tp.topic] += 1
    lag = dict.fromkeys(inputs, 0)
    if assigned:
        ends: dict[Any, int | None] = {tp: consumer.highwater(tp) for tp in assigned}
        unfetched = [tp for tp, end in ends.items() if end is None]
        if unfetched:
            ends.update(await asyncio.wait_for(consumer.highwaters(*unfetched), OFFSETS_TIMEOUT_S))
        committed: dict[Any, int | None] = {tp: committed_offset(consumer, tp) for tp in assigned}
        unknown = [tp for tp in assigned if committed[tp] is None and tp not in first_offsets]
        if unknown:
            first_offsets.update(
                await asyncio.wait_for(consumer.earliest_offsets(*unknown), OFFSETS_TIMEOUT_S)
            )
        lag.update(lag_by_topic(assigned, ends, committed, first_offsets))
    for topic in inputs:
        metrics.ASSIGNED_PARTITIONS.labels(topic=topic).set(counts[topic])
        metrics.CONSUMER_LAG.labels(topic=topic).set(lag[topic])


def _zero_series(settings: Settings) -> None:
    inputs = [settings.topic(name) for name in CHILD_INPUTS]
    outputs = [settings.topic(name) for name in (*OUTPUTS, DEAD_LETTERS)]
    for topic in inputs:
        metrics.MESSAGES_CONSUMED.labels(topic=topic)
        metrics.EVENT_PROCESSING.labels(topic=topic)
        metrics.DUPLICATES.labels(topic=topic)
        metrics.CONSUMER_LAG.labels(topic=topic)
        metrics.ASSIGNED_PARTITIONS.labels(topic=topic)
        for reason in DeadLetterReason:
            metrics.DEAD_LETTERS.labels(topic=topic, reason=reason.value)
    for topic in outputs:
        metrics.MESSAGES_PRODUCED.labels(topic=topic)
        metrics.SEND_ERRORS.labels(topic=topic)
    metrics.EVENTS_PROCESSED.labels(agent="children")
    for level in LEVELS:
        metrics.CONTACTS_SCREENED.labels(level=str(level))
    for route in Route:
        metrics.CONTACTS_ROUTED.labels(route=route.value)


def install_pipeline_metrics(app: faust.App, settings: Settings) -> None:
    """Adds the pipeline sensor, the lag timer and the readiness gauge to the worker's app."""
    register_worker_metrics()
    _zero_series(settings)
    metrics.WORKER_READY.set_function(lambda: float(worker_ready(app)))
    app.sensors.add(PipelineSensor())
    inputs = frozenset(settings.topic(name) for name in CHILD_INPUTS)

    first_offsets: dict[Any, int | None] = {}

    async def consumer_lag() -> None:
        try:
            await update_lag(app, inputs, first_offsets)
        except Exception as exc:  # mid-rebalance or Kafka away: keep the last values, try again
            log.info("consumer_lag_not_updated", error=type(exc).__name__)

    app.timer(interval=LAG_INTERVAL_S, name="mash.pipeline.consumer_lag")(consumer_lag)
