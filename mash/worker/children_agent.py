"""The children agent: every update about a child, from `mash.resolved.v1`, into the child's
history, and out as whatever that changed.

It adds each update to the child's timeline in the `children` table and publishes what changed:
case records on `mash.cases.v1`, plans on `mash.plans.v1`. It is deliberately thin: parsing is
`mash.adapters.dead_letters.parse_event` (bad events go to the dead-letter topic), the decision is
`mash.domain.child.apply_stored`, the state and records go out through `mash.worker.output`.
One agent, not a chain, because every step needs the same child's history: one topic hop, and a
child's events always handled in order on one partition.

A batch is handled in three passes, so that each kind of work runs many times in a row: take and
parse every event; read the children's states and decide (one event after another, so a child's
second event sees its first); then write the states and send what was decided. Events are
acknowledged only after that, so nothing is committed before the batch's output is with aiokafka.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import faust

from mash.adapters.dead_letters import DeadLetterReason, Rejected, parse_event
from mash.adapters.ruleset_registry import LiveRulesets
from mash.adapters.topics import RESOLVED
from mash.config import Settings
from mash.domain.case import CaseRecord
from mash.domain.child import Step, apply_stored
from mash.domain.contact import Problem
from mash.domain.ruleset import Route
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildUpdate
from mash.observability import metrics
from mash.worker.agent_support import Acknowledge, AgentSupport, Event, in_batches
from mash.worker.output import Output, Producer, Where
from mash.worker.pipeline_metrics import LEVELS

# What the last pass sends: topic, key, value.
Send = tuple[str, bytes, bytes]


@dataclass(frozen=True)
class Taken:
    """An update that parsed: where its child's state is kept, and what changes in it."""

    event: Event
    where: Where
    update: ChildUpdate


def child_update(raw: bytes) -> ChildUpdate:
    """An update for one child from the identities agent; raises Rejected for a bad one."""
    return parse_event(raw, ChildUpdate)


class ChildrenAgent:
    """The agent's work on each batch; `install_children` makes the faust agent that calls it."""

    def __init__(
        self, output: Output, support: AgentSupport, rules: LiveRulesets, settings: Settings
    ) -> None:
        self.output = output
        self.support = support
        self.rules = rules
        self.cases, self.plans = settings.topic("cases"), settings.topic("plans")
        self.acknowledge = Acknowledge([settings.topic(RESOLVED)])
        # Metric series looked up once, not per event.
        self.processed = metrics.EVENTS_PROCESSED.labels(agent="children")
        self.screened = {level: metrics.CONTACTS_SCREENED.labels(level=str(level)) for level in LEVELS}
        self.routed = {route: metrics.CONTACTS_ROUTED.labels(route=route.value) for route in Route}

    async def handle(self, batch: list[Event], stream: object) -> None:
        """The batch in its three passes, then acknowledged."""
        started = time.perf_counter()
        history = self.rules.history
        taken: list[Taken] = []
        for event in batch:
            await self.support.in_order(event, stream)
            if (parsed := self.parse(event)) is not None:
                taken.append(parsed)
        states, sends = self.decide(taken, history)
        # Written for a duplicate too: after a crash the local RocksDB can hold state that
        # never reached the changelog. Writing it again sends it there before the event's
        # offset is committed, so a worker that rebuilds the table from the changelog has it.
        await self.output.save(states)
        for target, key, value in sends:
            await self.output.publish(target, key, value)
        await self.acknowledge(batch, stream, started)

    def parse(self, event: Event) -> Taken | None:
        """The event parsed, or None once it is dead-lettered."""
        self.processed.inc()
        try:
            update = child_update(event.value)
            key = update.child_key.encode()
            if event.message.key != key:
                # The table lives on the partition of the record's key: another key would
                # split the child's history in two.
                problem = Problem(loc=["key"], msg="the record key must be the child_key", type="key")
                raise Rejected(DeadLetterReason.KEY_MISMATCH, [problem])
        except Rejected as rejected:
            self.support.dead_letters.send(event, rejected)
            return None
        return Taken(event, self.output.where(key), update)

    def decide(self, taken: list[Taken], history: RulesetHistory) -> tuple[dict[Where, bytes], list[Send]]:
        """Each child's state after its events, and what to send. Only bytes are kept for the last
        pass: keeping each step (the child's state and case records as models) until then made the
        garbage collector walk them again and again, and the decisions cost half as much again
        (docs/decisions/0006-batches-and-passes-in-the-worker.md)."""
        states: dict[Where, bytes] = {}
        sends: list[Send] = []
        for parsed, stored in zip(taken, self.output.load([t.where for t in taken]), strict=True):
            step, states[parsed.where] = apply_stored(
                states.get(parsed.where, stored), parsed.update, history
            )
            self.count(parsed, step)
            for item in step.publish:
                target = self.cases if isinstance(item.record, CaseRecord) else self.plans
                sends.append((target, item.key.encode(), item.value))
        return states, sends

    def count(self, parsed: Taken, step: Step) -> None:
        if step.duplicate:
            metrics.DUPLICATES.labels(topic=parsed.event.message.topic).inc()
            return
        for record in (p.record for p in step.publish if p.key in step.arrived):
            if not isinstance(record, CaseRecord) or record.placement:
                continue  # screened and routed once, when its contact first arrives, not as it moves
            self.screened[record.recommendation.level].inc()
            self.routed[record.route].inc()
            metrics.SCREENING_LATENCY.observe(
                max(0.0, (datetime.now(UTC) - record.accepted_at).total_seconds())
            )


def install_children(
    app: faust.App, settings: Settings, producer: Producer, support: AgentSupport, rules: LiveRulesets
) -> ChildrenAgent:
    """Adds the `children` table and agent to the worker's app."""
    table = app.Table(
        f"{settings.topic_prefix}-children",
        partitions=settings.topic_partitions,
        key_type=bytes,
        value_type=bytes,
    )
    output = Output(producer, table, [settings.topic("cases"), settings.topic("plans")])
    agent = ChildrenAgent(output, support, rules, settings)
    resolved = app.topic(settings.topic(RESOLVED), key_type=bytes, value_type=bytes)

    @app.agent(resolved, name="children")
    async def child_events(stream: faust.StreamT[bytes]) -> None:
        await in_batches(stream, agent.handle)

    return agent
