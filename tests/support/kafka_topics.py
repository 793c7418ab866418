"""Small Kafka helpers for tests: read a topic from the beginning, write raw records."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(parts)]


async def _read(
    bootstrap: str, topic: str, at_least: int, timeout: float
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await _partitions(consumer, topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= at_least and not batch:
                break
        return records
    finally:
        await consumer.stop()


def read_topic(
    bootstrap: str, topic: str, at_least: int = 0, timeout: float = 15.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on the topic, waiting up to `timeout` for at least `at_least` of them."""
    return asyncio.run(_read(bootstrap, topic, at_least, timeout))


async def _size(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await _partitions(consumer, topic))
        return sum(ends.values())
    finally:
        await consumer.stop()


def read_whole_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record the topic holds now (its end offsets), however slowly a loaded broker serves
    them: `read_topic` stops at the first empty fetch. For topics nothing deletes from."""
    return read_topic(bootstrap, topic, at_least=asyncio.run(_size(bootstrap, topic)), timeout=timeout)


async def _write(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=1)
    await producer.start()
    try:
        for key, value in records:
            await (await producer.send(topic, key=key, value=value))
    finally:
        await producer.stop()


def write_topic(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    asyncio.run(_write(bootstrap, topic, records))
