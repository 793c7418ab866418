"""What the service relies on of Kafka, as one suite run against the in-memory fake and the real
adapters on the embedded broker.

The service layer's unit tests run on `tests.support.memory_kafka.MemoryKafka`; these tests are
why that is safe: every rule here holds for the fake and for `ProducerHandle` + `TopicFollower`
on a real broker alike. Where they differ, the fake is fixed, never the test. Each test gets
fresh topics with one partition (the fake's only kind), so order within a topic is total.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from mash.adapters.follow import TopicFollower
from mash.adapters.ports import Follower, OnRecord, Publisher, Record
from mash.adapters.producer import Outgoing, ProducerHandle, ProducerUnavailable
from mash.config import Settings
from tests.support.memory_kafka import MemoryKafka

AfterBatch = Callable[[], None]
Written = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


class Kafka(ABC):
    """One side of the contract: something to publish with, followers of what it wrote, and
    fresh topics. Followers made here are stopped when the test ends."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.followers: list[Follower] = []

    @abstractmethod
    async def topic(self) -> str:
        """A new topic with one partition."""

    @abstractmethod
    def _follower(
        self, topics: Sequence[str], on_record: OnRecord, after_batch: AfterBatch | None
    ) -> Follower: ...

    @abstractmethod
    def unconnected(self) -> Publisher:
        """A publisher onto the same topics that has never reached Kafka."""

    def follower(
        self, topics: Sequence[str], on_record: OnRecord, after_batch: AfterBatch | None = None
    ) -> Follower:
        follower = self._follower(topics, on_record, after_batch)
        self.followers.append(follower)
        return follower

    async def close(self) -> None:
        for follower in self.followers:
            await follower.stop()


class InMemory(Kafka):
    def __init__(self) -> None:
        self.memory = MemoryKafka()
        publisher: Publisher = self.memory
        super().__init__(publisher)

    async def topic(self) -> str:
        return f"contract-{uuid.uuid4().hex[:10]}"

    def _follower(
        self, topics: Sequence[str], on_record: OnRecord, after_batch: AfterBatch | None
    ) -> Follower:
        follower: Follower = self.memory.follower(topics, on_record, "contract", after_batch)
        return follower

    def unconnected(self) -> Publisher:
        return MemoryKafka(topics=self.memory.topics, reachable=False)


class Embedded(Kafka):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.handle = ProducerHandle(settings, "contract")
        publisher: Publisher = self.handle
        super().__init__(publisher)

    async def connect(self) -> None:
        await self.handle.start()
        await until(lambda: self.handle.ready)

    async def topic(self) -> str:
        name = self.settings.topic(f"contract-{uuid.uuid4().hex[:10]}")
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        return name

    def _follower(
        self, topics: Sequence[str], on_record: OnRecord, after_batch: AfterBatch | None
    ) -> Follower:
        follower: Follower = TopicFollower(self.settings, topics, on_record, "contract", after_batch)
        return follower

    def unconnected(self) -> Publisher:
        return ProducerHandle(self.settings, "never-started")

    async def close(self) -> None:
        await super().close()
        await self.handle.stop()


@pytest.fixture(params=["memory", pytest.param("embedded", marks=pytest.mark.integration)])
def side(request: pytest.FixtureRequest) -> str | None:
    """None for the fake; the embedded broker's address for the real adapters."""
    return None if request.param == "memory" else request.getfixturevalue("broker").bootstrap


@pytest.fixture
async def kafka(side: str | None) -> AsyncIterator[Kafka]:
    if side is None:
        chosen: Kafka = InMemory()
    else:
        settings = Settings(
            mode="development",
            kafka_bootstrap=side,
            topic_prefix="t" + uuid.uuid4().hex[:10],
            embedded_broker=True,
        )
        embedded = Embedded(settings)
        await embedded.connect()
        chosen = embedded
    try:
        yield chosen
    finally:
        await chosen.close()


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so after {timeout} s")
        await asyncio.sleep(0.05)


@dataclass
class Handed:
    """What a follower handed over, in order; `batches` holds how many it had at each `after_batch`."""

    records: list[Record] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)

    def on_record(self, record: Record) -> None:
        self.records.append(record)

    def after_batch(self) -> None:
        self.batches.append(len(self.records))

    def of(self, topic: str) -> list[Written]:
        return [(r.key, r.value, [(k, v) for k, v in r.headers]) for r in self.records if r.topic == topic]

    def values(self, topic: str) -> list[bytes | None]:
        return [r.value for r in self.records if r.topic == topic]


def numbered(topic: str, count: int, start: int = 0) -> list[Outgoing]:
    return [Outgoing(topic, f"v{n}".encode(), key=f"k{n}".encode()) for n in range(start, start + count)]


async def test_records_of_a_topic_are_handed_over_in_the_order_written_with_key_value_and_headers_intact(
    kafka: Kafka,
) -> None:
    first, second = await kafka.topic(), await kafka.topic()
    written = [
        Outgoing(first, b'{"n": 1}', key=b"k1", headers=(("source", b"police"), ("trace", b"\x00\xff"))),
        Outgoing(second, b"other topic", key=b"k2"),
        Outgoing(first, b"", key=None),
        Outgoing(first, b'{"n": 3}', key=b"k1", headers=(("same", b"1"), ("same", b"2"))),
    ]
    for record in written:
        await kafka.publisher.publish(record)
    handed = Handed()
    now_ms = int(time.time() * 1000)

    await kafka.follower([first, second], handed.on_record).read_to_end()

    assert handed.of(first) == [(r.key, r.value, list(r.headers)) for r in written if r.topic == first]
    assert handed.of(second) == [(b"k2", b"other topic", [])]
    in_first = [r for r in handed.records if r.topic == first]
    assert [(r.partition, r.offset) for r in in_first] == [(0, 0), (0, 1), (0, 2)]
    assert all(abs(r.timestamp - now_ms) < 60_000 for r in handed.records), "milliseconds since the epoch"


