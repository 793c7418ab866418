"""How the worker's agent takes its events (`mash.worker.batches`): in order, in batches of
what faust's buffer holds, never waiting for more.

The stream here is a stand-in with faust's two parts that `batches` uses: the agent's buffer
(`channel.queue`) and `events()`, which takes from it. The real stream is exercised by every
integration test of the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from mash.worker.batches import batches


class BufferedStream:
    """Events put in the buffer come out of `events()` in order, as from a faust stream."""

    def __init__(self) -> None:
        self.channel = SimpleNamespace(queue=asyncio.Queue[str]())

    def put(self, *events: str) -> None:
        for event in events:
            self.channel.queue.put_nowait(event)

    async def events(self) -> AsyncIterator[str]:
        while True:
            yield await self.channel.queue.get()


async def next_batch(taken: AsyncIterator[list[Any]]) -> list[Any]:
    return await asyncio.wait_for(anext(taken), timeout=5)


async def test_what_the_buffer_holds_comes_as_one_batch_in_order() -> None:
    stream = BufferedStream()
    stream.put("a", "b", "c", "d")
    taken = batches(stream)  # type: ignore[arg-type]

    assert await next_batch(taken) == ["a", "b", "c", "d"]


async def test_at_a_trickle_each_event_comes_alone() -> None:
    stream = BufferedStream()
    taken = batches(stream)  # type: ignore[arg-type]

    stream.put("a")
    assert await next_batch(taken) == ["a"]
    stream.put("b")
    assert await next_batch(taken) == ["b"]


async def test_a_batch_holds_at_most_most_events() -> None:
    stream = BufferedStream()
    stream.put(*"abcdefg")
    taken = batches(stream, most=3)  # type: ignore[arg-type]

    assert [await next_batch(taken) for _ in range(3)] == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
