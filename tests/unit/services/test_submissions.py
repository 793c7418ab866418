"""Submitting contacts and outcomes, on Kafka in memory: idempotent on the agency's reference, one
write for concurrent duplicates, and nothing accepted that Kafka does not hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from mash.adapters.ports import Publisher
from mash.adapters.producer import Outgoing, ProducerUnavailable
from mash.adapters.ruleset_file import RulesetHolder
from mash.config import Settings
from mash.domain.contact import CinSource, ContactSubmission
from mash.domain.identity import reference_key
from mash.domain.outcomes import OutcomeSubmission
from mash.domain.ruleset import load_ruleset
from mash.services.submissions import (
    ContactSubmissions,
    Invalid,
    LedgerNotCaughtUp,
    NotStored,
    StoreNotConnected,
    report_outcome,
)
from mash.views.ledger import LedgerFeed
from tests.support.keys import MASTER_KEYS, test_keyring
from tests.support.memory_kafka import MemoryKafka

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICE = "police"
SETTINGS = Settings(
    mode="development",
    child_key_secret="unit-test-child-key-secret",
    master_keys=MASTER_KEYS,
)
CONTACTS, KEYS, OUTCOMES = (SETTINGS.topic(name) for name in ("contacts", "keys", "outcomes"))


def submission(reference: str = "REF-1", children: int = 1, **extra: Any) -> ContactSubmission:
    body: dict[str, Any] = {
        "agency_reference": reference,
        "children": [
            {"given_name": f"Testa{i}", "family_name": "Sampleford", "date_of_birth": "2015-03-02"}
            for i in range(children)
        ],
        "indicators": ["no_unmet_needs"],
        "narrative": "A fictional concern used in tests.",
        "consent": {"status": "given"},
        "referrer": {"name": "PC Example", "role": "police officer", "phone": "0151 000 0000"},
        **extra,
    }
    return ContactSubmission.model_validate(body)


@dataclass
class Gate:
    """A publisher in front of Kafka that holds every write until opened, then lets it through
    (or fails it, if Kafka has become unreachable meanwhile)."""

    kafka: MemoryKafka
    open: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    async def publish(self, *records: Outgoing) -> None:
        self.waiting += 1
        await self.open.wait()
        await self.kafka.publish(*records)


@dataclass
class Intake:
    """One intake process's submissions over a Kafka it shares with any other."""

    kafka: MemoryKafka
    connected: bool = True
    publisher: Publisher | None = None
    same_broker: Callable[[], Awaitable[bool]] | None = None
    feed: LedgerFeed = field(init=False)
    contacts: ContactSubmissions = field(init=False)

    def __post_init__(self) -> None:
        kafka = self.kafka
        self.feed = LedgerFeed(
            SETTINGS, test_keyring(), lambda topics, on: kafka.follower(topics, on, "ledger")
        )
        self.contacts = ContactSubmissions(
            SETTINGS,
            self.publisher or kafka,
            self.feed,
            RulesetHolder(load_ruleset()),
            connected=lambda: self.connected,
            clock=lambda: NOW,
            same_broker=self.same_broker,
        )

    async def __aenter__(self) -> Intake:
        await self.feed.start()
        await until(lambda: self.feed.caught_up)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.feed.stop()

    def submit(self, sub: ContactSubmission, agency: str = POLICE) -> Any:
        return self.contacts.submit(agency, CinSource.POLICE, sub)


async def test_a_submission_writes_one_contact_per_child_each_sealed_under_a_key_written_first() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka) as intake:
        result = await intake.submit(submission(children=2))
    assert not result.replayed
    assert result.source == CinSource.POLICE.value
    written = kafka.topics[CONTACTS]
    assert [r.key for r in written] == [c.encode() for c in result.contact_ids]
    assert len(kafka.values(KEYS)) == 2  # one data key per contact, before the contacts
    for record in written:
        assert b"Sampleford" not in (record.value or b""), "personal details are sealed"


async def test_a_resubmission_of_an_accepted_reference_returns_the_earlier_ids_and_writes_nothing() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka) as intake:
        first = await intake.submit(submission(children=2))
        written = {topic: len(records) for topic, records in kafka.topics.items()}
        again = await intake.submit(submission(children=2, narrative="Sent again, reworded."))
    assert again.replayed
    assert again.contact_ids == first.contact_ids
    assert again.source is None
    assert {topic: len(records) for topic, records in kafka.topics.items()} == written


