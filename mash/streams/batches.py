"""A faust stream's events in small batches, so the worker's step runs many times in a row.

faust hands an agent one message per turn of the event loop and runs its own per-message work
(fetching, the conductor, the stream, sensors) between two events. Interleaved that way, the
worker's domain step cost about 0.20 ms of CPU per contact, three times what it costs in a
tight loop (`mash bench`, the recorded-step row). `batches` hands over everything the stream's
buffer holds and, when it is empty while the partition is far behind (`behind`), first lets
faust fill it for a moment (`LINGER_S`): under load dozens of events at a time. A worker that
keeps up never waits; on the embedded broker, waiting then made the worker fetch more often
and `mash replay` slower (README, Performance).

The events come from a `noack()` stream: the agent acknowledges each one itself (`Stream.ack`)
once its output is with aiokafka, so faust commits nothing before that, as before. faust's
revoke and stop wait until every event taken from the buffer is acknowledged
(`stream_wait_empty`), so a batch is always finished by the worker that took it, before its
partitions move.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted

LINGER_S = 0.002
MOST = 200
BACKLOG = 500


def behind(app: faust.App, backlog: int = BACKLOG) -> Callable[[faust.EventT[bytes]], bool]:
    """Whether an event's partition holds more than `backlog` records after it (as of the
    consumer's latest fetch)."""
    consumer: Any = app.consumer

    def test(event: faust.EventT[bytes]) -> bool:
        try:
            end = consumer.highwater(event.message.tp)
        except ConsumerNotStarted:  # an agent run without Kafka (`agent.test_context()`)
            return False
        return end is not None and end - event.message.offset > backlog

    return test


async def batches(
    stream: faust.StreamT[bytes],
    lagging: Callable[[faust.EventT[bytes]], bool],
    linger_s: float = LINGER_S,
    most: int = MOST,
) -> AsyncIterator[list[faust.EventT[bytes]]]:
    """Events of `stream` in order, in lists of up to `most`: each list is what the stream's
    buffer held, plus, when the last event taken is `lagging`, what arrived while waiting
    `linger_s` once for more."""
    queue: Any = stream.channel.queue  # type: ignore[attr-defined]  # the agent's own buffer
    batch: list[faust.EventT[bytes]] = []
    lingered = False
    async for event in stream.events():
        batch.append(event)
        if len(batch) < most:
            if not queue.empty():
                continue
            if not lingered and lagging(event):
                lingered = True
                await asyncio.sleep(linger_s)
                if not queue.empty():
                    continue
        yield batch
        batch, lingered = [], False
