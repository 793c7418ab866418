"""A read-side view on the embedded broker sees every record of partitions that several producers
write to at once, as two workers' case records do.

Without `Gaps` the follower passed a record the broker served late in about half the runs of this
test's scenario (docs/embedded-broker.md); a test run where the broker
serves everything in order checks nothing more than the plain read.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import defaultdict

from mash.adapters.follow import TopicFollower
from mash.adapters.topics import ensure_topics
from mash.cli.embedded import EmbeddedBroker
from mash.config import Settings
from tests.support.kafka_topics import read_topic

WRITERS, RECORDS_EACH = 3, 15_000

# One writer: a producer as the worker's in the embedded profile (one record per batch).
WRITE = """
import asyncio, sys
from aiokafka import AIOKafkaProducer

async def main(bootstrap, topic, name, count):
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=1)
    await producer.start()
    try:
        sent = [await producer.send(topic, b"x" * 600, key=f"{name}-{n}".encode()) for n in range(count)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

asyncio.run(main(*sys.argv[1:4], int(sys.argv[4])))
"""


async def test_a_view_sees_every_record_of_partitions_several_producers_write_to(
    broker: EmbeddedBroker,
) -> None:
    settings = Settings(
        mode="development",
        kafka_bootstrap=broker.bootstrap,
        topic_prefix="t" + uuid.uuid4().hex[:10],
        embedded_broker=True,
    )
    await ensure_topics(settings)
    topic = settings.topic("cases")
    seen: dict[int, set[int]] = defaultdict(set)
    follower = TopicFollower(settings, [topic], lambda r: seen[r.partition].add(r.offset), "test")
    await follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), timeout=30)
        writers = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", WRITE, broker.bootstrap, topic, str(n), str(RECORDS_EACH)
            )
            for n in range(WRITERS)
        ]
        assert [await writer.wait() for writer in writers] == [0] * WRITERS
        written = await asyncio.to_thread(read_topic, broker.bootstrap, topic, WRITERS * RECORDS_EACH)
        assert len(written) == WRITERS * RECORDS_EACH
        deadline = time.monotonic() + 30
        while sum(map(len, seen.values())) < len(written) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await follower.stop()
    expected: dict[int, set[int]] = defaultdict(set)
    for record in written:
        expected[record.partition].add(record.offset)
    missed = {p: sorted(offsets - seen[p])[:10] for p, offsets in expected.items() if offsets - seen[p]}
    assert missed == {}, f"the follower never saw these offsets: {missed}"
