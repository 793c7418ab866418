"""Running the integrated mid-day meeting, on Kafka in memory: freezing an agenda once, on a meeting
day that has come; recording a meeting once, its outcomes (sealed) before its record; and nothing
written, nothing kept, when Kafka is unreachable or the form is refused."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka.errors import KafkaError

from mash.adapters.producer import Outgoing
from mash.config import Settings
from mash.domain.decisions import DecisionEvent, ImmOutcome, PartnerAgency
from mash.domain.imm import AgendaFrozen, ImmLog, MeetingRecorded
from mash.domain.sealed import Sealed
from mash.services.decisions import SealedWriter, StoreUnavailable
from mash.services.meeting import (
    AlreadyRecorded,
    FormRefused,
    Meetings,
    NoMeetingThatDay,
    NoSuchMeeting,
    NotFrozenYet,
    Recorded,
)
from tests.support.imm_world import (
    FRI,
    LEVEL_2,
    LEVEL_4,
    MEETING_AT,
    SAT,
    TUE,
    World,
    contact,
    london,
    outcome_event,
)
from tests.support.keys import test_keyring
from tests.support.memory_kafka import MemoryKafka

SETTINGS = Settings(mode="development")
KEYS, DECISIONS, IMM = (SETTINGS.topic(name) for name in ("keys", "decisions", "imm"))
FRIDAY = "imm-2026-08-28"
DISSENT = "Fictional dissent: education preferred early help first."


@dataclass
class Journal:
    """Kafka in memory that takes a turn of the event loop per write, as a round trip would,
    notes the topics of each write, and refuses writes to `failing` topics."""

    kafka: MemoryKafka = field(default_factory=MemoryKafka)
    writes: list[list[str]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    async def publish(self, *records: Outgoing) -> None:
        await asyncio.sleep(0)
        if any(r.topic in self.failing for r in records):
            raise KafkaError()
        await self.kafka.publish(*records)
        self.writes.append([r.topic for r in records])


def friday_world() -> World:
    world = World()
    world.add("ck-1", contact("ct-a", london(FRI, 9), LEVEL_2))
    world.add("ck-2", contact("ct-b", london(FRI, 9, 30)))
    world.add("ck-3", contact("ct-c", london(FRI, 10), LEVEL_4))
    return world


def meetings(world: World, kafka: MemoryKafka | Journal, log: ImmLog | None = None) -> Meetings:
    records = {r.contact_id: r for r in world.records()}
    return Meetings(SealedWriter(kafka, SETTINGS, test_keyring()), log or world.log, records)


def frozen_friday() -> World:
    world = friday_world()
    assert world.freeze(FRI) is not None
    return world


def recorded(agenda: AgendaFrozen) -> Recorded:
    """The meeting discussed ct-b (an assessment, with a dissent) and carried the rest over."""
    decision = outcome_event(
        "dc-r1-ct-b",
        "ct-b",
        MEETING_AT,
        ImmOutcome.CSC_ASSESSMENT,
        agenda.meeting_id,
        PartnerAgency.CHILDRENS_SOCIAL_CARE,
        child_key="ck-2",
        dissent=DISSENT,
    )
    meeting = MeetingRecorded(
        meeting_id=agenda.meeting_id,
        recording_id="r1",
        agencies_present=(PartnerAgency.POLICE,),
        recorded_by="coordinator",
        recorded_at=MEETING_AT,
        discussed=("ct-b",),
        carried=tuple(i.contact_id for i in agenda.items if i.contact_id != "ct-b"),
    )
    return Recorded(decisions=[decision], meeting=meeting)


# --- freezing the agenda ------------------------------------------------------------------------------


async def test_freezing_writes_the_agenda_keyed_by_its_meeting_and_keeps_it_at_once() -> None:
    kafka, log = MemoryKafka(), ImmLog()
    frozen = await meetings(friday_world(), kafka, log).freeze(FRI, london(FRI, 11), "manager")
    assert frozen.new
    assert [i.contact_id for i in frozen.agenda.items] == ["ct-c", "ct-b", "ct-a"]
    [written] = kafka.topics[IMM]
    assert (written.key, written.value) == (FRIDAY.encode(), frozen.agenda.model_dump_json().encode())
    assert log.agendas[FRIDAY] == frozen.agenda


async def test_an_agenda_already_frozen_is_kept_as_it_was_and_nothing_is_written() -> None:
    world, kafka = frozen_friday(), MemoryKafka()
    first = world.log.agendas[FRIDAY]
    again = await meetings(world, kafka).freeze(FRI, london(FRI, 15), "manager")
    assert (again.new, again.agenda) == (False, first)
    assert kafka.topics == {}


async def test_a_day_without_a_meeting_has_no_agenda_to_freeze() -> None:
    kafka = MemoryKafka()
    with pytest.raises(NoMeetingThatDay, match="no meeting on Saturday 29 August 2026"):
        await meetings(friday_world(), kafka).freeze(SAT, london(SAT, 12), "manager")
    assert kafka.topics == {}


async def test_a_meeting_still_to_come_cannot_have_its_agenda_frozen_yet() -> None:
    kafka = MemoryKafka()
    with pytest.raises(NotFrozenYet, match="in the future"):
        await meetings(friday_world(), kafka).freeze(TUE, london(FRI, 12), "manager")
    assert kafka.topics == {}


async def test_an_agenda_kafka_did_not_take_is_not_kept_as_frozen() -> None:
    kafka, log = MemoryKafka(reachable=False), ImmLog()
    with pytest.raises(StoreUnavailable):
        await meetings(friday_world(), kafka, log).freeze(FRI, london(FRI, 11), "manager")
    assert log.agendas == {}


# --- recording the meeting -----------------------------------------------------------------------------


async def test_recording_writes_each_outcome_sealed_under_its_contacts_key_then_the_meeting_record() -> None:
    world, journal = frozen_friday(), Journal()
    service = meetings(world, journal)
    result = await service.record(FRIDAY, recorded)
    assert isinstance(result, Recorded)
    assert journal.writes == [[KEYS], [DECISIONS], [IMM]]
    [decision] = journal.kafka.topics[DECISIONS]
    assert decision.key == b"ct-b"
    assert decision.value is not None
    assert b"education preferred" not in decision.value
    event = DecisionEvent.model_validate_json(decision.value)
    assert isinstance(event.rationale, Sealed)
    assert isinstance(event.dissent, Sealed)
    opened = service.writer.keyring.open(event.dissent, b"dc-r1-ct-b/dissent").decode()
    assert opened == DISSENT
    [meeting] = journal.kafka.topics[IMM]
    assert (meeting.key, meeting.value) == (FRIDAY.encode(), result.meeting.model_dump_json().encode())
    assert world.log.meetings[FRIDAY] == result.meeting


async def test_a_meeting_where_every_case_was_carried_over_writes_only_its_record() -> None:
    world, journal = frozen_friday(), Journal()

    def all_carried(agenda: AgendaFrozen) -> Recorded:
        meeting = recorded(agenda).meeting.model_copy(
            update={"discussed": (), "carried": tuple(i.contact_id for i in agenda.items)}
        )
        return Recorded(decisions=[], meeting=meeting)

    await meetings(world, journal).record(FRIDAY, all_carried)
    assert journal.writes == [[IMM]]


async def test_a_meeting_is_recorded_once_and_a_second_recording_writes_nothing() -> None:
    world, kafka = frozen_friday(), MemoryKafka()
    service = meetings(world, kafka)
    await service.record(FRIDAY, recorded)
    written = {topic: len(records) for topic, records in kafka.topics.items()}
    with pytest.raises(AlreadyRecorded):
        await service.record(FRIDAY, recorded)
    assert {topic: len(records) for topic, records in kafka.topics.items()} == written


async def test_two_recordings_sent_at_once_record_the_meeting_once() -> None:
    world, journal = frozen_friday(), Journal()
    service = meetings(world, journal)
    results = await asyncio.gather(
        service.record(FRIDAY, recorded), service.record(FRIDAY, recorded), return_exceptions=True
    )
    assert sum(isinstance(r, Recorded) for r in results) == 1
    assert sum(isinstance(r, AlreadyRecorded) for r in results) == 1
    assert len(journal.kafka.topics[IMM]) == 1


async def test_a_meeting_whose_agenda_was_never_frozen_cannot_be_recorded() -> None:
    kafka = MemoryKafka()
    with pytest.raises(NoSuchMeeting):
        await meetings(friday_world(), kafka).record(FRIDAY, recorded)
    assert kafka.topics == {}


async def test_a_refused_form_writes_nothing_and_leaves_the_meeting_to_record() -> None:
    world, kafka = frozen_friday(), MemoryKafka()
    refused = FormRefused(["Tick the agencies present at the meeting."])
    assert await meetings(world, kafka).record(FRIDAY, lambda _: refused) == refused
    assert (kafka.topics, world.log.meetings) == ({}, {})


async def test_a_meeting_kafka_did_not_take_is_not_kept_as_recorded_and_can_be_recorded_again() -> None:
    world, kafka = frozen_friday(), MemoryKafka(reachable=False)
    service = meetings(world, kafka)
    with pytest.raises(StoreUnavailable):
        await service.record(FRIDAY, recorded)
    assert (kafka.topics, world.log.meetings) == ({}, {})
    kafka.reachable = True
    assert isinstance(await service.record(FRIDAY, recorded), Recorded)


async def test_no_meeting_record_is_written_while_its_outcomes_are_not() -> None:
    world, journal = frozen_friday(), Journal(failing={DECISIONS})
    with pytest.raises(StoreUnavailable) as refused:
        await meetings(world, journal).record(FRIDAY, recorded)
    assert refused.value.reason == "KafkaError"
    assert IMM not in journal.kafka.topics
    assert world.log.meetings == {}
