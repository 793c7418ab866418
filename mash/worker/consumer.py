"""faust's Kafka consumer: the worker's drain loop, which hands a backlog to the agent without a
round of tasks per message, and fetches again soon while the agent's buffer holds a partition back.

This loop is faust 0.15.3's own with two changes.

Delivery. faust delivers each fetched message through `Service.wait_first`: four tasks (the
delivery, and waits on "flow suspended", "stopped" and "crashed"), `asyncio.wait`, then three
cancellations, so every message costs a turn of the event loop and about 0.06 ms of the worker's
CPU (docs/decisions/0006-batches-and-passes-in-the-worker.md). Here a message whose partition is
more than `BACKLOG` records behind is delivered by awaiting faust's callback directly, so a
backlog reaches the agent's buffer a hundred messages per turn. Everything else goes faust's
way, for two reasons:

- A worker that keeps up has little to gain from the direct path, and on the embedded broker it
  loses: taking records sooner makes it fetch far more often, which made `mash replay` about
  twice as slow (same record).
- While faust has suspended the flow (a rebalance starting), a message is never delivered
  directly: faust's way gives up on it as soon as it would have to wait, and the partition is
  read again from its committed offset.

A direct delivery that blocks (the agent's buffer full) is cancelled with the fetcher when a
rebalance stops it, as faust's own delivery task is.

The fetch wait. Once the agent's buffer is 80% full faust holds back the partition being
delivered (`on_buffer_full`), and takes it again when the buffer is down to 40%
(`on_buffer_drop`). Meanwhile each fetch asks only for the other partitions, mostly the outcomes
and decisions topics with nothing in them, and faust lets it wait a second for records. The
agent emptied its buffer long before that second was up, then sat idle: under a backlog the
worker was idle a quarter of the time, and a faust agent with less to do half of it. While a
partition is held back, this loop lets each fetch wait `HELD_BACK_POLL_S` instead. The broker
sees no more requests for it: aiokafka's fetcher reads ahead for every partition in the
background, whatever the loop asks for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

BACKLOG = 500
# Well under the time the agent takes to empty the 40% of its buffer that is left when faust
# takes a partition again (1,638 events of the default 4,096: over 0.1 s at 13,000 events/s).
HELD_BACK_POLL_S = 0.05


class Consumer(faust_aiokafka.Consumer):
    def far_behind(self, tp: TP, offset: int) -> bool:
        """Whether the partition holds more than `BACKLOG` records after `offset`, as of the
        latest fetch."""
        end = self.highwater(tp)
        return end is not None and end - offset > BACKLOG

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

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                # mash: the fetch wait.
                timeout = HELD_BACK_POLL_S if self._buffered_partitions else 1.0
                ait = cast(AsyncIterator[tuple[TP, Any]], getmany(timeout=timeout))

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
                            if not flow_suspended() and self.far_behind(tp, offset):
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


def use_consumer(app: faust.App) -> None:
    """Makes `app` create this consumer; call before anything reads `app.consumer`."""
    transport: Any = app.transport
    transport.Consumer = Consumer
