"""The worker's producer flush, which faust runs before it commits offsets, leaves nothing behind.

faust's own flush returned while records were still in its send buffer whenever the broker
was slow for 0.1 s; the offsets committed next then covered records a crash would lose.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from mash.adapters.ruleset_registry import Registry
from mash.cli.embedded import EmbeddedBroker
from mash.config import Settings
from mash.domain.ruleset import load_ruleset
from mash.worker.faust_app import create_app
from tests.support.kafka_topics import read_topic

RECORDS = 50


async def flush_across_a_pause(broker: EmbeddedBroker, settings: Settings) -> int:
    """Buffers records, pauses the broker, flushes; returns what the buffer holds once flushed."""
    assert broker.process is not None
    registry = Registry(settings)
    registry.add(load_ruleset())
    app = create_app(settings, load_ruleset(), registry)
    app.finalize()
    producer = app.producer
    await producer.start()
    try:
        topic_name = settings.topic("cases")
        await producer.send_and_wait(topic_name, b"k", b"first", partition=0, timestamp=None, headers=None)
        topic = app.topic(topic_name, key_type=bytes, value_type=bytes)
        for n in range(RECORDS):
            topic.send_soon(key=b"k", value=b"%d" % n, partition=0)
        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            flush = asyncio.ensure_future(producer.flush())
            await asyncio.sleep(0.5)  # faust's own flush gave up after 0.1 s without progress
            assert not flush.done(), "the flush returned while the broker was paused"
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        await flush
        left: int = producer.buffer.size
        return left
    finally:
        await producer.stop()


def test_the_flush_before_a_commit_waits_for_every_buffered_record(tmp_path: Path) -> None:
    with EmbeddedBroker() as own:  # this test pauses its broker, so it doesn't share one
        settings = Settings(
            mode="development",
            kafka_bootstrap=own.bootstrap,
            embedded_broker=True,
            topic_prefix="delivery",
            data_dir=tmp_path / "worker",
        )
        left = asyncio.run(flush_across_a_pause(own, settings))
        assert left == 0, f"{left} records were still in faust's send buffer when the flush returned"
        values = [r.value for r in read_topic(own.bootstrap, settings.topic("cases"), at_least=RECORDS + 1)]
        assert values == [b"first", *(b"%d" % n for n in range(RECORDS))]
