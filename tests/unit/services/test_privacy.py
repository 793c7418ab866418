"""Erasing a child, as the service layer does it, on an in-memory Kafka."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mash.adapters.keyring import ERASURE, ErasureRecord, Keyring
from mash.adapters.producer import Outgoing, ProducerUnavailable
from mash.adapters.sealing import Unreadable
from mash.services.privacy import erase
from tests.support.keys import test_keyring
from tests.support.memory_kafka import MemoryKafka

KEYS = "mash.keys.v1"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def keyring_with(*contacts: str) -> Keyring:
    keyring = test_keyring()
    for contact in contacts:
        record, _ = keyring.new_key(contact)
        keyring.add(record)
    return keyring


async def test_erasing_tombstones_every_data_key_of_the_child_then_records_why() -> None:
    kafka, keyring = MemoryKafka(), keyring_with("ct-1", "ct-2", "ct-other")
    keys = keyring.keys_of({"ct-1", "ct-2"})

    done = await erase(kafka, KEYS, keyring, "ck-1", ["ct-1", "ct-2"], "DPO-2026-17", "dpo", NOW)

    written = kafka.topics[KEYS]
    assert [(r.key, r.value) for r in written[:2]] == [(k.encode(), None) for k in keys]
    assert written[2].key == f"{ERASURE}ck-1".encode()
    assert written[2].value is not None
    record = ErasureRecord.model_validate_json(written[2].value)
    assert (record.child_key, record.reason, record.by, record.keys) == ("ck-1", "DPO-2026-17", "dpo", keys)
    assert (done.child_key, done.keys) == ("ck-1", 2)


async def test_an_erased_childs_details_can_no_longer_be_opened_and_others_still_can() -> None:
    kafka, keyring = MemoryKafka(), keyring_with("ct-1", "ct-other")
    kept = keyring.seal("ct-other", "ct-other", b"narrative")
    gone = keyring.seal("ct-1", "ct-1", b"narrative")

    await erase(kafka, KEYS, keyring, "ck-1", ["ct-1"], "DPO-2026-17", "dpo", NOW)

    with pytest.raises(Unreadable):
        keyring.open(gone, b"ct-1")
    assert keyring.open(kept, b"ct-other") == b"narrative"


async def test_a_process_reading_the_keys_topic_afterwards_sees_the_child_erased() -> None:
    kafka, keyring = MemoryKafka(), keyring_with("ct-1")
    key = keyring.keys_of({"ct-1"})[0]
    await kafka.publish(Outgoing(KEYS, keyring.records[key].model_dump_json().encode(), key.encode()))
    await erase(kafka, KEYS, keyring, "ck-1", ["ct-1"], "DPO-2026-17", "dpo", NOW)

    later = test_keyring()
    for r in kafka.topics[KEYS]:
        later.on_record(r.key, r.value)
    assert later.is_erased(key)
    assert not later.has_live_key("ct-1")
    assert "ck-1" in later.erasures


async def test_when_kafka_cannot_be_reached_nothing_is_forgotten() -> None:
    kafka, keyring = MemoryKafka(reachable=False), keyring_with("ct-1")
    sealed = keyring.seal("ct-1", "ct-1", b"narrative")

    with pytest.raises(ProducerUnavailable):
        await erase(kafka, KEYS, keyring, "ck-1", ["ct-1"], "DPO-2026-17", "dpo", NOW)

    assert kafka.topics.get(KEYS, []) == []
    assert keyring.open(sealed, b"ct-1") == b"narrative"
    assert "ck-1" not in keyring.erasures