async def test_the_same_reference_from_another_agency_is_a_new_submission() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka) as intake:
        police = await intake.submit(submission(), agency="police")
        school = await intake.submit(submission(), agency="school")
    assert not school.replayed
    assert school.contact_ids != police.contact_ids
    assert len(kafka.values(CONTACTS)) == 2


async def test_a_restarted_intake_knows_what_was_accepted_from_the_contacts_topic() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka) as before:
        first = await before.submit(submission())
    async with Intake(kafka) as after:
        again = await after.submit(submission())
        assert after.contacts.status(first.contact_ids[0], POLICE) is not None
    assert again.replayed
    assert again.contact_ids == first.contact_ids
    assert len(kafka.values(CONTACTS)) == 1


async def test_two_concurrent_identical_submissions_write_once_and_both_get_the_same_ids() -> None:
    async with first_write_held() as (kafka, gate, intake, first):
        second = asyncio.create_task(intake.submit(submission()))
        await asyncio.sleep(0.01)
        assert not second.done(), "the second waits for the first's answer"
        gate.open.set()
        answers = await asyncio.gather(first, second)
    assert [a.replayed for a in answers] == [False, True]
    assert answers[0].contact_ids == answers[1].contact_ids
    assert len(kafka.values(CONTACTS)) == 1


async def test_if_the_first_of_two_concurrent_submissions_fails_the_second_is_refused_not_left_waiting() -> (
    None
):
    async with first_write_held() as (kafka, gate, intake, first):
        second = asyncio.create_task(intake.submit(submission()))
        await asyncio.sleep(0.01)
        kafka.reachable = False
        gate.open.set()
        results = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 1.0)
    assert [type(r) for r in results] == [NotStored, NotStored]
    assert kafka.values(CONTACTS) == []


async def test_a_waiter_that_gives_up_does_not_spoil_the_first_submissions_answer() -> None:
    async with first_write_held() as (_kafka, gate, intake, first):
        impatient = asyncio.create_task(intake.submit(submission()))
        await asyncio.sleep(0.01)
        impatient.cancel()
        gate.open.set()
        result = await first
        later = await intake.submit(submission())
    assert not result.replayed
    assert later.replayed
    assert later.contact_ids == result.contact_ids


async def test_kafka_unreachable_means_not_stored_and_nothing_recorded_and_a_retry_later_succeeds() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka) as intake:
        kafka.reachable = False
        with pytest.raises(NotStored):
            await intake.submit(submission())
        assert intake.feed.ledger.accepted(reference_of(intake)) is None
        kafka.reachable = True
        retried = await intake.submit(submission())
    assert not retried.replayed
    assert len(kafka.values(CONTACTS)) == 1


async def test_a_failed_write_of_the_contacts_does_not_mark_the_reference_accepted() -> None:
    kafka = MemoryKafka()

    @dataclass
    class KeysOnly:
        """Kafka that takes the data keys and then goes away before the contacts."""

        async def publish(self, *records: Outgoing) -> None:
            if records[0].topic != KEYS:
                raise ProducerUnavailable("gone")
            await kafka.publish(*records)

    async with Intake(kafka, publisher=KeysOnly()) as intake:
        with pytest.raises(NotStored):
            await intake.submit(submission())
        assert intake.feed.ledger.accepted(reference_of(intake)) is None
    assert kafka.values(CONTACTS) == []
    async with Intake(kafka) as restarted:
        assert not (await restarted.submit(submission())).replayed


async def test_nothing_is_written_before_kafka_is_first_reached() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka, connected=False) as intake:
        with pytest.raises(StoreNotConnected):
            await intake.submit(submission())
    assert kafka.topics == {}


async def test_until_the_ledger_has_caught_up_no_submission_or_status_is_answered_from_it() -> None:
    kafka = MemoryKafka()
    intake = Intake(kafka)  # its ledger not started
    with pytest.raises(LedgerNotCaughtUp):
        await intake.submit(submission())
    with pytest.raises(LedgerNotCaughtUp):
        intake.contacts.status("ct-1", POLICE)
    assert kafka.topics == {}


