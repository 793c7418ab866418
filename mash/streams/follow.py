"""Following whole topics from the beginning: how every read-side view is built.

The intake's ledger, the console's queues and the live figures each keep their own view
of the topics they read, with no consumer group, so any number of replicas can run and a
restarted one rebuilds the same view. `TopicFollower` reads from the beginning, tells
when it has caught up with what was there when it started, then keeps following.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from mash.config import Settings
from mash.observability.logging import get_logger

log = get_logger(__name__)

OnRecord = Callable[[ConsumerRecord[bytes, bytes]], None]


class TopicFollower:
    """`on_record` is called for every record in order; `after_batch`, if given, after each
    batch of records (to push changes out once per batch rather than once per record)."""

    def __init__(
        self,
        settings: Settings,
        topics: Sequence[str],
        on_record: OnRecord,
        name: str,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.topics = list(topics)
        self.on_record = on_record
        self.after_batch = after_batch
        self.name = name
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"follow-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def read_to_end(self) -> None:
        """Reads what the topics hold now, then returns (for one-off commands such as reports)."""
        await self._follow(forever=False)

    async def _run(self) -> None:
        while True:
            try:
                await self._follow(forever=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: the view is rebuilt from the start
                log.warning("follower_restart", follower=self.name, error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _follow(self, forever: bool) -> None:
        wait = self.settings.fetch_wait_ms
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            **({"fetch_max_wait_ms": wait} if wait else {}),
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(t, p) for t in self.topics for p in sorted(await partitions_of(consumer, t))
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp, end in ends.items() if end > 0}
            if not pending:
                self.caught_up.set()
            while forever or pending:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self.on_record(record)
                if batches and self.after_batch:
                    self.after_batch()
                if pending:
                    pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
                    if not pending:
                        self.caught_up.set()
                        log.info("follower_caught_up", follower=self.name)
        finally:
            await consumer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The topic's partitions, waiting a little for metadata of a topic just created."""
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"topic {topic} has no partitions; run `mash topics` first")
