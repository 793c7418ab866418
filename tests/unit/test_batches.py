"""How the worker's agent takes its events (`mash.streams.batches`): in order, in batches of
what faust's buffer holds, with one short wait for more when it is empty and the partition
is far behind.

The stream here is a stand-in with faust's two parts that `batches` uses: the agent's buffer
(`channel.queue`) and `events()`, which takes from it. The real stream is exercised by every
integration test of the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.exceptions import ConsumerNotStarted

from mash.streams import batches as batches_module
from mash.streams.batches import batches, behind


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
    taken = batches(stream, lambda _: True, linger_s=0.001)  # type: ignore[arg-type]

    assert await next_batch(taken) == ["a", "b", "c", "d"]


async def test_at_a_trickle_each_event_comes_alone() -> None:
    stream = BufferedStream()
    taken = batches(stream, lambda _: True, linger_s=0.001)  # type: ignore[arg-type]

    stream.put("a")
    assert await next_batch(taken) == ["a"]
    stream.put("b")
    assert await next_batch(taken) == ["b"]


async def test_what_arrives_while_it_waits_joins_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = BufferedStream()
    waits: list[float] = []

    async def arrives_meanwhile(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            stream.put("b", "c")

    monkeypatch.setattr(batches_module.asyncio, "sleep", arrives_meanwhile)
    taken = batches(stream, lambda _: True, linger_s=0.002)  # type: ignore[arg-type]
    stream.put("a")

    assert await next_batch(taken) == ["a", "b", "c"]
    # One wait per batch: once the buffer is empty again after it, the batch goes.
    assert waits == [0.002]


async def test_a_batch_holds_at_most_most_events() -> None:
    stream = BufferedStream()
    stream.put(*"abcdefg")
    taken = batches(stream, lambda _: True, linger_s=0.001, most=3)  # type: ignore[arg-type]

    assert [await next_batch(taken) for _ in range(3)] == [["a", "b", "c"], ["d", "e", "f"], ["g"]]


async def test_an_event_not_lagging_goes_without_a_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = BufferedStream()
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(batches_module.asyncio, "sleep", wait)
    taken = batches(stream, lambda event: event == "far-behind", linger_s=0.002)  # type: ignore[arg-type]

    stream.put("caught-up")
    assert await next_batch(taken) == ["caught-up"]
    assert waits == []
    stream.put("far-behind")
    assert await next_batch(taken) == ["far-behind"]
    assert waits == [0.002]


def event_at(offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp="contacts-0", offset=offset))


def test_behind_means_more_than_the_backlog_after_the_event_as_of_the_latest_fetch() -> None:
    ends: dict[str, int | None] = {"contacts-0": 1_000}
    app = SimpleNamespace(consumer=SimpleNamespace(highwater=ends.get))
    lagging = behind(app, backlog=500)  # type: ignore[arg-type]

    assert lagging(event_at(499))
    assert not lagging(event_at(500))
    ends["contacts-0"] = None  # nothing fetched from the partition yet
    assert not lagging(event_at(0))


def test_an_agent_run_without_kafka_is_never_behind() -> None:
    def not_started(tp: str) -> int:
        raise ConsumerNotStarted("Consumer thread not yet started")

    app = SimpleNamespace(consumer=SimpleNamespace(highwater=not_started))

    assert not behind(app)(event_at(0))  # type: ignore[arg-type]