async def test_a_tombstone_arrives_with_value_none(kafka: Kafka) -> None:
    topic = await kafka.topic()
    await kafka.publisher.publish(Outgoing(topic, b"a key", key=b"k"), Outgoing(topic, None, key=b"k"))
    handed = Handed()

    await kafka.follower([topic], handed.on_record).read_to_end()

    assert handed.of(topic) == [(b"k", b"a key", []), (b"k", None, [])]


async def test_a_follower_started_after_writes_reads_every_record_from_the_beginning(kafka: Kafka) -> None:
    topic = await kafka.topic()
    await kafka.publisher.publish(*numbered(topic, 5))
    handed = Handed()

    await kafka.follower([topic], handed.on_record).start()

    await until(lambda: len(handed.records) >= 5)
    assert handed.values(topic) == [f"v{n}".encode() for n in range(5)]


async def test_caught_up_is_set_once_what_the_topics_held_at_start_has_been_handed_over(kafka: Kafka) -> None:
    topic, empty = await kafka.topic(), await kafka.topic()
    await kafka.publisher.publish(*numbered(topic, 7))
    handed = Handed()
    follower = kafka.follower([topic, empty], handed.on_record)
    assert not follower.caught_up.is_set()

    await follower.start()
    await asyncio.wait_for(follower.caught_up.wait(), timeout=15)

    assert handed.values(topic) == [f"v{n}".encode() for n in range(7)]


async def test_caught_up_is_set_at_once_on_topics_that_are_empty(kafka: Kafka) -> None:
    follower = kafka.follower([await kafka.topic()], Handed().on_record)

    await follower.start()

    await asyncio.wait_for(follower.caught_up.wait(), timeout=15)


async def test_read_to_end_returns_after_handing_over_what_the_topics_held_and_stops(kafka: Kafka) -> None:
    topic = await kafka.topic()
    await kafka.publisher.publish(*numbered(topic, 4))
    handed = Handed()
    follower = kafka.follower([topic], handed.on_record)

    await asyncio.wait_for(follower.read_to_end(), timeout=15)

    assert handed.values(topic) == [f"v{n}".encode() for n in range(4)]
    assert follower.caught_up.is_set()
    await kafka.publisher.publish(*numbered(topic, 2, start=4))
    await asyncio.sleep(1.0)
    assert len(handed.records) == 4


async def test_each_read_to_end_reads_the_topics_from_the_beginning_again(kafka: Kafka) -> None:
    topic = await kafka.topic()
    await kafka.publisher.publish(*numbered(topic, 2))
    handed = Handed()
    follower = kafka.follower([topic], handed.on_record)
    await follower.read_to_end()
    await kafka.publisher.publish(*numbered(topic, 1, start=2))

    await follower.read_to_end()

    assert handed.values(topic) == [b"v0", b"v1", b"v0", b"v1", b"v2"]


async def test_a_running_follower_receives_records_written_later(kafka: Kafka) -> None:
    first, second = await kafka.topic(), await kafka.topic()
    await kafka.publisher.publish(*numbered(first, 1))
    handed = Handed()
    follower = kafka.follower([first, second], handed.on_record)
    await follower.start()
    await asyncio.wait_for(follower.caught_up.wait(), timeout=15)

    await kafka.publisher.publish(*numbered(first, 2, start=1))
    await kafka.publisher.publish(*numbered(second, 1))

    await until(lambda: len(handed.records) == 4)
    assert handed.values(first) == [b"v0", b"v1", b"v2"]
    assert handed.values(second) == [b"v0"]


async def test_after_batch_is_called_after_records_are_handed_over(kafka: Kafka) -> None:
    topic = await kafka.topic()
    await kafka.publisher.publish(*numbered(topic, 3))
    handed = Handed()
    follower = kafka.follower([topic], handed.on_record, handed.after_batch)
    await follower.start()
    await asyncio.wait_for(follower.caught_up.wait(), timeout=15)
    await until(lambda: handed.batches[-1:] == [3])

    await kafka.publisher.publish(*numbered(topic, 2, start=3))

    await until(lambda: handed.batches[-1:] == [5])
    assert handed.batches == sorted(handed.batches)
    assert 0 not in handed.batches, "after_batch is called only when records were handed over"


async def test_several_records_given_to_one_publish_call_all_arrive_in_order(kafka: Kafka) -> None:
    first, second = await kafka.topic(), await kafka.topic()
    records = numbered(first, 20)
    records.insert(7, Outgoing(second, b"between", key=b"b"))

    await kafka.publisher.publish(*records)

    handed = Handed()
    await kafka.follower([first, second], handed.on_record).read_to_end()
    assert handed.values(first) == [f"v{n}".encode() for n in range(20)]
    assert handed.values(second) == [b"between"]


async def test_a_handle_not_connected_raises_producer_unavailable_and_writes_nothing(kafka: Kafka) -> None:
    topic = await kafka.topic()

    with pytest.raises(ProducerUnavailable):
        await kafka.unconnected().publish(Outgoing(topic, b"lost", key=b"k"))

    handed = Handed()
    await kafka.follower([topic], handed.on_record).read_to_end()
    assert handed.records == []
