"""faust's Kafka consumer, delivering a backlog to the agent without a round of tasks per message,
and fetching again soon while the agent's buffer holds a partition back.

Its drain loop is faust 0.15.3's own (`mash.worker.faust_internals.DrainLoop`) with two changes,
chosen here.

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

from typing import Any

import faust
from faust.types import TP

from mash.worker.faust_internals import DrainLoop

BACKLOG = 500
# Well under the time the agent takes to empty the 40% of its buffer that is left when faust
# takes a partition again (1,638 events of the default 4,096: over 0.1 s at 13,000 events/s).
HELD_BACK_POLL_S = 0.05


class Consumer(DrainLoop):
    def fetch_wait(self) -> float:
        return HELD_BACK_POLL_S if self.held_back() else super().fetch_wait()

    def deliver_directly(self, tp: TP, offset: int) -> bool:
        return self.far_behind(tp, offset)

    def far_behind(self, tp: TP, offset: int) -> bool:
        """Whether the partition holds more than `BACKLOG` records after `offset`, as of the
        latest fetch."""
        end = self.highwater(tp)
        return end is not None and end - offset > BACKLOG


def use_consumer(app: faust.App) -> None:
    """Makes `app` create this consumer; call before anything reads `app.consumer`."""
    transport: Any = app.transport
    transport.Consumer = Consumer
