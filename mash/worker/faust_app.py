"""The faust application: topics, the child table, the child agent and the worker's web pages.

One agent, `children`, reads every event about a child (contacts, outcomes, decisions),
adds it to the child's timeline in the `children` table and publishes whatever that
changed: case records on `mash.cases.v1`, plans on `mash.plans.v1`. It is deliberately
thin: parsing is `mash.adapters.dead_letters.parse_event` (bad events go to the dead-letter
topic), the decision is `mash.domain.child.apply`, the state and records go out through
`mash.worker.output`, events come in batches (`mash.worker.consumer` fills the agent's
buffer, `mash.worker.batches` empties it) and what keeps delivery at-least-once where faust
alone does not is `mash.worker.delivery`. One agent, not a chain, because every step needs
the same child's history: one topic hop, and a child's events always handled in order on one
partition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mash.adapters.dead_letters import (
    DeadLetterReason,
    Rejected,
    box_key,
    dead_letter,
    parse_event,
    to_json,
)
from mash.adapters.ruleset_file import RulesetHolder
from mash.adapters.ruleset_registry import LiveRulesets, Registry
from mash.adapters.topics import CHILD_INPUTS, RESOLVED
from mash.config import Settings
from mash.domain.case import CaseRecord
from mash.domain.child import Step, apply_stored
from mash.domain.contact import Problem
from mash.domain.ruleset import Route, Ruleset
from mash.domain.timeline import ChildUpdate
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.worker.batches import batches
from mash.worker.consumer import use_consumer
from mash.worker.delivery import (
    RecordsSkipped,
    StopWhenASendFails,
    complete_flush,
    complete_seek,
    record_order,
    stop_uncommitted,
)
from mash.worker.identities_agent import IdentitiesHolder, send_effects
from mash.worker.identities_agent import step as identity_step
from mash.worker.imm_agent import install_imm
from mash.worker.output import Output, Where, kafka_producer
from mash.worker.pipeline_metrics import LEVELS, install_pipeline_metrics
from mash.worker.retention_job import install_retention

log = get_logger(__name__)

PRODUCER_LINGER_S = 0.02


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
        "producer_request_timeout": settings.worker_send_timeout_s,
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
    else:
        # Each event sends two records (the child's table changelog and its case record) to
        # eight or more partitions; without a linger nearly every batch holds one record and
        # the broker spends most of its time on request overhead. 20 ms fills batches under
        # load and adds at most 20 ms to a case's journey.
        conf["producer_linger"] = PRODUCER_LINGER_S
    return conf


@dataclass(frozen=True)
class Taken:
    """An update that parsed: where its child's state is kept, and what changes in it."""

    event: faust.EventT[bytes]
    where: Where
    update: ChildUpdate


def child_update(raw: bytes) -> ChildUpdate:
    """An update for one child from the identities agent; raises Rejected for a bad one."""
    return parse_event(raw, ChildUpdate)


def _ignore(_: object) -> None:
    """faust's `send_soon` returns a future the caller need not keep: faust's flush before each
    commit waits for it."""


def set_fetch_wait(app: faust.App, wait_ms: int) -> None:
    """faust fixes the worker consumer's fetch wait at 1500 ms. Apache Kafka answers a fetch as
    soon as records are there, so that only bounds idle waits; the embedded broker waits the
    whole time, which would put 1.5 s into every contact's journey. There is no setting for it,
    so the consumer is adjusted as it is created."""
    consumer: Any = app.consumer
    thread: Any = consumer._thread  # the faust aiokafka driver's consumer thread
    create = thread._create_worker_consumer

    def with_wait(transport: Any) -> Any:
        consumer = create(transport)
        consumer._fetch_max_wait_ms = wait_ms
        return consumer

    thread._create_worker_consumer = with_wait


def new_faust_app(app_id: str, settings: Settings) -> faust.App:
    """A faust app with the worker's settings, consumer and fetch wait (the worker's, or the
    bench's floor)."""
    app = faust.App(app_id, **faust_settings(settings))
    use_consumer(app)
    if settings.fetch_wait_ms:
        set_fetch_wait(app, settings.fetch_wait_ms)
    return app


