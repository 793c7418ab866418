"""Which broker a worker's table state belongs to, so state from another broker is never reused.

The embedded broker keeps nothing: after it restarts, the changelog that the worker's local
table state (RocksDB) was built from is gone, and faust refuses to start with that state
(`ConsistencyError: persisted offset ... is higher than the last offset`) until someone
deletes it by hand. So the broker carries an epoch: one random id, the first record of
`<prefix>.broker-epoch.v1`, written by the first worker to start on it. The worker keeps
the epoch its state was built on beside the state, and discards the state when the broker's
epoch is another one (or the state has none).
"""

from __future__ import annotations

import contextlib
import shutil
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from mash.config import Settings
from mash.observability.logging import get_logger

log = get_logger(__name__)

EPOCH_FILE = "broker-epoch"


async def _first_record(settings: Settings, tp: TopicPartition) -> bytes | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            return None
        await consumer.seek_to_beginning(tp)
        while True:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
            if batch.get(tp):
                value: bytes | None = batch[tp][0].value
                return value
    finally:
        await consumer.stop()


async def broker_epoch(settings: Settings) -> str:
    """The broker's epoch, written now if this is the first worker to start on it."""
    topic = settings.topic("broker-epoch")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(topic, num_partitions=1, replication_factor=settings.topic_replication)]
            )
    finally:
        await admin.close()
    tp = TopicPartition(topic, 0)
    first = await _first_record(settings, tp)
    if first is None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", max_batch_size=1)
        await producer.start()
        try:
            await producer.send_and_wait(topic, uuid.uuid4().hex.encode(), partition=0)
        finally:
            await producer.stop()
        first = await _first_record(settings, tp)  # another worker may have written first: its wins
    assert first is not None
    return first.decode()


def discard_stale_state(settings: Settings, epoch: str) -> bool:
    """Removes the table state unless it was built on this broker; True if it was removed."""
    marker = settings.data_dir / EPOCH_FILE
    stale = settings.data_dir.exists() and (not marker.exists() or marker.read_text() != epoch)
    if stale:
        log.warning("worker_state_discarded", reason="built on another broker (the embedded one restarted)")
        shutil.rmtree(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(epoch)
    return stale
