"""Every use of a private part of faust, mode or aiokafka the worker makes, and why it needs it.

faust-streaming and mode-streaming are pinned exactly (pyproject.toml); after an upgrade,
tests/unit/worker/test_faust_internals.py names any attribute below that has gone, and whether
faust's drain loop changed. Nothing else in `mash` reaches into faust (that test checks it too).

- `DrainLoop`: faust's `Consumer._drain_messages`, copied (it reads the consumer's `_stopped`,
  `_read_offset`, `_commit_every`, `_n_acked`, `_add_gap` and the fetcher's `_stopped`) so that
  `mash.worker.consumer` can choose how long a fetch waits and how a message is delivered;
  `held_back` reads `_buffered_partitions`, the partitions a full agent buffer holds back.
- `set_fetch_wait`: faust fixes the fetch wait at 1.5 s with no setting for it; the embedded
  broker waits the whole time, so it wraps the consumer thread's `_create_worker_consumer` and
  sets aiokafka's `_fetch_max_wait_ms` on the consumer it makes.
- `count_hand_overs`: faust's flush does not count the record its buffer is handing to aiokafka
  (`_send_pending`); `mash.worker.delivery.complete_flush` must wait for it.
- `committed_offset`: faust's record of the group's committed offsets (`_committed_offset`),
  filled by its commits and its seek after a rebalance; faust has no public read of it.
- `broker_committed` and `seek_to_beginning`: the aiokafka consumer under faust's (on faust's
  consumer thread, `_thread`, through `_ensure_consumer`), for a partition's committed offset as
  the broker has it and for a seek faust's consumer does not offer.
- `set_current_event`: faust's table finds a key's partition from the stream's current event,
  which only faust's per-event loop sets (`_set_current_event`); the agents take events in batches.
- `table_db`: the RocksDB database faust's store keeps for a partition (`_db_for_partition`),
  which `mash.worker.output` reads and writes a batch at a time.
- `aiokafka_producer`: aiokafka's producer under faust's (`_producer`), which
  `mash.worker.output` sends to without faust's per-record send path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any, cast

import faust
from faust.stores.rocksdb import Store as RocksDBStore
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

FAUST_FETCH_WAIT_S = 1.0  # the wait faust's own drain loop gives each fetch


class DrainLoop(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with its drain loop open at two points: `fetch_wait` and
    `deliver_directly`, which by default do as faust does."""

    def fetch_wait(self) -> float:
        """How long the next fetch may wait for records."""
        return FAUST_FETCH_WAIT_S

    def deliver_directly(self, tp: TP, offset: int) -> bool:
        """Whether to await the callback for this message in the loop itself, not in a task of
        its own raced against a suspended flow. Asked only while the flow is not suspended."""
        return False

    def held_back(self) -> bool:
        """Whether a full agent buffer holds any partition back (faust's `on_buffer_full`)."""
        return bool(self._buffered_partitions)

    async def _drain_messages(self, fetcher: Any) -> None:
        # faust 0.15.3's `Consumer._drain_messages`; only the fetch wait and the delivery differ
        # (marked).
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        flow_suspended = self.suspend_flow.is_set
        deliver_directly = self.deliver_directly

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                # mash: the fetch wait.
                ait = cast(AsyncIterator[tuple[TP, Any]], getmany(timeout=self.fetch_wait()))

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            # mash: the delivery.
                            if not flow_suspended() and deliver_directly(tp, offset):
                                await callback(message)
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


def set_fetch_wait(app: faust.App, wait_ms: int) -> None:
    """Makes every aiokafka consumer faust creates for `app` wait at most `wait_ms` per fetch."""
    consumer: Any = app.consumer
    thread: Any = consumer._thread  # the faust aiokafka driver's consumer thread
    create = thread._create_worker_consumer

    def with_wait(transport: Any) -> Any:
        created = create(transport)
        created._fetch_max_wait_ms = wait_ms
        return created

    thread._create_worker_consumer = with_wait


def count_hand_overs(buffer: Any) -> Callable[[], int]:
    """Wraps the hand-over of faust's send buffer (call before the buffer's task starts: it picks
    the function up as it starts); returns how many records are being handed to aiokafka now."""
    hand_over = buffer._send_pending
    sending = 0

    async def counted(message: Any) -> None:
        nonlocal sending
        sending += 1
        try:
            await hand_over(message)
        finally:
            sending -= 1

    buffer._send_pending = counted
    return lambda: sending


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The partition's committed offset as faust last saw it: None before its first commit or
    seek on this worker, or while nothing is committed there."""
    offset: int | None = consumer._committed_offset.get(tp)
    return offset


async def broker_committed(consumer: Any, tp: Any) -> int | None:
    """The group's committed offset of a partition, asked of the broker."""
    thread: Any = consumer._thread
    offset: int | None = await thread.call_thread(thread._ensure_consumer().committed, tp)
    return offset


async def seek_to_beginning(consumer: Any, *partitions: Any) -> None:
    """Sends aiokafka's partitions (not faust's TPs) back to their first records."""
    await consumer._thread.seek_to_beginning(*partitions)


def set_current_event(stream: Any, event: faust.EventT[bytes]) -> None:
    stream._set_current_event(event)


def table_db(store: Any, partition: int) -> MutableMapping[bytes, bytes]:
    """Where a table's store keeps `partition`'s keys: faust's RocksDB store has a database per
    partition (opened as faust's own reads and writes open it); the memory store one dict."""
    keys = store._db_for_partition(partition) if isinstance(store, RocksDBStore) else store
    return cast(MutableMapping[bytes, bytes], keys)


def aiokafka_producer(producer: Any) -> Any:
    """The aiokafka producer under faust's `app.producer`, there once faust has started it."""
    return producer._producer