def create_app(settings: Settings, ruleset: Ruleset, registry: Registry) -> faust.App:
    """`registry` holds every ruleset version registered so far, `ruleset` among them."""
    app = new_faust_app(settings.app_id, settings)
    inputs = app.topic(*(settings.topic(name) for name in CHILD_INPUTS), key_type=bytes, value_type=bytes)
    resolved_topic = app.topic(settings.topic(RESOLVED), key_type=bytes, value_type=bytes)
    registered = app.topic(settings.topic("rulesets"), key_type=bytes, value_type=bytes)
    # Re-reads MASH_RULESET_FILE when it changes; a file with errors is refused and the last good one
    # kept; a new version is registered for every process to screen with.
    rules = LiveRulesets(
        registry,
        RulesetHolder(ruleset, settings.ruleset_file, settings.ruleset_check_s),
        lambda key, value: _ignore(registered.send_soon(key=key, value=value)),
    )
    cases, plans = settings.topic("cases"), settings.topic("plans")
    dlq = app.topic(settings.topic("dlq"), key_type=bytes, value_type=bytes)
    children = app.Table(
        f"{settings.topic_prefix}-children",
        partitions=settings.topic_partitions,
        key_type=bytes,
        value_type=bytes,
    )
    output = Output(lambda: kafka_producer(app), children, [cases, plans])
    identities_table = app.Table(
        f"{settings.topic_prefix}-identities", partitions=1, key_type=bytes, value_type=bytes
    )
    resolved = settings.topic(RESOLVED)
    identities_output = Output(lambda: kafka_producer(app), identities_table, [resolved])
    identities = IdentitiesHolder(identities_output)
    # mode's stubs want a receiver typed (sender, *args, signal, **kwargs); this one names its argument.
    app.on_partitions_revoked.connect(identities.forget)  # type: ignore[arg-type]

    # The operators' public key: the worker seals each dead letter's original to it and holds
    # nothing that opens one; without it, a letter keeps only the record's place, size and digest.
    dlq_public_key = (
        box_key(settings.dead_letter_public_key, "MASH_DEAD_LETTER_PUBLIC_KEY")
        if settings.dead_letter_public_key
        else None
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
            dlq_public_key,
        )
        dlq.send_soon(key=None, value=to_json(letter))
        metrics.DEAD_LETTERS.labels(topic=message.topic, reason=rejected.reason.value).inc()
        log.warning("dead_letter", topic=message.topic, offset=message.offset, reason=rejected.reason.value)

    processed = metrics.EVENTS_PROCESSED.labels(agent="children")
    processed_identities = metrics.EVENTS_PROCESSED.labels(agent="identities")
    processing = {name: metrics.EVENT_PROCESSING.labels(topic=name) for name in [*inputs.topics, resolved]}
    screened = {level: metrics.CONTACTS_SCREENED.labels(level=str(level)) for level in LEVELS}
    routed = {route: metrics.CONTACTS_ROUTED.labels(route=route.value) for route in Route}
    order = record_order(app)
    history = rules.history

    def take(event: faust.EventT[bytes]) -> Taken | None:
        """The event parsed, or None once it is dead-lettered."""
        processed.inc()
        try:
            update = child_update(event.value)
            key = update.child_key.encode()
            if event.message.key != key:
                # The table lives on the partition of the record's key: another key would
                # split the child's history in two.
                problem = Problem(loc=["key"], msg="the record key must be the child_key", type="key")
                raise Rejected(DeadLetterReason.KEY_MISMATCH, [problem])
        except Rejected as rejected:
            send_to_dlq(event, rejected)
            return None
        return Taken(event, output.where(key), update)

    async def in_order(event: faust.EventT[bytes], stream: Any) -> None:
        """Stops the worker uncommitted if records before this one were left out; makes it the
        stream's current event, because faust's table finds a key's partition from it (by now it
        is the batch's last)."""
        try:
            await order.check(event.message.tp, event.message.offset)
        except RecordsSkipped as skipped:
            stop_uncommitted("records skipped", detail=str(skipped))
        stream._set_current_event(event)

    async def acknowledge(batch: list[faust.EventT[bytes]], stream: Any, started: float) -> None:
        """Once the batch's output is with aiokafka: faust may commit these events."""
        share = (time.perf_counter() - started) / len(batch)
        for event in batch:
            await stream.ack(event)
            processing[event.message.topic].observe(share)

    def count(parsed: Taken, step: Step) -> None:
        if step.duplicate:
            metrics.DUPLICATES.labels(topic=parsed.event.message.topic).inc()
            return
        for record in (p.record for p in step.publish if p.key in step.arrived):
            if not isinstance(record, CaseRecord) or record.placement:
                continue  # screened and routed once, when its contact first arrives, not as it moves
            screened[record.recommendation.level].inc()
            routed[record.route].inc()
            metrics.SCREENING_LATENCY.observe(
                max(0.0, (datetime.now(UTC) - record.accepted_at).total_seconds())
            )

    async def handle(batch: list[faust.EventT[bytes]], stream: Any) -> None:
        """A batch in three passes, so that each kind of work runs many times in a row: take
        and parse every event; read the children's states and decide (one event after another,
        so a child's second event sees its first); then write the states and send what was
        decided. Events are acknowledged only after that, so nothing is committed before the
        batch's output is with aiokafka."""
        started = time.perf_counter()
        nonlocal history
        history = rules.history
        taken: list[Taken] = []
        for event in batch:
            await in_order(event, stream)
            if (parsed := take(event)) is not None:
                taken.append(parsed)
        states: dict[Where, bytes] = {}
        # Only bytes are kept for the last pass. Keeping each step (the child's state and case
        # records as models) until then made the garbage collector walk them again and again:
        # the decisions cost half as much again (docs/decisions/0006-batches-and-passes-in-the-worker.md).
        sends: list[tuple[str, bytes, bytes]] = []
        for parsed, stored in zip(taken, output.load([t.where for t in taken]), strict=True):
            step, states[parsed.where] = apply_stored(
                states.get(parsed.where, stored), parsed.update, history
            )
            count(parsed, step)
            for item in step.publish:
                target = cases if isinstance(item.record, CaseRecord) else plans
                sends.append((target, item.key.encode(), item.value))
        # Written for a duplicate too: after a crash the local RocksDB can hold state that
        # never reached the changelog. Writing it again sends it there before the event's
        # offset is committed, so a worker that rebuilds the table from the changelog has it.
        await output.save(states)
        for target, key, value in sends:
            await output.publish(target, key, value)
        await acknowledge(batch, stream, started)

    @app.agent(resolved_topic, name="children")
    async def child_events(stream: faust.StreamT[bytes]) -> None:
        events = cast(Any, stream).noack()  # acknowledged by `handle`, once a batch is handled
        async for batch in batches(events):
            await handle(batch, events)

    async def resolve(batch: list[faust.EventT[bytes]], stream: Any) -> None:
        """A batch of input events, one after another, to the children they are about; acknowledged
        once every row and update is with aiokafka."""
        started = time.perf_counter()
        held = identities.get()
        for event in batch:
            await in_order(event, stream)
            processed_identities.inc()
            try:
                effects = identity_step(held, event.message.topic, event.value, settings, rules.history)
            except Rejected as rejected:
                send_to_dlq(event, rejected)
                continue
            await send_effects(identities_output, resolved, effects)
        await acknowledge(batch, stream, started)

    @app.agent(inputs, name="identities")
    async def input_events(stream: faust.StreamT[bytes]) -> None:
        events = cast(Any, stream).noack()
        async for batch in batches(events):
            await resolve(batch, events)

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

    async def follow_rulesets() -> None:  # versions other workers register
        await registry.follower.start()

    app.task(follow_rulesets)

    install_pipeline_metrics(app, settings)
    app.sensors.add(StopWhenASendFails())
    complete_flush(app, settings.worker_send_timeout_s)
    complete_seek(app)
    install_imm(app, settings)
    install_retention(app, settings)
    return app
