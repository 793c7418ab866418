"""The worker's agent itself, run in-process with faust's `agent.test_context()` (no Kafka).

Events go straight into the agent's stream. Every outbound record is caught where it leaves
the worker: case records and the child table's changelog at the aiokafka producer the worker
sends them to (`mash.streams.output`), dead letters at faust's producer after faust's own
topic code has built and serialized them. So nothing leaves the process and the tests can
see exactly what was sent where.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
from faust.stores.rocksdb import Store as RocksDBStore

from mash.config import Settings
from mash.domain.case import CaseRecord, CaseState, DecidedBy, Referral
from mash.domain.child import ChildState
from mash.domain.contact import Child, CinSource, Consent, ConsentStatus, ContactEvent, Referrer
from mash.domain.ruleset import Route, load_ruleset
from mash.streams import app as streams_app
from mash.streams.app import create_app
from mash.streams.dead_letter import DeadLetter, DeadLetterReason, box_key, open_dead_letter
from mash.streams.delivery import RecordOrder
from mash.streams.ruleset_registry import Registry
from tests.support.keys import DEAD_LETTER_PRIVATE_KEY, DEAD_LETTER_PUBLIC_KEY, sealed_json, test_keyring

CONTACTS = "unit.contacts.v1"
CASES = "unit.cases.v1"
DLQ = "unit.dlq.v1"
TABLE = "unit-children"
CHILD_KEY = "ck-fictional-child"
TUESDAY_1030 = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
WAIT_S = 2.0


KEYRING = test_keyring()  # the intake's: the worker holds no key


def contact(
    contact_id: str,
    *,
    indicators: tuple[str, ...] = ("disclosure_of_abuse",),
    received_at: datetime = TUESDAY_1030,
) -> ContactEvent:
    """A police contact about one fictional child (always the same child key)."""
    return ContactEvent(
        contact_id=contact_id,
        child_key=CHILD_KEY,
        agency="police",
        agency_reference=f"MP-{contact_id}",
        child_index=0,
        children_in_submission=1,
        received_at=received_at,
        accepted_at=received_at + timedelta(seconds=2),
        source=CinSource.POLICE,
        child=Child(given_name="Testo", family_name="Sampleford", date_of_birth=date(2018, 7, 19)),
        indicators=list(indicators),
        narrative="Fictional narrative for a test.",
        consent=Consent(status=ConsentStatus.GIVEN),
        referrer=Referrer(name="PC Example", role="police officer", email="pc.example@police.example"),
    )


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None


class Outbox:
    """Stands in for the producers: records every message a faust topic hands to faust's
    producer (`send_soon`), and every record the worker sends straight to aiokafka's (`send`),
    which it acknowledges at once with the next offset of the record's partition."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.changed = asyncio.Event()
        self.offsets: dict[TopicPartition, int] = {}

    def send_soon(self, fut: Any) -> None:
        message = fut.message
        self.add(Sent(message.channel.get_topic_name(), message.key, message.value))

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> asyncio.Future[RecordMetadata]:
        self.add(Sent(topic, key, value, partition))
        tp = TopicPartition(topic, partition or 0)
        offset = self.offsets[tp] = self.offsets.get(tp, -1) + 1
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(RecordMetadata(topic, tp.partition, tp, offset, -1, -1, 0))
        return delivery

    def add(self, sent: Sent) -> None:
        self.sent.append(sent)
        self.changed.set()

    def to(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class Harness:
    app: faust.App
    agent: Any  # faust's AgentTestWrapper
    outbox: Outbox

    async def put(self, value: bytes, key: bytes, topic: str = CONTACTS, wait: bool = True) -> None:
        """`wait=False` only queues the event, so events put in a row reach the agent in one batch."""
        # The agent reads several topics and dispatches on the record's topic, but the test
        # wrapper names its messages after `original_channel`, which for a multi-topic
        # channel has no single name ("<internal>"); point it at the topic being simulated.
        self.agent.original_channel = self.app.topic(topic)
        await self.agent.put(value=value, key=key, wait=wait)

    async def put_contact(self, event: ContactEvent, wait: bool = True) -> None:
        await self.put(sealed_json(KEYRING, event), key=event.child_key.encode(), wait=wait)

    async def sent_to(self, topic: str, count: int) -> list[Sent]:
        """Waits until `count` records were sent to `topic`, then returns all sent to it.

        `put()` returns once the stream has taken the value, which for an agent that yields
        nothing is before the agent body has run, so wait for the body's sends. One event's
        sends all happen in one go, so callers unpack the result: an extra record fails too.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while len(self.outbox.to(topic)) < count:
            crash = self.agent._crash_reason
            remaining = deadline - loop.time()
            if crash is not None or remaining <= 0:
                sent = [(s.topic, s.key, s.value[:120]) for s in self.outbox.sent]
                pytest.fail(f"expected {count} record(s) on {topic}; agent crash: {crash!r}; sent: {sent}")
            self.outbox.changed.clear()
            with contextlib.suppress(TimeoutError):  # wake now and then to notice a crash
                await asyncio.wait_for(self.outbox.changed.wait(), min(remaining, 0.05))
        return self.outbox.to(topic)

    def state(self, child_key: str = CHILD_KEY) -> ChildState:
        key = child_key.encode()
        table = self.app.tables[TABLE]
        stored = table.get(key)
        assert stored is not None, f"nothing stored for {child_key}"
        if isinstance(table.data, RocksDBStore):
            # Recovery writes a changelog partition's records into that partition's database,
            # so the worker's own write must be there too.
            [partition] = {sent.partition for sent in self.changelog() if sent.key == key}
            assert table.data._db_for_partition(partition).get(key) == stored
        return ChildState.model_validate_json(stored)

    def changelog(self) -> list[Sent]:
        return self.outbox.to(self.app.tables[TABLE].changelog_topic.get_topic_name())


# Both table stores: the worker reads and writes RocksDB itself (`mash.streams.output`), and
# `Harness.state` reads it back through faust's own table.
@pytest.fixture(params=["memory://", "rocksdb://"])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    settings = Settings(
        mode="development",
        child_key_secret="x",
        store=request.param,
        data_dir=tmp_path,
        topic_prefix="unit",
        kafka_bootstrap="127.0.0.1:1",
        dead_letter_public_key=DEAD_LETTER_PUBLIC_KEY,
    )

    # The agent asks the broker for a partition's committed offset the first time it sees the
    # partition; here there is none, and the test wrapper numbers its messages from 0.
    async def nothing_committed(tp: Any) -> int | None:
        return None

    async def first_offset(tp: Any) -> int:
        return 0

    monkeypatch.setattr(streams_app, "record_order", lambda app: RecordOrder(nothing_committed, first_offset))
    registry = Registry(settings)
    registry.add(load_ruleset())
    app = create_app(settings, load_ruleset(), registry)
    app.loop = asyncio.get_running_loop()
    app.finalize()
    outbox = Outbox()
    # Topic.send_soon builds and serializes the message, then hands it to the producer.
    monkeypatch.setattr(app.producer, "send_soon", outbox.send_soon)
    monkeypatch.setattr(streams_app, "kafka_producer", lambda app: outbox)
    # test_context() resumes the app's flow control itself (faust 0.15.3), so put() flows.
    async with app.agents["children"].test_context() as agent:
        yield Harness(app, agent, outbox)
    # Iterating the stream built the app's consumer, whose thread service (never started)
    # made an event loop of its own in its constructor: close it, or every test leaks one.
    app.consumer._thread.thread_loop.close()


def case_record(sent: Sent) -> CaseRecord:
    return CaseRecord.model_validate_json(sent.value)


def contact_ids(state: ChildState) -> list[str]:
    return [entry.id for entry in state.timeline.entries if entry.kind == "contact"]


async def test_a_good_contact_produces_one_case_record_keyed_by_contact_id(harness: Harness):
    await harness.put_contact(contact("ct-abuse", indicators=("disclosure_of_abuse",)))

    [sent] = await harness.sent_to(CASES, 1)
    assert sent.key == b"ct-abuse"
    record = case_record(sent)
    assert (record.contact_id, record.child_key, record.recommendation.level) == ("ct-abuse", CHILD_KEY, 4)
    assert "disclosure_of_abuse" in [reason.rule for reason in record.recommendation.reasons]
    assert record.recommendation.ruleset_version == load_ruleset().version
    # A recommendation: social care, waiting for a person; not a referral yet.
    assert (record.recommendation.route, record.state, record.referral) == (
        Route.SOCIAL_CARE,
        CaseState.AWAITING_DECISION,
        Referral.NOT_REFERRED,
    )
    assert harness.outbox.to(DLQ) == []
    assert contact_ids(harness.state()) == ["ct-abuse"]


async def test_malformed_json_goes_to_the_dead_letter_topic_and_the_agent_goes_on(harness: Harness):
    await harness.put(b"{not json", key=b"ck-garbled")
    await harness.put_contact(contact("ct-after"))

    [letter_sent] = await harness.sent_to(DLQ, 1)
    letter = DeadLetter.model_validate_json(letter_sent.value)
    assert letter.reason is DeadLetterReason.MALFORMED_JSON
    assert (letter.topic, letter.partition, letter.offset) == (CONTACTS, 0, 0)
    assert open_dead_letter(letter, box_key(DEAD_LETTER_PRIVATE_KEY, "private")) == (
        b"ck-garbled",
        b"{not json",
    )
    [case_sent] = await harness.sent_to(CASES, 1)
    assert case_record(case_sent).contact_id == "ct-after"
    assert contact_ids(harness.state()) == ["ct-after"]
    assert harness.app.tables[TABLE].get(b"ck-garbled") is None


async def test_a_redelivered_contact_gives_the_same_record_and_is_kept_once(harness: Harness):
    event = contact("ct-twice")

    await harness.put_contact(event)
    await harness.sent_to(CASES, 1)
    await harness.put_contact(event)

    first, second = await harness.sent_to(CASES, 2)
    assert first.key == second.key == b"ct-twice"
    assert first.value == second.value
    assert contact_ids(harness.state()) == ["ct-twice"]
    # The redelivery writes the unchanged state again: after a crash, the local state may be
    # all that holds it, and the changelog must have it before the offset is committed.
    first_state, second_state = harness.changelog()
    assert first_state.value == second_state.value


INFORMATION_ONLY = ("no_unmet_needs",)


async def test_a_childs_second_contact_is_screened_with_the_first_as_its_history(harness: Harness):
    # The first information-only note, about a child with no history, the service closes itself;
    # the second, three days later, has the first as history and waits for a person.
    await harness.put_contact(contact("ct-first", indicators=INFORMATION_ONLY))
    await harness.sent_to(CASES, 1)
    later = TUESDAY_1030 + timedelta(days=3)
    await harness.put_contact(contact("ct-second", indicators=INFORMATION_ONLY, received_at=later))

    first, second = (case_record(s) for s in await harness.sent_to(CASES, 2))
    assert (first.contact_id, first.state, first.decided_by) == (
        "ct-first",
        CaseState.CLOSED,
        DecidedBy.SERVICE,
    )
    assert (second.contact_id, second.state, second.decided_by) == (
        "ct-second",
        CaseState.AWAITING_DECISION,
        None,
    )
    assert contact_ids(harness.state()) == ["ct-first", "ct-second"]


async def test_a_childs_second_contact_in_the_same_batch_is_decided_after_the_first(harness: Harness):
    """The batch reads each child's state once, before its first event: the second contact
    must be decided from the state the first one left, not from that read."""
    await harness.put_contact(contact("ct-first", indicators=INFORMATION_ONLY), wait=False)
    later = TUESDAY_1030 + timedelta(days=3)
    await harness.put_contact(
        contact("ct-second", indicators=INFORMATION_ONLY, received_at=later), wait=False
    )

    first, second = (case_record(s) for s in await harness.sent_to(CASES, 2))
    assert (first.contact_id, first.decided_by) == ("ct-first", DecidedBy.SERVICE)
    assert (second.contact_id, second.state) == ("ct-second", CaseState.AWAITING_DECISION)
    assert contact_ids(harness.state()) == ["ct-first", "ct-second"]
    # One state per child per batch: the changelog gets the state after both contacts.
    [saved] = harness.changelog()
    assert contact_ids(ChildState.model_validate_json(saved.value)) == ["ct-first", "ct-second"]
