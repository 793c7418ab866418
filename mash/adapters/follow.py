"""Following whole topics from the beginning: how every read-side view is built.

The intake's ledger, the console's queues and the live figures each keep their own view
of the topics they read, with no consumer group, so any number of replicas can run and a
restarted one rebuilds the same view. `TopicFollower` reads from the beginning, tells
when it has caught up with what was there when it started, then keeps following.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

from mash.adapters.ports import OnRecord
from mash.config import Settings
from mash.observability.logging import get_logger

log = get_logger(__name__)

# How long a follower waits, with every fetch coming back empty, for records up to an end
# offset the broker reported but does not serve. The embedded broker, restarted empty under
# writers, has been seen reporting such ends for good; Kafka itself answers a fetch at once
# when there is more to read.
STALL_S = 10.0


@dataclass
class CatchUp:
    """Which partitions are still short of the end they had when the follower started."""

    ends: dict[TopicPartition, int]
    stall_s: float = STALL_S
    pending: set[TopicPartition] = field(init=False)
    unreachable: set[TopicPartition] = field(init=False, default_factory=set)
    _stalled_since: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.pending = {tp for tp, end in self.ends.items() if end > 0}

    def after_fetch(self, positions: dict[TopicPartition, int], fetched: bool, now: float) -> bool:
        """Notes where the partitions are after a fetch; True once none is pending.

        A partition whose end the broker keeps out of reach (every fetch empty for `stall_s`)
        counts as caught up, in `unreachable`: what the broker will not serve, nobody reads.
        """
        self.pending = {tp for tp in self.pending if positions[tp] < self.ends[tp]}
        if fetched or not self.pending:
            self._stalled_since = None
        elif self._stalled_since is None:
            self._stalled_since = now
        elif now - self._stalled_since >= self.stall_s:
            self.unreachable |= self.pending
            self.pending = set()
        return not self.pending


@dataclass
class Gaps:
    """Where each partition's next record should be, for a follower on the embedded broker.

    When several producers write to one partition at once, the embedded broker can serve a
    record before the one in front of it is readable, and a consumer reading on never sees the
    one it passed (docs/embedded-broker.md). The service's topics are
    neither compacted nor transactional, so their offsets follow one another: a jump is such a
    record, and it is read again. A gap that stays for `patience` reads is taken as real.
    """

    patience: int = 200
    next: dict[TopicPartition, int] = field(default_factory=dict)
    tries: dict[TopicPartition, int] = field(default_factory=dict)

    def read_again_from(self, tp: TopicPartition, offset: int) -> int | None:
        """None to take the record at `offset`; else the offset to read `tp` again from."""
        expected = self.next.get(tp)
        if expected is not None and offset > expected:
            tries = self.tries.get(tp, 0)
            if tries < self.patience:
                self.tries[tp] = tries + 1
                return expected
            gap = offset - expected
            log.warning("follower_gap_taken", topic=tp.topic, partition=tp.partition, records=gap)
        self.next[tp] = offset + 1
        self.tries.pop(tp, None)
        return None


class TopicFollower:
    """The `ports.Follower` on Kafka. `on_record` is called for every record in order;
    `after_batch`, if given, after each batch of records (to push changes out once per batch
    rather than once per record)."""

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

    def _caught_up(self, unreachable: set[TopicPartition]) -> None:
        if unreachable:
            where = sorted(f"{tp.topic}/{tp.partition}" for tp in unreachable)
            log.warning("follower_end_unreachable", follower=self.name, partitions=where)
        self.caught_up.set()
        log.info("follower_caught_up", follower=self.name)

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
            # A one-off read (a report, the IMM agenda) waits for every reported record rather
            # than answer from part of the topic; only live views give up on an unserved end.
            ends = await consumer.end_offsets(partitions)
            catch_up = CatchUp(ends, stall_s=STALL_S if forever else math.inf)
            if not catch_up.pending:
                self.caught_up.set()
            gaps = Gaps() if self.settings.embedded_broker else None
            while forever or catch_up.pending:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for tp, records in batches.items():
                    for record in records:
                        again = gaps.read_again_from(tp, record.offset) if gaps is not None else None
                        if again is not None:
                            consumer.seek(tp, again)
                            break
                        self.on_record(record)
                if batches and self.after_batch:
                    self.after_batch()
                if catch_up.pending:
                    positions = {tp: await consumer.position(tp) for tp in catch_up.pending}
                    now = asyncio.get_running_loop().time()
                    if catch_up.after_fetch(positions, bool(batches), now):
                        self._caught_up(catch_up.unreachable)
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