async def test_an_invalid_submission_is_refused_with_its_problems_even_before_kafka_is_reached() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka, connected=False) as intake:
        bad = submission(indicators=["not_a_code"])
        with pytest.raises(Invalid) as refused:
            await intake.submit(bad)
        too_old = submission(received_at=NOW - timedelta(days=30))
        with pytest.raises(Invalid):
            await intake.submit(too_old)
    [problem] = refused.value.problems
    assert "not_a_code" in problem.msg
    assert "GET /v1/indicators" in problem.msg
    assert kafka.topics == {}


async def test_a_contacts_status_is_shown_only_to_the_agency_that_made_it() -> None:
    kafka = MemoryKafka()
    async with Intake(kafka) as intake:
        [contact_id] = (await intake.submit(submission())).contact_ids
        assert intake.contacts.status(contact_id, POLICE) == {"contact_id": contact_id, "status": "received"}
        assert intake.contacts.status(contact_id, "school") is None


async def test_an_outcome_is_written_keyed_by_its_id_and_a_future_one_is_refused() -> None:
    kafka = MemoryKafka()
    outcome = OutcomeSubmission.model_validate(
        {
            "type": "case_closed",
            "child": {"given_name": "Testa", "family_name": "Sampleford", "date_of_birth": "2015-03-02"},
            "occurred_at": NOW.isoformat(),
            "reference": "CASE-1",
        }
    )
    event = await report_outcome(SETTINGS, kafka, "council", outcome, NOW)
    [record] = kafka.topics[OUTCOMES]
    assert record.key == event.outcome_id.encode()
    assert orjson.loads(record.value or b"")["outcome_id"] == event.outcome_id
    with pytest.raises(Invalid):
        await report_outcome(SETTINGS, kafka, "council", outcome, NOW - timedelta(hours=1))
    kafka.reachable = False
    with pytest.raises(NotStored):
        await report_outcome(SETTINGS, kafka, "council", outcome, NOW)
    assert len(kafka.values(OUTCOMES)) == 1


def reference_of(intake: Intake, reference: str = "REF-1", agency: str = POLICE) -> str:
    """The key the ledger knows this submission by."""
    return reference_key(SETTINGS.secret(), agency, reference)


async def test_an_earlier_acceptance_is_not_repeated_once_the_broker_that_held_it_is_gone() -> None:
    """The embedded broker can come back empty: the earlier contacts went with it, so "already
    accepted" would be a lie. The client is told to retry, and its retry is written anew."""
    kafka = MemoryKafka()
    async with Intake(kafka) as before:
        await before.submit(submission())

    async def replaced() -> bool:
        return False

    async with Intake(kafka, same_broker=replaced) as after:
        with pytest.raises(LedgerNotCaughtUp):
            await after.submit(submission())
    assert len(kafka.values(CONTACTS)) == 1


async def test_an_earlier_acceptance_is_repeated_while_its_broker_is_the_same() -> None:
    kafka = MemoryKafka()

    async def same() -> bool:
        return True

    async with Intake(kafka, same_broker=same) as intake:
        first = await intake.submit(submission())
        again = await intake.submit(submission())
    assert (again.replayed, again.contact_ids) == (True, first.contact_ids)


async def test_an_earlier_acceptance_is_not_repeated_when_the_broker_cannot_be_asked() -> None:
    kafka = MemoryKafka()

    async def unreachable() -> bool:
        raise ProducerUnavailable("the broker does not answer")

    async with Intake(kafka) as before:
        await before.submit(submission())
    async with Intake(kafka, same_broker=unreachable) as after:
        with pytest.raises(NotStored):
            await after.submit(submission())


@asynccontextmanager
async def first_write_held() -> AsyncIterator[tuple[MemoryKafka, Gate, Intake, asyncio.Task[Any]]]:
    """An intake whose first submission is on its way to Kafka, held at the gate."""
    kafka = MemoryKafka()
    gate = Gate(kafka)
    async with Intake(kafka, publisher=gate) as intake:
        first = asyncio.create_task(intake.submit(submission()))
        await until(lambda: gate.waiting == 1)
        yield kafka, gate, intake, first


async def until(condition: Callable[[], bool], timeout: float = 1.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0)
