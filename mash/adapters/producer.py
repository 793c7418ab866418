"""The producer the HTTP processes (intake, console) write with, connected in the background.

Connecting in the background lets a process bind its port, answer its health checks (live,
not ready) and stop on SIGTERM while Kafka is still unreachable; requests that need to
write meanwhile get `ProducerUnavailable`, which the handlers turn into 503.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from mash.config import Settings
from mash.observability.logging import get_logger

log = get_logger(__name__)


class ProducerUnavailable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to write: what the service layer hands a `Publisher`."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def new_producer(settings: Settings, max_batch_bytes: int = 16384) -> AIOKafkaProducer:
    """An aiokafka producer as the service writes: acks=all, sent at once, the produce timeout."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=0,
        request_timeout_ms=int(settings.produce_timeout_s * 1000),
        # One record per batch on the embedded broker keeps its end offsets exact.
        max_batch_size=1 if settings.embedded_broker else max_batch_bytes,
    )


async def send_all(producer: AIOKafkaProducer, records: Sequence[Outgoing], timeout_s: float) -> None:
    """Sends every record, then waits for every acknowledgement, all within `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        sent = [
            await producer.send(r.topic, value=r.value, key=r.key, headers=list(r.headers)) for r in records
        ]
        await asyncio.gather(*sent)


class ProducerHandle:
    """The `ports.Publisher` on Kafka, once `start` has connected it."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None

    def get(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise ProducerUnavailable("not connected to Kafka yet")
        return self._producer

    async def publish(self, *records: Outgoing) -> None:
        """Writes the records in order and returns when Kafka has every one (acks=all).

        All are sent before any is awaited, so a submission of several records costs one round
        trip. Raises `ProducerUnavailable` before Kafka is reached, `TimeoutError` after
        `produce_timeout_s`, or the `KafkaError` that refused a record."""
        await send_all(self.get(), records, self.settings.produce_timeout_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name=f"producer-{self.name}")

    async def connect_now(self) -> None:
        """Connects before returning, or raises the `KafkaError`: for a one-off command, which
        should fail at once rather than wait for Kafka as the HTTP processes do."""
        producer = new_producer(self.settings)
        try:
            await producer.start()
        except KafkaError:
            await producer.stop()
            raise
        self._producer = producer

    async def _connect(self) -> None:
        while True:
            producer = new_producer(self.settings)
            try:
                await producer.start()
            except KafkaError:
                log.warning("waiting_for_kafka", process=self.name)
                await producer.stop()
                await asyncio.sleep(1.0)
                continue
            self._producer = producer
            return

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer:
            await self._producer.stop()


@contextlib.asynccontextmanager
async def command_publisher(settings: Settings) -> AsyncIterator[ProducerHandle]:
    """A publisher for a one-off command (erasure, key rotation), connected while the block runs."""
    handle = ProducerHandle(settings, "command")
    await handle.connect_now()
    try:
        yield handle
    finally:
        await handle.stop()
