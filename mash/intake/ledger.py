"""What the intake adapter knows of contacts: which submissions it has accepted and each
contact's current status.

It is rebuilt from Kafka (the contacts and cases topics) when the adapter starts and kept
current while it runs, so a restarted adapter, or any number of replicas, answers a
repeated submission with the original ids and produces nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from mash.config import Settings
from mash.observability.logging import get_logger

log = get_logger(__name__)

# Headers on every contact record: enough to rebuild the ledger without parsing (or
# holding) the personal data in the record's value.
H_SUBMISSION = "mash-submission"
H_AGENCY = "mash-agency"
H_CONTACT = "mash-contact"
H_INDEX = "mash-child-index"
H_CHILDREN = "mash-children"


@dataclass
class Submission:
    agency: str
    children: int
    contact_ids: dict[int, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.contact_ids) == self.children

    def ordered_ids(self) -> list[str]:
        return [self.contact_ids[i] for i in sorted(self.contact_ids)]


class Ledger:
    def __init__(self) -> None:
        self.submissions: dict[str, Submission] = {}
        self.status: dict[str, dict[str, object]] = {}
        self.agency_of: dict[str, str] = {}

    def accepted(self, reference_key: str) -> list[str] | None:
        sub = self.submissions.get(reference_key)
        return sub.ordered_ids() if sub and sub.complete else None

    def record_contact(
        self, reference_key: str, agency: str, contact_id: str, index: int, children: int
    ) -> None:
        sub = self.submissions.setdefault(reference_key, Submission(agency=agency, children=children))
        sub.contact_ids[index] = contact_id
        self.agency_of[contact_id] = agency
        self.status.setdefault(contact_id, {"contact_id": contact_id, "status": "received"})

    def record_case(self, record: dict[str, object]) -> None:
        """Keeps what the submitting agency may see: not the reasons, which can reveal the
        child's history with other agencies."""
        contact_id = str(record["contact_id"])
        self.agency_of.setdefault(contact_id, str(record["agency"]))
        self.status[contact_id] = {
            key: record[key]
            for key in (
                "contact_id",
                "status",
                "received_at",
                "level",
                "rag",
                "due_at",
                "route",
                "pathway",
                "ruleset_version",
            )
        }

    def status_for(self, contact_id: str, agency: str) -> dict[str, object] | None:
        if self.agency_of.get(contact_id) != agency:
            return None
        return self.status.get(contact_id)


def _headers(pairs: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    return {k: v.decode() for k, v in pairs}


class LedgerFeed:
    """Reads the contacts and cases topics from the beginning into a Ledger, then follows them."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-feed")

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
            except Exception as exc:  # the broker went away: start again from the beginning
                log.warning("ledger_feed_restart", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _follow(self) -> None:
        contacts, cases = self.settings.topic("contacts"), self.settings.topic("cases")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in (contacts, cases)
                for p in sorted(
                    consumer.partitions_for_topic(topic) or await self._partitions(consumer, topic)
                )
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp, end in ends.items() if end > 0}
            if not pending:
                self.caught_up.set()
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for tp, records in batches.items():
                    for rec in records:
                        if tp.topic == contacts:
                            h = _headers(rec.headers)
                            if H_SUBMISSION in h:
                                self.ledger.record_contact(
                                    h[H_SUBMISSION],
                                    h[H_AGENCY],
                                    h[H_CONTACT],
                                    int(h[H_INDEX]),
                                    int(h[H_CHILDREN]),
                                )
                        elif rec.value is not None:
                            try:
                                self.ledger.record_case(orjson.loads(rec.value))
                            except (orjson.JSONDecodeError, KeyError, TypeError):
                                log.warning("ledger_unreadable_case", offset=rec.offset)
                if pending:
                    pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
                    if not pending:
                        self.caught_up.set()
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> set[int]:
        for _ in range(50):
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(topic)
            if found:
                return set(found)
            await asyncio.sleep(0.2)
        raise RuntimeError(f"topic {topic} has no partitions; run the worker or `mash topics` first")
