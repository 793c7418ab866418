"""The worker's two agents themselves, run in-process with faust's `agent.test_context()` (no Kafka).

Input events (contacts, outcomes, decisions, identity decisions) go straight into the
`identities` agent's stream. Every outbound record is caught where it leaves the worker: the
children's updates on the resolved topic, case records and the tables' changelogs at the
aiokafka producer the worker sends them to (`mash.worker.output`), dead letters at faust's
producer after faust's own topic code has built and serialized them. What the identities agent
sends to the resolved topic is handed on, as it is caught and keyed as it was sent, to the
`children` agent, as Kafka would. So nothing leaves the process and the tests can see exactly
what was sent where.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import faust
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
from faust.stores.rocksdb import Store as RocksDBStore

from mash.adapters.dead_letters import DeadLetter, DeadLetterReason, box_key, open_dead_letter
from mash.adapters.ruleset_registry import Registry
from mash.config import Settings
from mash.domain.case import CaseRecord, CaseState, DecidedBy, Referral, supersedes
from mash.domain.child import ChildState
from mash.domain.contact import Child, CinSource, Consent, ConsentStatus, ContactEvent, Referrer
from mash.domain.identities import SightingRow
from mash.domain.identity import identifiers
from mash.domain.persons import child_key_of
from mash.domain.ruleset import Route, load_ruleset
from mash.domain.timeline import ChildUpdate
from mash.worker import faust_app as streams_app
from mash.worker.delivery import RecordOrder
from mash.worker.faust_app import create_app
from mash.worker.faust_internals import table_db
from tests.support.keys import DEAD_LETTER_PRIVATE_KEY, DEAD_LETTER_PUBLIC_KEY, sealed_json, test_keyring

CONTACTS = "unit.contacts.v1"
RESOLVED = "unit.resolved.v1"
CASES = "unit.cases.v1"
DLQ = "unit.dlq.v1"
TABLE = "unit-children"
IDENTITIES = "unit-identities"
TUESDAY_1030 = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
WAIT_S = 2.0
SECRET = b"unit-test identifier secret"  # the intake's: the worker sees only the keyed hashes

KEYRING = test_keyring()  # the intake's: the worker holds no key

TESTO = Child(given_name="Testo", family_name="Sampleford", date_of_birth=date(2018, 7, 19))
NHS = "9434765919"


def contact(
    contact_id: str,
    *,
    indicators: tuple[str, ...] = ("disclosure_of_abuse",),
    received_at: datetime = TUESDAY_1030,
    child: Child = TESTO,
) -> ContactEvent:
    """A police contact about one fictional child (Testo, known by name and date of birth, unless told)."""
    return ContactEvent(
        contact_id=contact_id,
        identifiers=identifiers(SECRET, child),
        agency="police",
        agency_reference=f"MP-{contact_id}",
        child_index=0,
        children_in_submission=1,
        received_at=received_at,
        accepted_at=received_at + timedelta(seconds=2),
        source=CinSource.POLICE,
        child=child,
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
    which it acknowledges at once with the next offset of the record's partition. A record sent
    to a topic in `relay` is handed on to whatever reads that topic, in the order sent."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.changed = asyncio.Event()
        self.offsets: dict[TopicPartition, int] = {}
        self.relay: dict[str, Callable[[Sent], Awaitable[None]]] = {}

    def send_soon(self, fut: Any) -> None:
        message = fut.message
        self.add(Sent(message.channel.get_topic_name(), message.key, message.value))

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> asyncio.Future[RecordMetadata]:
        sent = Sent(topic, key, value, partition)
        self.add(sent)
        tp = TopicPartition(topic, partition or 0)
        offset = self.offsets[tp] = self.offsets.get(tp, -1) + 1
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(RecordMetadata(topic, tp.partition, tp, offset, -1, -1, 0))
        if (reader := self.relay.get(topic)) is not None:
            await reader(sent)
        return delivery

    def add(self, sent: Sent) -> None:
        self.sent.append(sent)
        self.changed.set()

    def to(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class Harness:
    app: faust.App
    identities: Any  # faust's AgentTestWrapper around the `identities` agent
    children: Any  # and around the `children` agent
    outbox: Outbox
    offsets: dict[str, int] = field(default_factory=dict)  # the next offset of each input topic
    # Children whose partition of the resolved topic lags: their updates wait for `release()`.
    lagging: set[bytes] = field(default_factory=set)
    held: list[Sent] = field(default_factory=list)

    async def put(self, value: bytes, key: bytes, topic: str = CONTACTS, wait: bool = True) -> None:
        """An input event into the identities agent. `wait=False` only queues the event, so events
        put in a row reach the agent in one batch."""
        # The agent reads several topics and dispatches on the record's topic, but the test
        # wrapper names its messages after `original_channel`, which for a multi-topic
        # channel has no single name ("<internal>"); point it at the topic being simulated.
        # It numbers its messages across every topic; each topic's own start at 0.
        self.identities.original_channel = self.app.topic(topic)
        self.identities.sent_offset = self.offsets.get(topic, 0)
        self.offsets[topic] = self.identities.sent_offset + 1
        await self.identities.put(value=value, key=key, wait=wait)

    async def put_contact(self, event: ContactEvent, wait: bool = True) -> None:
        await self.put(sealed_json(KEYRING, event), key=event.contact_id.encode(), wait=wait)

    async def resolved(self, sent: Sent) -> None:
        """What the identities agent sent to the resolved topic, into the children agent, keyed as
        sent. Only queued: the updates of one batch of inputs reach the children agent together."""
        if sent.key in self.lagging:
            self.held.append(sent)
            return
        await self.children.put(value=sent.value, key=sent.key, wait=False)

    async def release(self) -> None:
        """The lagging partitions catch up: their updates, in the order sent."""
        self.lagging.clear()
        held, self.held = self.held, []
        for sent in held:
            await self.resolved(sent)

    async def until(self, done: Callable[[], bool], what: str) -> None:
        """Waits until `done()`, failing if either agent crashes first or it takes too long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not done():
            crash = self.identities._crash_reason or self.children._crash_reason
            remaining = deadline - loop.time()
            if crash is not None or remaining <= 0:
                sent = [(s.topic, s.key, s.value[:120]) for s in self.outbox.sent]
                pytest.fail(f"expected {what}; agent crash: {crash!r}; sent: {sent}")
            self.outbox.changed.clear()
            with contextlib.suppress(TimeoutError):  # wake now and then to notice a crash
                await asyncio.wait_for(self.outbox.changed.wait(), min(remaining, 0.05))

    async def sent_to(self, topic: str, count: int) -> list[Sent]:
        """Waits until `count` records were sent to `topic`, then returns all sent to it.

        `put()` returns once the stream has taken the value, which for an agent that yields
        nothing is before the agent body has run, so wait for the body's sends. One event's
        sends all happen in one go, so callers unpack the result: an extra record fails too.
        """
        await self.until(lambda: len(self.outbox.to(topic)) >= count, f"{count} record(s) on {topic}")
        return self.outbox.to(topic)

    async def record_of(self, contact_id: str) -> CaseRecord:
        """Waits for a case record of the contact; returns the latest one sent."""
        await self.until(lambda: contact_id in self.records(), f"a case record of {contact_id}")
        return self.records()[contact_id]

    def records(self) -> dict[str, CaseRecord]:
        """The case record each contact has, as every reader of the cases topic keeps them: the
        latest, unless it was placed under an earlier child (`mash.domain.case.supersedes`)."""
        kept: dict[str, CaseRecord] = {}
        for record in map(case_record, self.outbox.to(CASES)):
            if supersedes(record, kept.get(record.contact_id)):
                kept[record.contact_id] = record
        return kept

    def state(self, child_key: str) -> ChildState:
        return ChildState.model_validate_json(self.stored(TABLE, child_key.encode()))

    def stored(self, table_name: str, key: bytes) -> bytes:
        table: Any = self.app.tables[table_name]  # a faust Table of bytes
        stored = table.get(key)
        assert stored is not None, f"nothing stored in {table_name} for {key!r}"
        if isinstance(table.data, RocksDBStore):
            # Recovery writes a changelog partition's records into that partition's database,
            # so the worker's own write must be there too.
            [partition] = {sent.partition for sent in self.changelog(table_name) if sent.key == key}
            assert partition is not None
            assert table_db(table.data, partition).get(key) == stored
        return bytes(stored)

    def changelog(self, table_name: str = TABLE) -> list[Sent]:
        return self.outbox.to(self.app.tables[table_name].changelog_topic.get_topic_name())

    def updates(self) -> list[ChildUpdate]:
        return [ChildUpdate.model_validate_json(sent.value) for sent in self.outbox.to(RESOLVED)]


