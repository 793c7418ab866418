"""How the worker writes what it decides: the child's state into the `children` table, and the
case and plan records, each sent straight to the aiokafka producer that faust started.

faust's own way (`table[key] = state`, `topic.send_soon`) hands every record to faust's send
buffer and a background task, with a future, callbacks and sensor calls per record. The bench
measured that at about 0.06 ms of the worker's CPU per record more than aiokafka's own `send`,
and the worker sends two records per contact (see docs/performance.md).

The states are read and written straight in the RocksDB database of their events' partition,
which is where faust's table keeps them, a batch of events at a time. faust's own `table.get`
calls every sensor, reads RocksDB twice for a key it holds (is it there, then its value) and
raises and catches a KeyError for one it does not; its writes keep an index of keys, which
only a read outside an event needs. And RocksDB costs several times less when it is called
many times in a row than once between other work (figures in
docs/decisions/0006-batches-and-passes-in-the-worker.md).

What stays as it was:

- Nothing is committed before its output is with Kafka. faust flushes its producer before every
  commit, and that flush ends with aiokafka's, which waits for these records too.
- A record that cannot be handed to aiokafka, or that Kafka does not acknowledge, is logged
  (`send_failed`) and counted, and stops the worker uncommitted, as faust's own sends do
  (`PipelineSensor`, `StopWhenASendFails`).
- Order: records are handed to aiokafka one at a time, in the order of the events they come
  from, and aiokafka keeps one request in flight per partition, so a partition's records arrive
  in the order sent.
- Table recovery: on every changelog acknowledgement the offset is kept in the table's store,
  as faust's table does, so a restarted worker reads its changelog only past it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping
from functools import partial
from typing import Any, NoReturn, cast

import faust
from aiokafka.errors import KafkaError

from mash.observability import metrics
from mash.worker.delivery import record_not_delivered
from mash.worker.faust_internals import aiokafka_producer, table_db
from mash.worker.pipeline_metrics import send_failed

# A child's state in the table: the partition of its events and its key.
Where = tuple[int, bytes]
# aiokafka's producer, which faust creates as it starts: asked for at each send.
Producer = Callable[[], Any]


class Output:
    """The worker's sends for one table and its output topics."""

    def __init__(self, producer: Producer, table: Any, topics: list[str]) -> None:
        self.producer = producer  # aiokafka's producer, which faust creates as it starts
        self.table = table  # a faust Table of bytes
        self.changelog = table.changelog_topic.get_topic_name()
        # Metric series looked up once, not per record.
        self.produced = {t: metrics.MESSAGES_PRODUCED.labels(topic=t) for t in [self.changelog, *topics]}

    def where(self, key: bytes) -> Where:
        """Where the table keeps `key` for the event being handled (faust's current event),
        after faust's check that the table has as many partitions as the event's topic."""
        partition = self.table.partition_for_key(key)  # None only with `use_partitioner`, never set here
        return cast(int, partition), key

    def load(self, children: list[Where]) -> list[bytes | None]:
        """What `table.get(key)` gives for each child: its stored state (None if there is none)."""
        return [self._store(partition).get(key) for partition, key in children]

    async def save(self, states: dict[Where, bytes]) -> None:
        """What `table[key] = state` does for each child, minus faust's send path: the state into
        the table's store, then its changelog record to the partition it is stored under. Every
        state is stored before any is sent: a changelog acknowledgement moves the table's
        persisted offset, which must never pass a state the store does not hold."""
        for (partition, key), state in states.items():
            self._store(partition)[key] = state
        for (partition, key), state in states.items():
            await self.publish(self.changelog, key, state, partition)

    def items(self, partition: int) -> list[tuple[bytes, bytes]]:
        """Every key and state the table holds for `partition`."""
        return list(self._store(partition).items())

    def _store(self, partition: int) -> MutableMapping[bytes, bytes]:
        return table_db(self.table.data, partition)

    async def publish(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        try:
            delivery = await self.producer().send(topic, value, key=key, partition=partition)
        except KafkaError as exc:  # no room in aiokafka's buffer within the send timeout
            _failed(topic, exc)
        delivery.add_done_callback(partial(self._delivered, topic))

    def _delivered(self, topic: str, delivery: asyncio.Future[Any]) -> None:
        if delivery.cancelled():
            _failed(topic, asyncio.CancelledError())
        if (exc := delivery.exception()) is not None:
            _failed(topic, exc)
        metadata = delivery.result()
        if topic == self.changelog:
            self.table.data.set_persisted_offset(metadata.topic_partition, metadata.offset)
        self.produced[topic].inc()


def _failed(topic: str, exc: BaseException) -> NoReturn:
    send_failed(topic, exc)  # as PipelineSensor and StopWhenASendFails do for faust's sends
    record_not_delivered(exc)


def kafka_producer(app: faust.App) -> Any:
    """The aiokafka producer under faust's, which faust starts before any agent runs."""
    return aiokafka_producer(app.producer)
