"""Recording people's decisions, on Kafka in memory: what is written for a decision and an identity
decision, sealed under the contact's data key (a new key written first), and nothing at all when
Kafka is unreachable or the text cannot be sealed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from mash.adapters.keyring import Keyring
from mash.adapters.producer import Outgoing
from mash.adapters.sealing import LocalMasterKey, MasterKeys, new_master_key
from mash.config import Settings
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.persons import IdentityAction, IdentityDecisionEvent
from mash.domain.sealed import Sealed
from mash.services.decisions import Decisions, SealedWriter, StoreUnavailable, Unsealable
from tests.support.keys import test_keyring
from tests.support.memory_kafka import MemoryKafka

NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
SETTINGS = Settings(mode="development")
KEYS, DECISIONS, IDENTITIES = (SETTINGS.topic(name) for name in ("keys", "decisions", "identities"))
WHY = "Fictional rationale: spoke to the school, who know the family well."


@dataclass
class Journal:
    """Kafka in memory, noting the topics of each write in the order they were made."""

    kafka: MemoryKafka = field(default_factory=MemoryKafka)
    writes: list[list[str]] = field(default_factory=list)

    async def publish(self, *records: Outgoing) -> None:
        await self.kafka.publish(*records)
        self.writes.append([r.topic for r in records])


def decisions(kafka: MemoryKafka | Journal, keyring: Keyring) -> Decisions:
    return Decisions(SealedWriter(kafka, SETTINGS, keyring))


def confirm(contact_id: str = "ct-1") -> DecisionEvent:
    return DecisionEvent(
        decision_id="dc-1",
        contact_id=contact_id,
        child_key="ck-1",
        action=DecisionAction.CONFIRM,
        decided_at=NOW,
        by="coordinator",
        role=Role.COORDINATOR,
        level=3,
        rag="amber",
        rationale=WHY,
    )


def link(subject: str = "ct-1", other: str = "ct-9") -> IdentityDecisionEvent:
    return IdentityDecisionEvent(
        decision_id="id-1",
        action=IdentityAction.LINK,
        subjects=[subject],
        others=[other],
        decided_at=NOW,
        by="coordinator",
        role=Role.COORDINATOR,
        rationale=WHY,
    )


def opened(keyring: Keyring, decision_id: str, text: str | Sealed) -> str:
    assert isinstance(text, Sealed), "what a person wrote is never on Kafka in clear"
    return keyring.open(text, f"{decision_id}/rationale".encode()).decode()


async def test_a_decision_goes_on_the_decisions_topic_keyed_by_its_contact_its_rationale_sealed() -> None:
    kafka, keyring = MemoryKafka(), test_keyring()
    await decisions(kafka, keyring).record(confirm("ct-1"))
    [written] = kafka.topics[DECISIONS]
    assert written.key == b"ct-1"
    assert written.value is not None
    assert WHY.encode() not in written.value
    event = DecisionEvent.model_validate_json(written.value)
    assert (event.action, event.level, event.by) == (DecisionAction.CONFIRM, 3, "coordinator")
    assert opened(keyring, "dc-1", event.rationale) == WHY


async def test_a_contact_with_no_data_key_gets_one_on_the_keys_topic_before_its_decision() -> None:
    journal, keyring = Journal(), test_keyring()
    await decisions(journal, keyring).record(confirm("ct-1"))
    assert journal.writes == [[KEYS], [DECISIONS]]
    [key] = journal.kafka.topics[KEYS]
    assert key.key is not None
    assert key.key.decode().startswith("ct-1/")
    assert keyring.has_live_key("ct-1")


async def test_a_contact_with_a_live_data_key_gets_no_new_one() -> None:
    journal, keyring = Journal(), test_keyring()
    keyring.add(keyring.new_key("ct-1")[0])
    await decisions(journal, keyring).record(confirm("ct-1"))
    assert journal.writes == [[DECISIONS]]


async def test_an_identity_decision_goes_on_the_identities_topic_keyed_and_sealed_by_its_first_subject() -> (
    None
):
    kafka, keyring = MemoryKafka(), test_keyring()
    await decisions(kafka, keyring).record_identity(link("ct-1", "ct-9"))
    [written] = kafka.topics[IDENTITIES]
    assert written.key == b"ct-1"
    assert written.value is not None
    event = IdentityDecisionEvent.model_validate_json(written.value)
    assert (event.action, event.subjects, event.others) == (IdentityAction.LINK, ["ct-1"], ["ct-9"])
    assert opened(keyring, "id-1", event.rationale) == WHY
    assert not keyring.has_live_key("ct-9")  # only the subject's text is sealed
    assert DECISIONS not in kafka.topics


async def test_nothing_is_recorded_while_kafka_is_unreachable_and_no_key_is_kept_that_kafka_lacks() -> None:
    kafka, keyring = MemoryKafka(reachable=False), test_keyring()
    with pytest.raises(StoreUnavailable) as refused:
        await decisions(kafka, keyring).record(confirm("ct-1"))
    assert refused.value.reason == "ProducerUnavailable"
    assert kafka.topics == {}
    assert not keyring.has_live_key("ct-1")


async def test_an_identity_decision_is_not_recorded_while_kafka_is_unreachable() -> None:
    kafka = MemoryKafka(reachable=False)
    with pytest.raises(StoreUnavailable):
        await decisions(kafka, test_keyring()).record_identity(link())
    assert kafka.topics == {}


async def test_text_that_cannot_be_sealed_is_refused_and_nothing_is_written() -> None:
    """The contact's live key was wrapped by a master key this process does not hold."""
    elsewhere = Keyring(MasterKeys(LocalMasterKey.parse(new_master_key("mk-elsewhere"))))
    kafka, keyring = MemoryKafka(), test_keyring()
    keyring.add(elsewhere.new_key("ct-1")[0])
    with pytest.raises(Unsealable) as refused:
        await decisions(kafka, keyring).record(confirm("ct-1"))
    assert "mk-elsewhere" in refused.value.reason
    assert WHY not in refused.value.reason
    assert kafka.topics == {}


async def test_a_process_without_master_keys_refuses_rather_than_writing_text_in_clear() -> None:
    kafka = MemoryKafka()
    with pytest.raises(Unsealable):
        await decisions(kafka, Keyring(None)).record(confirm("ct-1"))
    assert kafka.topics == {}