def recover(app: faust.App, table_name: str, changelog: list[Sent]) -> None:
    """What faust's recovery does for a worker taking a table over: the changelog's records, the
    last for each key, into the table's store for their partition."""
    table: Any = app.tables[table_name]
    store = table.data
    for sent in changelog:
        assert sent.key is not None
        table_db(store, sent.partition or 0)[sent.key] = sent.value


@contextlib.asynccontextmanager
async def running_worker(
    store: str,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    recovered: dict[str, list[Sent]] | None = None,
) -> AsyncIterator[Harness]:
    """A worker app with both agents in test contexts; `recovered` gives tables' changelogs to
    start from, as a worker that takes the tables over finds them."""
    settings = Settings(
        mode="development",
        child_key_secret="x",
        store=store,
        data_dir=data_dir,
        topic_prefix="unit",
        kafka_bootstrap="127.0.0.1:1",
        dead_letter_public_key=DEAD_LETTER_PUBLIC_KEY,
    )

    # The agents ask the broker for a partition's committed offset the first time they see the
    # partition; here there is none, and the harness numbers each topic's messages from 0.
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
    for table_name, changelog in (recovered or {}).items():
        recover(app, table_name, changelog)
    outbox = Outbox()
    # Topic.send_soon builds and serializes the message, then hands it to the producer.
    monkeypatch.setattr(app.producer, "send_soon", outbox.send_soon)
    monkeypatch.setattr(streams_app, "kafka_producer", lambda app: outbox)
    # test_context() resumes the app's flow control itself (faust 0.15.3), so put() flows.
    async with (
        app.agents["identities"].test_context() as identities,
        app.agents["children"].test_context() as children,
    ):
        harness = Harness(app, identities, children, outbox)
        outbox.relay[RESOLVED] = harness.resolved
        yield harness
    # Iterating the streams built the app's consumer, whose thread service (never started)
    # made an event loop of its own in its constructor: close it, or every test leaks one.
    cast(Any, app.consumer)._thread.thread_loop.close()


