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
  to be empty and idle.

The input topics are never compacted and nothing writes transactions to them, so a
partition's offsets follow one another. After workers were killed, faust was seen to hand
the agent a partition's newest records first, right after a rebalance: it then either went
back to the committed offset (so a child's later contact was decided before its earlier
ones, and decided again once they came) or, having moved its read position past the records
in between, never handled them. `RecordOrder` notices the first out-of-place record before
the agent handles it.

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

from mash.observability.logging import get_logger

log = get_logger(__name__)

EXIT_RESTART = 75  # EX_TEMPFAIL: start again


def stop_uncommitted(reason: str, **detail: object) -> NoReturn:
    log.critical("worker_stopping_uncommitted", reason=reason, **detail)
    os._exit(EXIT_RESTART)


class StopWhenASendFails(faust.Sensor):
    """A record Kafka has not acknowledged after `MASH_WORKER_SEND_TIMEOUT_S` is dropped by the
    producer, and faust would go on to commit the offsets of the events behind it."""

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        stop_uncommitted("record not delivered", error=type(exc).__name__)


def complete_flush(app: faust.App, timeout_s: float) -> None:
    """Makes the producer's flush wait until every record in faust's send buffer is with aiokafka.

    Call before the worker starts: faust's buffer task picks up its send function as it starts.
    aiokafka's own flush, which faust runs next, then waits for those records' acknowledgements.
    """
    buffer: Any = app.producer.buffer
    handing_over = buffer._send_pending
    sending = 0

    async def send_pending(message: Any) -> None:
        nonlocal sending
        sending += 1
        try:
            await handing_over(message)
        finally:
            sending -= 1

    async def flush() -> None:
        # The buffer task sets `message_sent` after each record it hands over; a record that
        # cannot be handed over within the send timeout stops the worker.
        while buffer.size or sending:
            if buffer.should_stop:
                # Its task hands over nothing more once stopping: fail, so nothing is committed.
                # (faust's own flush raises here too.)
                raise RuntimeError("the producer is stopping with records not handed to Kafka")
            buffer.message_sent.clear()
            try:
                await asyncio.wait_for(buffer.message_sent.wait(), timeout=timeout_s)
            except TimeoutError:
                stop_uncommitted("records not handed to Kafka", waiting=buffer.size + sending)

    buffer._send_pending = send_pending
    buffer.flush = flush


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
    thread: Any = consumer._thread  # the faust aiokafka driver's consumer thread

    async def committed(tp: Any) -> int | None:
        offset: int | None = await thread.call_thread(thread._ensure_consumer().committed, tp)
        return offset

    async def earliest(tp: Any) -> int:
        offsets: dict[Any, int] = await consumer.earliest_offsets(tp)  # as the lag metric asks
        return offsets.get(tp, 0)

    order = RecordOrder(committed, earliest)
    # mode's stubs want a receiver typed (sender, *args, signal, **kwargs); this one names its argument.
    app.on_partitions_revoked.connect(order.forget)  # type: ignore[arg-type]
    return order
