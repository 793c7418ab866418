"""What both agents do around their own step: keep each input partition in order, dead-letter an
event that does not parse, and acknowledge a batch once its output is with aiokafka.

Each agent takes its events from a `noack()` stream in batches (`mash.worker.batches`) and
acknowledges them itself, so faust commits nothing before a batch's output is with aiokafka.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import faust

from mash.adapters.dead_letters import Rejected, box_key, dead_letter, to_json
from mash.config import Settings
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.worker.batches import batches
from mash.worker.delivery import RecordOrder, RecordsSkipped, stop_uncommitted
from mash.worker.faust_internals import set_current_event

log = get_logger(__name__)

Event = faust.EventT[bytes]
# A batch of events and the stream they came from, which acknowledges them.
HandleBatch = Callable[[list[Event], Any], Awaitable[None]]


class DeadLetterTopic:
    """The dead-letter topic, each letter's original sealed to the operators' public key: the
    worker holds nothing that opens one. Without that key a letter keeps only the record's place,
    size and digest."""

    def __init__(self, topic: faust.TopicT, public_key: bytes | None) -> None:
        self.topic = topic
        self.public_key = public_key

    @classmethod
    def of(cls, app: faust.App, settings: Settings) -> DeadLetterTopic:
        topic = app.topic(settings.topic("dlq"), key_type=bytes, value_type=bytes)
        key = settings.dead_letter_public_key
        return cls(topic, box_key(key, "MASH_DEAD_LETTER_PUBLIC_KEY") if key else None)

    def send(self, event: Event, rejected: Rejected) -> None:
        message = event.message
        letter = dead_letter(
            message.topic,
            message.partition,
            message.offset,
            message.key,
            message.value or b"",
            rejected,
            datetime.now(UTC),
            self.public_key,
        )
        self.topic.send_soon(key=None, value=to_json(letter))
        metrics.DEAD_LETTERS.labels(topic=message.topic, reason=rejected.reason.value).inc()
        log.warning("dead_letter", topic=message.topic, offset=message.offset, reason=rejected.reason.value)


@dataclass(frozen=True)
class AgentSupport:
    order: RecordOrder
    dead_letters: DeadLetterTopic

    async def in_order(self, event: Event, stream: Any) -> None:
        """Stops the worker uncommitted if records before this one were left out; makes it the
        stream's current event, because faust's table finds a key's partition from it (by now it
        is the batch's last)."""
        try:
            await self.order.check(event.message.tp, event.message.offset)
        except RecordsSkipped as skipped:
            stop_uncommitted("records skipped", detail=str(skipped))
        set_current_event(stream, event)


class Acknowledge:
    """Once a batch's output is with aiokafka: faust may commit its events. Each event is timed as
    its share of the batch (faust times no event the agent acknowledges itself)."""

    def __init__(self, topics: Iterable[str]) -> None:
        # Metric series looked up once, not per event.
        self.processing = {topic: metrics.EVENT_PROCESSING.labels(topic=topic) for topic in topics}

    async def __call__(self, batch: list[Event], stream: Any, started: float) -> None:
        share = (time.perf_counter() - started) / len(batch)
        for event in batch:
            await stream.ack(event)
            self.processing[event.message.topic].observe(share)


async def in_batches(stream: faust.StreamT[bytes], handle: HandleBatch) -> None:
    """An agent's body: its stream's events, in batches, to `handle`, which acknowledges them."""
    events = cast(Any, stream).noack()
    async for batch in batches(events):
        await handle(batch, events)