# Both table stores: the worker reads and writes RocksDB itself (`mash.worker.output`), and
# `Harness.stored` reads it back through faust's own table.
@pytest.fixture(params=["memory://", "rocksdb://"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with running_worker(store, tmp_path / "worker", monkeypatch) as running:
        yield running


def case_record(sent: Sent) -> CaseRecord:
    return CaseRecord.model_validate_json(sent.value)


def contact_ids(state: ChildState) -> list[str]:
    return [entry.id for entry in state.timeline.entries if entry.kind == "contact"]


async def test_a_good_contact_produces_one_case_record_keyed_by_contact_id(harness: Harness) -> None:
    await harness.put_contact(contact("ct-abuse", indicators=("disclosure_of_abuse",)))

    [sent] = await harness.sent_to(CASES, 1)
    assert sent.key == b"ct-abuse"
    record = case_record(sent)
    child = child_key_of("ct-abuse")  # a new child is named after its first contact
    assert (record.contact_id, record.child_key, record.recommendation.level) == ("ct-abuse", child, 4)
    assert "disclosure_of_abuse" in [reason.rule for reason in record.recommendation.reasons]
    assert record.recommendation.ruleset_version == load_ruleset().version
    # A recommendation: social care, waiting for a person; not a referral yet.
    assert (record.recommendation.route, record.state, record.referral) == (
        Route.SOCIAL_CARE,
        CaseState.AWAITING_DECISION,
        Referral.NOT_REFERRED,
    )
    assert not record.identity_to_check
    assert harness.outbox.to(DLQ) == []
    # The identities agent told the child, keyed by its child key.
    [update] = harness.outbox.to(RESOLVED)
    assert update.key == child.encode()
    assert contact_ids(harness.state(child)) == ["ct-abuse"]


async def test_malformed_json_goes_to_the_dead_letter_topic_and_the_agent_goes_on(harness: Harness) -> None:
    await harness.put(b"{not json", key=b"ct-garbled")
    await harness.put_contact(contact("ct-after"))

    [letter_sent] = await harness.sent_to(DLQ, 1)
    letter = DeadLetter.model_validate_json(letter_sent.value)
    assert letter.reason is DeadLetterReason.MALFORMED_JSON
    assert (letter.topic, letter.partition, letter.offset) == (CONTACTS, 0, 0)
    assert open_dead_letter(letter, box_key(DEAD_LETTER_PRIVATE_KEY, "private")) == (
        b"ct-garbled",
        b"{not json",
    )
    [case_sent] = await harness.sent_to(CASES, 1)
    assert case_record(case_sent).contact_id == "ct-after"
    assert contact_ids(harness.state(child_key_of("ct-after"))) == ["ct-after"]
    # The dead letter told no child and left no row.
    assert [update.child_key for update in harness.updates()] == [child_key_of("ct-after")]
    tables: Any = harness.app.tables
    assert tables[IDENTITIES].get(b"s:ct-garbled") is None
    assert tables[TABLE].get(child_key_of("ct-garbled").encode()) is None


async def test_a_redelivered_contact_gives_the_same_record_and_is_kept_once(harness: Harness) -> None:
    event = contact("ct-twice")

    await harness.put_contact(event)
    await harness.sent_to(CASES, 1)
    await harness.put_contact(event)

    first, second = await harness.sent_to(CASES, 2)
    assert first.key == second.key == b"ct-twice"
    assert first.value == second.value
    child = child_key_of("ct-twice")
    assert contact_ids(harness.state(child)) == ["ct-twice"]
    # The identities agent sends the child's update again (it may never have reached Kafka).
    first_update, second_update = harness.outbox.to(RESOLVED)
    assert first_update == second_update
    # The redelivery writes the unchanged state again: after a crash, the local state may be
    # all that holds it, and the changelog must have it before the offset is committed.
    first_state, second_state = harness.changelog()
    assert first_state.value == second_state.value


INFORMATION_ONLY = ("no_unmet_needs",)


async def test_a_childs_second_contact_is_screened_with_the_first_as_its_history(harness: Harness) -> None:
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
    # The same child: named after its first contact.
    assert first.child_key == second.child_key == child_key_of("ct-first")
    assert contact_ids(harness.state(child_key_of("ct-first"))) == ["ct-first", "ct-second"]


async def test_a_childs_second_contact_in_the_same_batch_is_decided_after_the_first(harness: Harness) -> None:
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
    child = child_key_of("ct-first")
    assert contact_ids(harness.state(child)) == ["ct-first", "ct-second"]
    # One state per child per batch: the changelog gets the state after both contacts.
    [saved] = harness.changelog()
    assert saved.key == child.encode()
    assert contact_ids(ChildState.model_validate_json(saved.value)) == ["ct-first", "ct-second"]


# --- which child: identities resolved before the children agent sees a contact -------------------

# The police know Testo by NHS number, with his name spelled another way; the school by his name
# and date of birth only. Two children, until a contact carries both.
TESTO_BY_NHS = Child(
    nhs_number=NHS, given_name="Testo", family_name="Sampleforde", date_of_birth=date(2018, 7, 19)
)
TESTO_WITH_BOTH = Child(
    nhs_number=NHS, given_name="Testo", family_name="Sampleford", date_of_birth=date(2018, 7, 19)
)
# Another child, four years younger, given Testo's NHS number by mistake.
WRONG_NHS = Child(nhs_number=NHS, given_name="Bo", family_name="Otherby", date_of_birth=date(2022, 1, 5))


async def test_a_contact_carrying_both_identifiers_makes_two_children_one(harness: Harness) -> None:
    day = timedelta(days=1)
    await harness.put_contact(contact("ct-police", child=TESTO_BY_NHS))
    await harness.put_contact(contact("ct-school", child=TESTO, received_at=TUESDAY_1030 + day))
    police, school = await harness.record_of("ct-police"), await harness.record_of("ct-school")
    assert police.child_key == child_key_of("ct-police")
    assert school.child_key == child_key_of("ct-school")  # nothing ties them yet

    await harness.put_contact(contact("ct-both", child=TESTO_WITH_BOTH, received_at=TUESDAY_1030 + 2 * day))
    await harness.record_of("ct-both")

    # One child, named after its earliest contact: every contact's latest record says so, and the
    # school's contact, first published under a child of its own, is published again under it.
    one = child_key_of("ct-police")
    assert {cid: r.child_key for cid, r in harness.records().items()} == {
        "ct-police": one,
        "ct-school": one,
        "ct-both": one,
    }
    school_records = [
        r.child_key for r in map(case_record, harness.outbox.to(CASES)) if r.contact_id == "ct-school"
    ]
    assert school_records == [child_key_of("ct-school"), one]
    assert contact_ids(harness.state(one)) == ["ct-police", "ct-school", "ct-both"]
    # The school's child was told its contact is no longer its own.
    assert contact_ids(harness.state(child_key_of("ct-school"))) == []
    assert harness.outbox.to(DLQ) == []


async def test_an_nhs_number_of_another_date_of_birth_is_an_identity_to_check_and_a_child_of_its_own(
    harness: Harness,
) -> None:
    await harness.put_contact(contact("ct-testo", child=TESTO_WITH_BOTH))
    await harness.put_contact(
        contact("ct-wrong", child=WRONG_NHS, received_at=TUESDAY_1030 + timedelta(days=1))
    )

    wrong = await harness.record_of("ct-wrong")
    assert (wrong.identity_to_check, wrong.identity_conflict) == (True, "ct-testo")
    assert wrong.child_key == child_key_of("ct-wrong") != child_key_of("ct-testo")
    # Testo's own record is untouched: published once, not to check.
    [testo] = [r for r in map(case_record, harness.outbox.to(CASES)) if r.contact_id == "ct-testo"]
    assert (testo.child_key, testo.identity_to_check) == (child_key_of("ct-testo"), False)
    assert contact_ids(harness.state(child_key_of("ct-testo"))) == ["ct-testo"]
    assert contact_ids(harness.state(child_key_of("ct-wrong"))) == ["ct-wrong"]


async def test_a_worker_taking_the_identities_table_over_resolves_later_contacts_to_the_same_child(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_worker(store, tmp_path / "first", monkeypatch) as first:
        await first.put_contact(contact("ct-first", child=TESTO_WITH_BOTH))
        await first.record_of("ct-first")
        # The identities agent keeps a row per sighting, in its table and its changelog.
        row = SightingRow.model_validate_json(first.stored(IDENTITIES, b"s:ct-first"))
        assert row.sighting[0] == "ct-first"
        assert row.entry.id == "ct-first"
        assert row.sent_to == [child_key_of("ct-first")]
        identities_changelog = first.changelog(IDENTITIES)
        assert [sent.key for sent in identities_changelog] == [b"s:ct-first"]

    # Another worker, with the identities table as it recovers it from the changelog (and an
    # empty child table): a contact known by the NHS number alone is the same child.
    later = contact("ct-later", child=TESTO_BY_NHS, received_at=TUESDAY_1030 + timedelta(days=1))
    recovered = {IDENTITIES: identities_changelog}
    async with running_worker(store, tmp_path / "second", monkeypatch, recovered) as second:
        await second.put_contact(later)
        record = await second.record_of("ct-later")

        assert record.child_key == child_key_of("ct-first")
        assert [update.child_key for update in second.updates()] == [child_key_of("ct-first")]
        assert contact_ids(second.state(child_key_of("ct-first"))) == ["ct-later"]
        row = SightingRow.model_validate_json(second.stored(IDENTITIES, b"s:ct-later"))
        assert row.sent_to == [child_key_of("ct-first")]


async def test_a_moved_contacts_last_record_is_its_new_childs_whatever_order_the_children_are_read_in(
    harness: Harness,
) -> None:
    # The resolved topic keeps each child's updates in order, on the child's partition; another
    # child's partition may be read ahead of it. Here the school's child's partition lags until
    # the contact that ties the two children has been handled on the police's child's.
    school_child = child_key_of("ct-school")
    harness.lagging.add(school_child.encode())
    day = timedelta(days=1)
    await harness.put_contact(contact("ct-police", child=TESTO_BY_NHS))
    await harness.put_contact(contact("ct-school", child=TESTO, received_at=TUESDAY_1030 + day))
    await harness.put_contact(contact("ct-both", child=TESTO_WITH_BOTH, received_at=TUESDAY_1030 + 2 * day))
    assert (await harness.record_of("ct-school")).child_key == child_key_of("ct-police")

    await harness.release()

    def caught_up() -> bool:
        saved = [s for s in harness.changelog() if s.key == school_child.encode()]
        return bool(saved) and contact_ids(ChildState.model_validate_json(saved[-1].value)) == []

    await harness.until(caught_up, "the school's child to have read its updates")
    # The old child published the school's contact again after the move (it had not heard of it),
    # under its earlier placement: every reader keeps the new child's record.
    stale = [r for r in map(case_record, harness.outbox.to(CASES)) if r.contact_id == "ct-school"][-1]
    assert (stale.child_key, stale.placement) == (school_child, 0)
    # The case record the readers keep for the school's contact is its new child's.
    assert harness.records()["ct-school"].child_key == child_key_of("ct-police")
