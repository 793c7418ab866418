"""A faust stream's events in batches, so the worker's step runs many times in a row.

faust's own stream hands an agent one event at a time and runs its per-event machinery
between two of them. `batches` hands over everything the agent's buffer holds instead. When
a partition is far behind, the worker's consumer fills that buffer a hundred messages per
turn of the event loop (`mash.worker.consumer`), so under load a batch holds up to `MOST`
events; a worker that keeps up gets them one or two at a time, as they arrive.

The events come from a `noack()` stream: the agent acknowledges each one itself (`Stream.ack`)
once its batch's output is with aiokafka, so faust commits nothing before that, as before.
faust's revoke and stop wait until every event taken from the buffer is acknowledged
(`stream_wait_empty`), so a batch is always finished by the worker that took it, before its
partitions move.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import faust

MOST = 200


async def batches(stream: faust.StreamT[bytes], most: int = MOST) -> AsyncIterator[list[faust.EventT[bytes]]]:
    """Events of `stream` in order, in lists of up to `most`: each list is what the stream's
    buffer held."""
    queue: Any = stream.channel.queue  # type: ignore[attr-defined]  # the agent's own buffer
    batch: list[faust.EventT[bytes]] = []
    async for event in stream.events():
        batch.append(event)
        if len(batch) < most and not queue.empty():
            continue
        yield batch
        batch = []
