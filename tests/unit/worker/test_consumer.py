"""The worker's consumer (`mash.worker.consumer`): faust's drain loop (copied in
`mash.worker.faust_internals`), except that a message far behind its partition's end reaches the
agent's buffer without a round of tasks of its own, and that a fetch waits only briefly while a
full buffer holds a partition back.

The consumer is the one a worker's faust app builds; what Kafka would hand its drain loop (the
fetched messages and the partitions' ends) is a stand-in. Every integration test of the worker,
the crash and rebalance tests included, runs the real thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP
from mode.utils.locks import Event

from mash.worker.consumer import BACKLOG, HELD_BACK_POLL_S, Consumer
from tests.support.faust_apps import unstarted_app

CONTACTS = TP("contacts", 0)


@pytest.fixture
async def consumer() -> AsyncIterator[Any]:
    app = unstarted_app("unit-consumer")
    consumer: Any = app.consumer
    yield consumer
    # The consumer's thread service (never started) made an event loop of its own.
    consumer._thread.thread_loop.close()


async def drained(consumer: Any, offsets: list[int], end: int | None) -> list[tuple[int, str]]:
    """Runs the drain loop over one fetch of `offsets` from a partition ending at `end`; returns
    each message delivered, in order, with whether the loop itself or a task of its own did it."""
    fetcher = SimpleNamespace(_stopped=Event())
    delivered: list[tuple[int, str]] = []
    loop_task: asyncio.Task[None] | None = None

    async def callback(message: Any) -> None:
        delivered.append((message.offset, "loop" if asyncio.current_task() is loop_task else "task"))

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        for offset in offsets:
            yield CONTACTS, SimpleNamespace(topic=CONTACTS.topic, offset=offset, key=b"", value=b"")
        fetcher._stopped.set()

    consumer.callback = callback
    consumer.getmany = getmany
    consumer.highwater = {CONTACTS: end}.get
    loop_task = asyncio.create_task(consumer._drain_messages(fetcher))
    await asyncio.wait_for(loop_task, timeout=5)
    return delivered


def test_a_worker_app_builds_this_consumer(consumer: Any) -> None:
    assert type(consumer) is Consumer


async def test_a_backlog_is_delivered_in_order_by_the_loop_itself(consumer: Any) -> None:
    offsets = [0, 1, 2, 3]

    assert await drained(consumer, offsets, end=10_000) == [(offset, "loop") for offset in offsets]
    assert consumer._read_offset[CONTACTS] == 3


async def test_near_the_end_each_message_goes_faust_s_way_in_a_task_of_its_own(consumer: Any) -> None:
    last_far_behind = 10_000 - BACKLOG - 1
    offsets = [last_far_behind, last_far_behind + 1, 9_999]

    assert await drained(consumer, offsets, end=10_000) == [
        (last_far_behind, "loop"),
        (last_far_behind + 1, "task"),
        (9_999, "task"),
    ]


async def test_a_partition_whose_end_is_not_known_yet_goes_faust_s_way(consumer: Any) -> None:
    assert await drained(consumer, [0], end=None) == [(0, "task")]


async def test_while_faust_has_suspended_the_flow_nothing_is_delivered_directly(consumer: Any) -> None:
    consumer.suspend_flow.set()  # as faust does when a rebalance starts

    assert (0, "loop") not in await drained(consumer, [0], end=10_000)


async def fetch_wait(consumer: Any) -> float:
    """How long the drain loop lets its next fetch wait for records."""
    fetcher = SimpleNamespace(_stopped=Event())
    asked: list[float] = []

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        asked.append(timeout)
        fetcher._stopped.set()
        nothing: list[tuple[TP, Any]] = []  # nothing fetched
        for message in nothing:
            yield message

    consumer.getmany = getmany
    await asyncio.wait_for(consumer._drain_messages(fetcher), timeout=5)
    return asked[0]


async def test_while_a_full_buffer_holds_a_partition_back_the_loop_fetches_again_soon(consumer: Any) -> None:
    outcomes = TP("outcomes", 0)
    consumer._active_partitions = {CONTACTS, outcomes}
    consumer.on_buffer_full(CONTACTS)  # as faust does when the agent's buffer fills up

    # The next fetch would be for the outcomes partition alone, which may hold nothing: it must
    # not keep the contacts partition waiting once the agent has emptied its buffer.
    assert await fetch_wait(consumer) == HELD_BACK_POLL_S < 0.1
    consumer.on_buffer_drop(CONTACTS)
    assert await fetch_wait(consumer) == 1.0  # faust's own wait
