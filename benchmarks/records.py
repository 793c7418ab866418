"""Records in and out of the broker: the bench's own producer of inputs, and a counter of outputs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.processes import BenchError, Proc
from mash.adapters import follow

# A record to produce: key, value, headers.
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def bench_producer(bootstrap: str, *, batched: bool = True) -> AIOKafkaProducer:
    """The bench's own producer of inputs: normal batching unless told otherwise."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5 if batched else 0,
        max_batch_size=256 * 1024 if batched else 1,
        max_request_size=4 * 1024 * 1024,
    )


async def produce(bootstrap: str, topic: str, records: Sequence[Record]) -> None:
    """Writes the records (keyed, so each lands on its key's partition) and waits for every ack."""
    producer = bench_producer(bootstrap)
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value, headers in records:
            pending.append(await producer.send(topic, key=key, value=value, headers=headers))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    try:
        return await follow.partitions_of(consumer, topic)
    except RuntimeError as exc:
        raise BenchError(str(exc)) from None


@dataclass
class OutputCounter:
    """Reads a topic from the beginning (no group) and notes when each key first arrives.

    Case records are keyed by contact id, and so are the bare loop's outputs: counting
    distinct keys counts contacts handled, however often a record is republished.
    """

    bootstrap: str
    topic: str
    fetch_wait_ms: int = 50
    first_seen: dict[bytes, float] = field(default_factory=dict)
    records: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"count-{self.topic}")
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._task.result()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=self.fetch_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(self.topic, p) for p in sorted(await partitions_of(consumer, self.topic))
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            self._ready.set()
            gaps = follow.Gaps()  # the bench always runs on the embedded broker: see `Gaps`
            while True:
                batches = await consumer.getmany(timeout_ms=self.fetch_wait_ms, max_records=10_000)
                now = time.perf_counter()
                for tp, batch in batches.items():
                    for record in batch:
                        if (again := gaps.read_again_from(tp, record.offset)) is not None:
                            consumer.seek(tp, again)
                            break
                        self.records += 1
                        if record.key is not None and record.key not in self.first_seen:
                            self.first_seen[record.key] = now
                if batches:
                    self._arrived.set()
        finally:
            await consumer.stop()

    async def wait_for(self, count: int, timeout: float, alive: Sequence[Proc] = ()) -> float:
        """Waits until `count` distinct keys have arrived; returns when the last of them arrived."""
        await self._wait(lambda: len(self.first_seen) >= count, timeout, alive, f"{count} keys")
        return max(self.first_seen.values())

    async def wait_for_keys(self, keys: Iterable[bytes], timeout: float, alive: Sequence[Proc] = ()) -> float:
        """Waits until every one of `keys` has arrived; returns when the last of them arrived."""
        wanted = set(keys)

        def done() -> bool:
            # The subset test walks every wanted key: only worth it once enough keys are there.
            return len(self.first_seen) >= len(wanted) and wanted.issubset(self.first_seen)

        try:
            await self._wait(done, timeout, alive, f"{len(wanted)} given keys")
        except BenchError as exc:
            missing = sorted(wanted.difference(self.first_seen))
            raise BenchError(f"{exc}; missing: {b', '.join(missing[:10]).decode()}") from None
        return max(self.first_seen[k] for k in wanted)

    async def _wait(self, done: Callable[[], bool], timeout: float, alive: Sequence[Proc], what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self._task is not None and self._task.done():
                self._task.result()
                raise BenchError(f"the counter of {self.topic} stopped")
            for proc in alive:
                if not proc.alive():
                    raise BenchError(f"{proc.name} exited during the measurement:\n{proc.log_tail()}")
            if time.monotonic() > deadline:
                there = len(self.first_seen)
                raise BenchError(f"{what} not all on {self.topic} after {timeout:.0f} s ({there} keys there)")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=0.5)
