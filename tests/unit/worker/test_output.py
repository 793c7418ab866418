"""The worker's output (`mash.worker.output`): what it promises faust's table and the worker's
delivery rules, with a producer and a table that record what they are asked to do.

The same sends to a real broker are in the integration tests: every case record and table
recovery after a kill (tests/integration/test_reliability.py), and a broker that never
acknowledges (tests/integration/test_outage.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import RecordMetadata

from mash.worker import delivery
from mash.worker.output import Output

CHANGELOG = "unit-children-changelog"
CASES = "unit.cases.v1"


class Producer:
    """aiokafka's producer as the worker uses it: `send` returns the delivery future."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, int | None]] = []
        self.deliveries: list[asyncio.Future[RecordMetadata]] = []

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> asyncio.Future[RecordMetadata]:
        self.sent.append((topic, key, value, partition))
        self.deliveries.append(asyncio.get_running_loop().create_future())
        return self.deliveries[-1]


class Store(dict[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__()
        self.persisted: list[tuple[TopicPartition, int]] = []

    def set_persisted_offset(self, tp: TopicPartition, offset: int) -> None:
        self.persisted.append((tp, offset))


class Table:
    """A faust table with the event being handled on partition 3."""

    def __init__(self) -> None:
        self.data = Store()
        self.changelog_topic = type("Topic", (), {"get_topic_name": lambda self: CHANGELOG})()

    def partition_for_key(self, key: bytes) -> int:
        return 3


class Stopped(Exception):
    pass


@pytest.fixture
def stops(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    stopped: list[tuple[str, dict[str, Any]]] = []

    def stop_uncommitted(reason: str, **detail: Any) -> None:
        stopped.append((reason, detail))
        raise Stopped

    monkeypatch.setattr(delivery, "stop_uncommitted", stop_uncommitted)
    return stopped


def acknowledge(delivery: asyncio.Future[RecordMetadata], topic: str, partition: int, offset: int) -> None:
    tp = TopicPartition(topic, partition)
    delivery.set_result(RecordMetadata(topic, partition, tp, offset, -1, -1, 0))


async def settle() -> None:
    await asyncio.sleep(0)  # done callbacks run on the loop's next turn


async def test_saving_a_state_stores_it_and_sends_it_to_the_changelog_partition_of_the_event() -> None:
    producer, table = Producer(), Table()
    output = Output(lambda: producer, table, [CASES])

    await output.save({output.where(b"ck-1"): b'{"state": 1}'})

    assert table.data == {b"ck-1": b'{"state": 1}'}
    assert producer.sent == [(CHANGELOG, b"ck-1", b'{"state": 1}', 3)]
    assert output.load([(3, b"ck-1"), (3, b"ck-2")]) == [b'{"state": 1}', None]


async def test_a_batch_of_states_is_all_stored_before_any_changelog_record_is_sent() -> None:
    """A crash after a state is sent but before it is stored would leave a persisted offset
    (kept on the changelog's acknowledgement) ahead of the store, and recovery would skip it."""

    class Watching(Producer):
        async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[RecordMetadata]:
            assert table.data == {b"ck-1": b"one", b"ck-2": b"two"}, "sent before every state was stored"
            return await super().send(*args, **kwargs)

    producer, table = Watching(), Table()
    output = Output(lambda: producer, table, [CASES])

    await output.save({(3, b"ck-1"): b"one", (3, b"ck-2"): b"two"})

    assert [(key, value) for _, key, value, _ in producer.sent] == [(b"ck-1", b"one"), (b"ck-2", b"two")]


async def test_each_changelog_acknowledgement_is_kept_as_the_tables_persisted_offset() -> None:
    """As faust's table does: a restarted worker then reads its changelog only past it."""
    producer, table = Producer(), Table()
    output = Output(lambda: producer, table, [CASES])
    await output.save({(3, b"ck-1"): b"one"})
    await output.publish(CASES, b"ct-1", b"case")
    await output.save({(3, b"ck-1"): b"two"})

    acknowledge(producer.deliveries[0], CHANGELOG, 3, 41)
    acknowledge(producer.deliveries[1], CASES, 0, 7)
    acknowledge(producer.deliveries[2], CHANGELOG, 3, 42)
    await settle()

    assert table.data.persisted == [(TopicPartition(CHANGELOG, 3), 41), (TopicPartition(CHANGELOG, 3), 42)]


async def test_records_go_to_aiokafka_in_the_order_they_were_published() -> None:
    producer = Producer()
    output = Output(lambda: producer, Table(), [CASES])

    for n in range(5):
        await output.publish(CASES, b"ct-%d" % n, b"v%d" % n)

    assert [key for _, key, _, _ in producer.sent] == [b"ct-0", b"ct-1", b"ct-2", b"ct-3", b"ct-4"]


async def test_a_record_kafka_does_not_acknowledge_stops_the_worker_uncommitted(
    stops: list[tuple[str, dict[str, Any]]],
) -> None:
    producer, table = Producer(), Table()
    output = Output(lambda: producer, table, [CASES])
    await output.publish(CASES, b"ct-1", b"case")

    producer.deliveries[0].set_exception(KafkaTimeoutError())
    await settle()

    assert stops == [("record not delivered", {"error": "KafkaTimeoutError"})]


async def test_a_changelog_record_kafka_does_not_acknowledge_stops_the_worker_before_its_offset_is_kept(
    stops: list[tuple[str, dict[str, Any]]],
) -> None:
    producer, table = Producer(), Table()
    output = Output(lambda: producer, table, [CASES])
    await output.save({(3, b"ck-1"): b"state"})

    producer.deliveries[0].set_exception(KafkaTimeoutError())
    await settle()

    assert stops == [("record not delivered", {"error": "KafkaTimeoutError"})]
    assert table.data.persisted == []


async def test_a_record_aiokafka_has_no_room_for_stops_the_worker_uncommitted(
    stops: list[tuple[str, dict[str, Any]]],
) -> None:
    class Full(Producer):
        async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[RecordMetadata]:
            raise KafkaTimeoutError

    output = Output(lambda: Full(), Table(), [CASES])

    with pytest.raises(Stopped):
        await output.publish(CASES, b"ct-1", b"case")

    assert stops == [("record not delivered", {"error": "KafkaTimeoutError"})]
