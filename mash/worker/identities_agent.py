"""The identities agent: every input event, on one partition, to the child it is about.

It reads the input topics (contacts, outcomes, decisions, identity decisions: one partition each,
so one worker at a time holds them all, in one order), asks `mash.domain.identities` which child
each event is about, keeps its rows in the `identities` table and sends each child's update to
`mash.resolved.v1`, keyed by the child key, where the `children` agent takes it. Delivery is as
the children agent's: a batch's rows and updates are with aiokafka before its events are
acknowledged, so nothing is committed before its effects are with Kafka.

The index lives in memory; a worker that takes the partition over (at start, or after a
rebalance) loads it from the table first.
"""

from __future__ import annotations

import time
from typing import Any

import faust
from pydantic import BaseModel

from mash.adapters.dead_letters import DeadLetterReason, Rejected, parse_event
from mash.adapters.ruleset_registry import LiveRulesets
from mash.adapters.topics import CHILD_INPUTS, RESOLVED
from mash.config import Settings
from mash.domain.contact import Problem, SealedContactEvent
from mash.domain.decisions import DecisionEvent
from mash.domain.identities import Effects, Identities
from mash.domain.outcomes import OutcomeEvent
from mash.domain.persons import IdentityDecisionEvent, sighting
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ContactEntry, DecisionEntry, OutcomeEntry
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.worker.agent_support import Acknowledge, AgentSupport, Event, in_batches
from mash.worker.output import Output, Producer

log = get_logger(__name__)


def step(
    identities: Identities, topic: str, raw: bytes, settings: Settings, rulesets: RulesetHistory
) -> Effects:
    """One input event's effects; raises Rejected for a bad one."""
    model: BaseModel
    if topic == settings.topic("contacts"):
        model = parse_event(raw, SealedContactEvent, expected_version=2)
        entry = ContactEntry.of(model, rulesets.in_force(model.received_at).version)
        return identities.sighting(sighting(model.contact_id, model.received_at, model.identifiers), entry)
    if topic == settings.topic("outcomes"):
        model = parse_event(raw, OutcomeEvent, expected_version=2)
        seen = sighting(model.outcome_id, model.occurred_at, model.identifiers)
        return identities.sighting(seen, OutcomeEntry.of(model))
    if topic == settings.topic("decisions"):
        model = parse_event(raw, DecisionEvent)
        return identities.decision(DecisionEntry.of(model))
    if topic == settings.topic("identities"):
        return identities.identity_decision(parse_event(raw, IdentityDecisionEvent))
    raise Rejected(DeadLetterReason.SCHEMA_INVALID, [Problem(loc=[], msg="not an input topic", type="topic")])


class IdentitiesHolder:
    """The agent's in-memory index, loaded from the table when this worker takes the partition."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.current: Identities | None = None

    def get(self) -> Identities:
        if self.current is None:
            self.current = Identities()
            self.current.load(self.output.items(0))
            log.info("identities_loaded", sightings=len(self.current.rows))
        return self.current

    async def forget(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """Another worker may change the table while this one does not hold it."""
        self.current = None


async def send_effects(output: Output, resolved: str, effects: Effects) -> None:
    """The rows into the table, then the children's updates (as the children agent saves states
    before it publishes)."""
    await output.save({(0, key.encode()): value for key, value in effects.rows.items()})
    for update in effects.updates:
        await output.publish(resolved, update.child_key.encode(), update.model_dump_json().encode())


class IdentitiesAgent:
    """The agent's work on each batch; `install_identities` makes the faust agent that calls it."""

    def __init__(
        self, output: Output, support: AgentSupport, rules: LiveRulesets, settings: Settings
    ) -> None:
        self.output = output
        self.support = support
        self.rules = rules
        self.settings = settings
        self.resolved = settings.topic(RESOLVED)
        self.held = IdentitiesHolder(output)
        self.acknowledge = Acknowledge(settings.topic(name) for name in CHILD_INPUTS)
        self.processed = metrics.EVENTS_PROCESSED.labels(agent="identities")

    async def handle(self, batch: list[Event], stream: object) -> None:
        """A batch of input events, one after another, to the children they are about; acknowledged
        once every row and update is with aiokafka."""
        started = time.perf_counter()
        held = self.held.get()
        for event in batch:
            await self.support.in_order(event, stream)
            self.processed.inc()
            try:
                effects = step(held, event.message.topic, event.value, self.settings, self.rules.history)
            except Rejected as rejected:
                self.support.dead_letters.send(event, rejected)
                continue
            await send_effects(self.output, self.resolved, effects)
        await self.acknowledge(batch, stream, started)


def install_identities(
    app: faust.App, settings: Settings, producer: Producer, support: AgentSupport, rules: LiveRulesets
) -> IdentitiesAgent:
    """Adds the `identities` table and agent to the worker's app."""
    table = app.Table(f"{settings.topic_prefix}-identities", partitions=1, key_type=bytes, value_type=bytes)
    agent = IdentitiesAgent(Output(producer, table, [settings.topic(RESOLVED)]), support, rules, settings)
    # mode's stubs want a receiver typed (sender, *args, signal, **kwargs); this one names its argument.
    app.on_partitions_revoked.connect(agent.held.forget)  # type: ignore[arg-type]
    inputs = app.topic(*(settings.topic(name) for name in CHILD_INPUTS), key_type=bytes, value_type=bytes)

    @app.agent(inputs, name="identities")
    async def input_events(stream: faust.StreamT[bytes]) -> None:
        await in_batches(stream, agent.handle)

    return agent
