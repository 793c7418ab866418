"""The intake's `Publisher`: its own producer, and never a 202 for a record the broker did not keep.

Unlike the shared `ProducerHandle` it connects in two steps (Kafka answers, then the topics pass
the guard's first check: see guard.py), and on the embedded broker checks the topics before and
after every write, so that a write into a broker that restarted under it is reported unstored.
Every failure to store is reported as `ProducerUnavailable`, which the service layer answers 503.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from mash.adapters.producer import Outgoing, ProducerUnavailable, new_producer, send_all
from mash.config import Settings
from mash.intake.guard import TopicGuard, TopicsUnavailable
from mash.observability.logging import get_logger

log = get_logger(__name__)


class IntakeProducer:
    def __init__(self, settings: Settings, guard: TopicGuard) -> None:
        self.settings = settings
        self.guard = guard
        self._producer: AIOKafkaProducer | None = None
        self._open = False

    @property
    def ready(self) -> bool:
        """Whether a write may be tried: Kafka answered, the topics passed, and `open` was called."""
        return self._open

    def open(self) -> None:
        self._open = True

    def _new_producer(self) -> AIOKafkaProducer:
        # Up to 256 KiB a batch: aiokafka fills one batch per partition while its one request to
        # the broker is in flight, so concurrent requests share the next round trip; at 16 KiB
        # (about ten contacts) a full batch made the rest wait a round trip more.
        return new_producer(self.settings, max_batch_bytes=256 * 1024)

    async def connect(self) -> None:
        """Returns once Kafka answers and the topics pass the guard's first check, trying again
        every second until then."""
        producer = self._producer = self._new_producer()
        while True:
            try:
                await producer.start()
                break
            except KafkaError:
                log.warning("intake_waiting_for_kafka")
                await asyncio.sleep(1.0)
        while True:
            try:
                await self.guard.check(producer.client)
                break
            except TopicsUnavailable as exc:
                log.warning("intake_waiting_for_topics", reason=str(exc))
                await asyncio.sleep(1.0)

    async def publish(self, *records: Outgoing) -> None:
        """Writes the records with acks=all and waits for every acknowledgement, within the produce
        timeout; raises `ProducerUnavailable` if Kafka may not hold them all."""
        producer = self._producer
        if not self._open or producer is None:  # Kafka not reached yet, or its topics not checked
            raise ProducerUnavailable("not connected to Kafka yet")
        embedded = self.settings.embedded_broker
        try:
            generation = await self.guard.check(producer.client) if embedded else 0
            await send_all(producer, records, self.settings.produce_timeout_s)
            if embedded and await self.guard.check(producer.client) != generation:
                log.warning("intake_broker_restarted_during_write")
                raise ProducerUnavailable("the broker restarted during the write")
        except (KafkaError, TimeoutError, TopicsUnavailable) as exc:
            log.warning("intake_kafka_unavailable", error=type(exc).__name__)
            raise ProducerUnavailable("Kafka did not take the records") from None

    async def same_broker(self) -> bool:
        """Whether the broker is still the one the ledger was read from. Only the embedded broker
        can come back empty; finding it so rebuilds the ledger (the guard's `on_fresh_broker`).
        Raises `ProducerUnavailable` if the broker cannot be asked."""
        producer = self._producer
        if not self.settings.embedded_broker or producer is None:
            return True
        before = self.guard.generation
        try:
            return await self.guard.check(producer.client) == before
        except (KafkaError, TopicsUnavailable) as exc:
            raise ProducerUnavailable(type(exc).__name__) from None

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
