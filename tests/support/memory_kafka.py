"""Kafka in memory, for unit tests of the service layer: a `Publisher` and `Follower`s over lists.

It keeps the guarantees the service relies on, and no more: records of a topic come back in the
order they were written; every follower reads each topic from its beginning, again on every
`start` and `read_to_end`; `caught_up` is set once what the topics held has been handed over, and
`read_to_end` returns then. Every topic has one partition. tests/integration/test_adapter_contract.py
runs the same tests against this and the real adapters on the embedded broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mash.adapters.ports import OnRecord
from mash.adapters.producer import Outgoing, ProducerUnavailable


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass
class MemoryKafka:
    topics: dict[str, list[MemoryRecord]] = field(default_factory=dict)
    reachable: bool = True
    _written: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, *records: Outgoing) -> None:
        if not self.reachable:
            raise ProducerUnavailable("not connected to Kafka yet")
        for r in records:
            log = self.topics.setdefault(r.topic, [])
            now_ms = int(time.time() * 1000)
            log.append(MemoryRecord(r.topic, 0, len(log), now_ms, r.key, r.value, r.headers))
        self._written.set()
        self._written = asyncio.Event()

    def values(self, topic: str) -> list[bytes | None]:
        return [r.value for r in self.topics.get(topic, [])]

    def follower(
        self,
        topics: Sequence[str],
        on_record: OnRecord,
        name: str = "test",
        after_batch: Callable[[], None] | None = None,
    ) -> MemoryFollower:
        return MemoryFollower(self, list(topics), on_record, name, after_batch)


@dataclass
class MemoryFollower:
    kafka: MemoryKafka
    topics: list[str]
    on_record: OnRecord
    name: str
    after_batch: Callable[[], None] | None = None
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    _positions: dict[str, int] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def _hand_over(self) -> bool:
        handed = False
        for topic in self.topics:
            log = self.kafka.topics.get(topic, [])
            for record in log[self._positions.get(topic, 0) :]:
                self.on_record(record)
                handed = True
            self._positions[topic] = len(log)
        if handed and self.after_batch:
            self.after_batch()
        return handed

    def _from_the_beginning(self) -> None:
        # As `TopicFollower`, which opens a new consumer at offset 0 on every start and read.
        self._positions.clear()
        self._hand_over()
        self.caught_up.set()

    async def read_to_end(self) -> None:
        self._from_the_beginning()

    async def start(self) -> None:
        # Nothing is handed over before `start` returns, as with Kafka: a view waits for `caught_up`.
        self._task = asyncio.create_task(self._follow(), name=f"follow-{self.name}")

    async def _follow(self) -> None:
        self._from_the_beginning()
        while True:
            await self.kafka._written.wait()
            await asyncio.sleep(0)  # let the writer's own awaits run first, as a round trip would
            self._hand_over()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
