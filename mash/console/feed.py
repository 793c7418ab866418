"""Reads the cases, plans and contacts topics from the beginning into a ConsoleView, then follows them.

No consumer group: every console replica reads everything, so each holds the whole view and
any replica can answer any browser. `caught_up` is set once the records that were on the
topics at start have been read, which is when the console reports itself ready.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from mash.config import Settings
from mash.console.view import Change, ConsoleView
from mash.domain.case import CaseRecord, PlanRecord
from mash.intake.ledger import H_CONTACT
from mash.observability.logging import get_logger

log = get_logger(__name__)

OnChanges = Callable[[list[Change]], None]


class ViewFeed:
    def __init__(self, settings: Settings, view: ConsoleView, on_changes: OnChanges) -> None:
        self.settings = settings
        self.view = view
        self.on_changes = on_changes
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._topics = {name: settings.topic(name) for name in ("cases", "plans", "contacts")}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="console-view-feed")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: read again from the beginning
                log.warning("console_feed_restart", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in self._topics.values()
                for p in sorted(await self._partitions(consumer, topic))
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp, end in ends.items() if end > 0}
            if not pending:
                self.caught_up.set()
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                changes: list[Change] = []
                for tp, records in batches.items():
                    for rec in records:
                        changes.extend(self._apply(tp.topic, rec))
                if changes and self.caught_up.is_set():
                    self.on_changes(changes)
                if pending:
                    pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
                    if not pending:
                        self.caught_up.set()
                        log.info("console_view_caught_up", cases=len(self.view.records))
        finally:
            await consumer.stop()

    def _apply(self, topic: str, rec: ConsumerRecord[bytes, bytes]) -> list[Change]:
        if rec.value is None:
            return []
        try:
            if topic == self._topics["cases"]:
                return self.view.apply_case(CaseRecord.model_validate_json(rec.value))
            if topic == self._topics["plans"]:
                return self.view.apply_plan(PlanRecord.model_validate_json(rec.value))
            header = dict(rec.headers).get(H_CONTACT)
            # Contacts written by something other than the intake adapter may lack the header.
            contact_id = header.decode() if header is not None else str(orjson.loads(rec.value)["contact_id"])
            self.view.add_contact(contact_id, rec.value)
        except (ValidationError, orjson.JSONDecodeError, KeyError, TypeError):
            # Only where: a pydantic error on a contact would echo a child's details.
            log.warning("console_unreadable_record", topic=topic, partition=rec.partition, offset=rec.offset)
        return []

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> set[int]:
        for _ in range(50):
            found = consumer.partitions_for_topic(topic)
            if found:
                return set(found)
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        raise RuntimeError(f"topic {topic} has no partitions; run the worker or `mash topics` first")
