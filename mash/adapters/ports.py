"""What the service layer needs of Kafka, as protocols: writing records and following topics.

The real ones are `producer.ProducerHandle` and `follow.TopicFollower`; the in-memory ones the
service layer's unit tests use are in tests/support/memory_kafka.py. One contract test suite runs
against both (tests/integration/test_adapter_contract.py), so the fakes cannot drift from Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from mash.adapters.producer import Outgoing


class Record(Protocol):
    """A record as a follower hands it over (aiokafka's `ConsumerRecord` has these fields)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Publisher(Protocol):
    async def publish(self, *records: Outgoing) -> None: ...


class Follower(Protocol):
    caught_up: asyncio.Event

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def read_to_end(self) -> None: ...


OnRecord = Callable[[Record], None]


# Records in one `publish` call, when a command writes many (a council's data keys, a re-screening):
# each call has its own produce timeout.
SLICE = 1000


async def publish_all(publisher: Publisher, records: Iterable[Outgoing]) -> None:
    """Writes the records in order, a slice at a time."""
    every = list(records)
    for start in range(0, len(every), SLICE):
        await publisher.publish(*every[start : start + SLICE])
