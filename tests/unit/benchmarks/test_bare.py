"""The bare aiokafka batch loop with the worker's domain steps: the same records as the worker."""

from __future__ import annotations

import asyncio

from aiokafka.structs import ConsumerRecord

from benchmarks.bare import DomainStep
from benchmarks.settings import bench_settings
from benchmarks.workload import (
    Workload,
    resolved_child_keys,
)
from mash.domain.child import ChildState, apply
from mash.domain.identities import SIGHTING
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildUpdate, ContactEntry


class SentRecords:
    """Stands in for the producer: keeps what was sent, and every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged


async def test_the_batch_loop_does_both_of_the_workers_steps_and_writes_each_row_and_state_once_per_batch(
    workload: Workload,
) -> None:
    settings = bench_settings("127.0.0.1:1", "unitbench")
    contacts = settings.topic("contacts")
    records = [
        ConsumerRecord(contacts, 0, offset, 0, 0, key, value, None, 0, 0, tuple(headers))
        for offset, (key, value, headers) in enumerate(workload.records)
    ]
    step, producer = DomainStep(contacts, "state"), SentRecords()

    acks = await step.handle(records, producer, "cases")

    # The worker's children agent, on each contact's child as the worker resolves it.
    ruleset = load_ruleset()
    rulesets = RulesetHistory.of(ruleset)
    child_keys = resolved_child_keys(workload.events)
    states: dict[str, ChildState] = {}
    cases: dict[bytes, bytes] = {}
    for event in workload.events:
        key, entry = child_keys[event.contact_id], ContactEntry.of(event, ruleset.version)
        applied = apply(states.get(key, ChildState()), key, entry, rulesets)
        states[key] = applied.state
        cases.update((p.key.encode(), p.value) for p in applied.publish)
    sent_cases = [(key, value) for topic, key, value in producer.sent if topic == "cases"]
    sent_states = [(key, value) for topic, key, value in producer.sent if topic == "state"]
    updates = [
        (key, ChildUpdate.model_validate_json(value))
        for topic, key, value in producer.sent
        if topic == settings.topic("resolved")
    ]
    assert len(acks) == len(producer.sent)
    assert dict(sent_cases) == cases
    assert len(sent_cases) == len(cases) == len(workload.events)
    # One update per contact, keyed by its child, adding the contact.
    assert [(key, [e.id for e in update.add]) for key, update in updates] == [
        (child_keys[e.contact_id].encode(), [e.contact_id]) for e in workload.events
    ]
    child_states_sent = [(key, value) for key, value in sent_states if key.startswith(b"ck-")]
    rows_sent = [key for key, _ in sent_states if key.startswith(SIGHTING.encode())]
    assert sorted(child_states_sent) == sorted(
        (key.encode(), state.model_dump_json().encode()) for key, state in states.items()
    )
    assert sorted(rows_sent) == sorted(f"{SIGHTING}{e.contact_id}".encode() for e in workload.events)
    assert len(sent_states) == len(child_states_sent) + len(rows_sent)
