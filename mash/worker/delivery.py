"""What the worker's at-least-once delivery rests on, where faust alone does not hold it.

Two rules. Nothing is committed before its output is with Kafka; and on each input partition
the worker handles every record, in offset order, from the group's committed offset on.

faust commits an event's offset once `producer.flush()` has returned, so everything the event
sent (its table changelog record, its case records) must be with Kafka by then. Two faust
behaviours break that, and this module closes both:

- A record Kafka never acknowledges is dropped by the producer after its timeout, and the flush
  counts it as done. `StopWhenASendFails` stops the worker instead.
- faust's flush of its own send buffer returns as soon as 0.1 s pass without a record leaving
  the buffer, and it does not count the record being handed to aiokafka at that moment. A broker
  slow for a moment (a busy machine, a partition's previous batch still in flight) made faust
  commit events whose records were still in that buffer; a crash then lost them: a contact with
  no case record, or a table rebuilt from the changelog that had forgotten a contact, so the
  child's next contacts were decided again, differently. `complete_flush` waits for the buffer
  to be empty and idle. (The worker's state and case records now go straight to aiokafka,
  `mash.worker.output`; faust's buffer still carries the dead letters.)

After a rebalance faust's seek back to the committed offsets left records out: `complete_seek`
says how, and makes every input partition start afresh. The input topics are never compacted
and nothing writes transactions to them, so a partition's offsets follow one another:
`RecordOrder` checks that they do, and notices an out-of-place record before the agent
handles it.

Whichever rule is broken, the worker stops with `EXIT_RESTART`, without committing, and its
supervisor (`mash dev`, systemd, Kubernetes) starts it again from the last commit.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import faust
from aiokafka import TopicPartition

from mash.observability.logging import get_logger
from mash.worker.faust_internals import (
    broker_committed,
    committed_offset,
    count_hand_overs,
    seek_to_beginning,
)

log = get_logger(__name__)

EXIT_RESTART = 75  # EX_TEMPFAIL: start again


def stop_uncommitted(reason: str, **detail: object) -> NoReturn:
    log.critical("worker_stopping_uncommitted", reason=reason, **detail)
    os._exit(EXIT_RESTART)


class StopWhenASendFails(faust.Sensor):
    """A record Kafka has not acknowledged after `MASH_WORKER_SEND_TIMEOUT_S` is dropped by the
    producer, and faust would go on to commit the offsets of the events behind it."""

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        record_not_delivered(exc)


def record_not_delivered(exc: BaseException) -> NoReturn:
    stop_uncommitted("record not delivered", error=type(exc).__name__)


def keep_delivery(app: faust.App, send_timeout_s: float) -> None:
    """Everything here that faust's own delivery needs, on `app`, before the worker starts."""
    app.sensors.add(StopWhenASendFails())
    complete_flush(app, send_timeout_s)
    complete_seek(app)


def complete_flush(app: faust.App, timeout_s: float) -> None:
    """Makes the producer's flush wait until every record in faust's send buffer is with aiokafka.

    Call before the worker starts: faust's buffer task picks up its send function as it starts.
    aiokafka's own flush, which faust runs next, then waits for those records' acknowledgements.
    """
    buffer: Any = app.producer.buffer
    sending = count_hand_overs(buffer)

    async def flush() -> None:
        # The buffer task sets `message_sent` after each record it hands over; a record that
        # cannot be handed over within the send timeout stops the worker.
        while buffer.size or sending():
            if buffer.should_stop:
                # Its task hands over nothing more once stopping: fail, so nothing is committed.
                # (faust's own flush raises here too.)
                raise RuntimeError("the producer is stopping with records not handed to Kafka")
            buffer.message_sent.clear()
            try:
                await asyncio.wait_for(buffer.message_sent.wait(), timeout=timeout_s)
            except TimeoutError:
                stop_uncommitted("records not handed to Kafka", waiting=buffer.size + sending())

    buffer.flush = flush


def complete_seek(app: faust.App) -> None:
    """Makes the seek at the end of a rebalance start every input partition afresh from the
    group's committed offset, or from its first record if nothing was committed there.

    faust resumes fetching the input partitions just before it seeks them, while records already
    flow (they flowed for table recovery), so the agent is handed records from wherever aiokafka
    stood. As the flow resumes after the seek, faust drops the records it had queued; the seek
    makes them come again. But faust seeks only partitions with a committed offset past 0: on
    the others the dropped records never came again. This seek stops the flow first, so nothing
    fetched before it is handed on, and sends a partition with no commit back to its first
    record, as the worker's `earliest` reset policy says.
    """
    consumer: Any = app.consumer
    faust_seek = consumer.perform_seek

    async def perform_seek() -> None:
        consumer.stop_flow()  # faust's callers resume it once the seek is done
        await faust_seek()
        from_first = [
            TopicPartition(tp.topic, tp.partition)  # aiokafka's, not faust's TP
            for tp in consumer.assignment()
            if tp.topic not in app.tables.changelog_topics and not committed_offset(consumer, tp)
        ]
        if from_first:
            await seek_to_beginning(consumer, *from_first)

    consumer.perform_seek = perform_seek


class RecordsSkipped(Exception):
    """An input partition's next event is not the record after the last one handled."""


@dataclass
class RecordOrder:
    """Checks that each input partition's events arrive in offset order, none left out.

    After a partition is assigned, the first event must be the record at the group's committed
    offset, and each later one the record after the one before. An event at or before that
    (faust going back to the committed offset) is handled again, which is safe; one after it
    means records were left out, unless the topic's retention deleted them before anyone
    handled them. `forget` is connected to faust's partitions-revoked signal.
    """

    committed: Callable[[Any], Awaitable[int | None]]  # the group's committed offset of a partition
    earliest: Callable[[Any], Awaitable[int]]  # a partition's first offset still on the broker
    next: dict[Any, int] = field(default_factory=dict)

    async def forget(self, sender: Any, revoked: Iterable[Any], **kwargs: Any) -> None:
        for tp in revoked:
            self.next.pop(tp, None)

    async def check(self, tp: Any, offset: int) -> None:
        """Raises RecordsSkipped when records before this one on its partition were left out."""
        expected = self.next.get(tp)
        if expected is None:
            expected = await self.committed(tp)
        if expected is not None and offset > expected:
            if offset != await self.earliest(tp):
                raise RecordsSkipped(f"{tp.topic}[{tp.partition}]: expected offset {expected}, got {offset}")
            gone = offset - expected
            log.warning("records_deleted_unhandled", topic=tp.topic, partition=tp.partition, records=gone)
        self.next[tp] = offset + 1


def record_order(app: faust.App) -> RecordOrder:
    """The app's RecordOrder, asking the broker. faust's own record of committed offsets is
    filled in only after it has started handing out records, and its consumer has no call for
    one partition's committed offset: that goes to aiokafka on the consumer's thread."""
    consumer: Any = app.consumer

    async def committed(tp: Any) -> int | None:
        return await broker_committed(consumer, tp)

    async def earliest(tp: Any) -> int:
        offsets: dict[Any, int] = await consumer.earliest_offsets(tp)  # as the lag metric asks
        return offsets.get(tp, 0)

    order = RecordOrder(committed, earliest)
    # mode's stubs want a receiver typed (sender, *args, signal, **kwargs); this one names its argument.
    app.on_partitions_revoked.connect(order.forget)  # type: ignore[arg-type]
    return order
