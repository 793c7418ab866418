"""`mash replay FILE`: historical events through the real pipeline, in file order.

Each line is a contact submission or an outcome, as an agency would have sent it, with
its historical `received_at` / `occurred_at`, or a person's decision about a contact earlier
in the file (docs/figures.md, "Replay files"): its free text sealed, as the console seals it.
Lines are validated exactly as the intake adapter validates requests (bad ones are reported
with their line numbers and skipped), split and keyed by the same functions, written to the same
topics, and processed by the running workers. A contact's indicator codes are checked against
the ruleset in force on the day it was received. The command returns when the workers have
committed every event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError
from tqdm import tqdm

from mash.adapters.dead_letters import problems_of
from mash.adapters.keyring import Keyring
from mash.adapters.keys import key_records, keys_follower
from mash.config import Settings
from mash.domain.contact import ContactSubmission, submission_problems
from mash.domain.decisions import RecordedDecision
from mash.domain.identity import reference_key
from mash.domain.outcomes import OutcomeSubmission
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.submissions import decision_event, outcome_event, split_submission
from mash.intake.agencies import Agency
from mash.views.ledger import contact_headers


@dataclass
class ReplayResult:
    contacts: int = 0
    outcomes: int = 0
    decisions: int = 0
    seconds: float = 0.0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]
Kind = Literal["contact", "outcome", "decision"]
KINDS: tuple[Kind, ...] = ("contact", "outcome", "decision")


def _reasons(exc: ValidationError, *prefix: str) -> str:
    return "; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems_of(exc, prefix))


class LineReader:
    """A replay file's lines as Kafka records, in file order.

    It remembers every contact it has read, because a decision line names its contact as the
    partner did, and a decision about a contact not in the file is refused."""

    def __init__(
        self,
        agencies: dict[str, Agency],
        rulesets: RulesetHistory,
        secret: bytes,
        settings: Settings,
        now: datetime,
        keyring: Keyring,
    ) -> None:
        self.keyring = keyring
        self.agencies = agencies
        self.rulesets = rulesets
        self.secret = secret
        self.settings = settings
        self.now = now
        self.contacts: set[str] = set()  # the ids of the contacts read so far

    def records(self, line: bytes) -> tuple[Kind, list[Record]]:
        """The line's kind and records; raises ValueError with a reason that names no personal data."""
        try:
            item: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ValueError("not valid JSON") from None
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            raise ValueError('each line needs "kind": "contact", "outcome" or "decision"')
        if item["kind"] == "decision":
            return "decision", self._decision(item.get("decision"))
        agency = self.agencies.get(str(item.get("agency")))
        if agency is None:
            raise ValueError("unknown agency")
        if item["kind"] == "outcome":
            return "outcome", self._outcome(agency, item.get("event"))
        return "contact", self._contact(agency, item.get("submission"))

    def _outcome(self, agency: Agency, raw: Any) -> list[Record]:
        try:
            outcome = OutcomeSubmission.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(_reasons(exc)) from None
        if not agency.can_report_outcomes:
            raise ValueError("this agency may not report outcomes")
        event = outcome_event(self.secret, agency.id, outcome, self.now)
        return [
            (self.settings.topic("outcomes"), event.outcome_id.encode(), event.model_dump_json().encode(), [])
        ]

    def _contact(self, agency: Agency, raw: Any) -> list[Record]:
        try:
            submission = ContactSubmission.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(_reasons(exc)) from None
        if submission.received_at is None:
            raise ValueError("received_at is required in a replay: it is the historical time")
        # Checked against the ruleset in force when it was received, as the worker screens it.
        ruleset = self.rulesets.in_force(submission.received_at)
        problems = submission_problems(
            submission,
            received_at=submission.received_at,
            now=self.now,
            known_indicators=ruleset.codes,
            catalogue_source=f"ruleset {ruleset.version}",
            max_backdate=None,  # a replay loads history on purpose
        )
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, p.loc[1:]))}: {p.msg}" for p in problems))
        ref_key = reference_key(self.secret, agency.id, submission.agency_reference)
        events = split_submission(
            self.secret, agency.id, agency.default_source, submission, submission.received_at, self.now
        )
        self.contacts.update(e.contact_id for e in events)
        keys, topic = self._new_keys({e.contact_id for e in events}), self.settings.topic("contacts")
        return keys + [
            (
                topic,
                e.contact_id.encode(),
                e.sealed(self.keyring.seal).model_dump_json().encode(),
                contact_headers(ref_key, e),
            )
            for e in events
        ]

    def _decision(self, raw: Any) -> list[Record]:
        try:
            recorded = RecordedDecision.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(_reasons(exc, "decision")) from None
        try:
            event = decision_event(self.secret, recorded, self.contacts)
        except ValidationError as exc:
            raise ValueError(_reasons(exc, "decision")) from None
        # What the person wrote is sealed under the contact's data key (a new one first, if the
        # contact's was erased since), as the console seals it.
        keys = self._new_keys({event.contact_id})
        sealed = event.sealed(self.keyring.seal).model_dump_json().encode()
        return [*keys, (self.settings.topic("decisions"), event.contact_id.encode(), sealed, [])]

    def _new_keys(self, contact_ids: set[str]) -> list[Record]:
        """A data key for each of these contacts that has none, kept to seal with, and the records
        that write it: they go before anything sealed under it."""
        new_keys = [self.keyring.new_key(t)[0] for t in self.keyring.without_key(contact_ids)]
        for key in new_keys:
            self.keyring.add(key)
        topic = self.settings.topic("keys")
        return [(topic, *record) for record in key_records(new_keys)]


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


async def _wait_processed(settings: Settings, ends: dict[TopicPartition, int], show: bool) -> None:
    """Until the workers' consumer group has committed every input offset written."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    total = sum(ends.values())
    bar = tqdm(total=total, desc="processed", unit="event", disable=not show)
    try:
        while True:
            committed = await admin.list_consumer_group_offsets(settings.app_id, partitions=list(ends))
            # A partition nobody has committed on reports -1.
            done = sum(
                min(max(committed[tp].offset, 0), end) if committed.get(tp) else 0 for tp, end in ends.items()
            )
            bar.update(done - bar.n)
            if done >= total:
                return
            await asyncio.sleep(0.5)
    finally:
        bar.close()
        await admin.close()


async def replay(
    settings: Settings,
    path: Path,
    agencies: dict[str, Agency],
    rulesets: RulesetHistory,
    show_progress: bool = True,
) -> ReplayResult:
    result = ReplayResult()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=1 if settings.embedded_broker else 256 * 1024,
    )
    await producer.start()
    keyring = Keyring(settings.master())
    await keys_follower(settings, keyring, "replay").read_to_end()
    reader = LineReader(agencies, rulesets, settings.secret(), settings, datetime.now(UTC), keyring)
    started = time.monotonic()
    try:
        await _send_lines(producer, reader, path, result, show_progress)
        ends_by_tp = await _input_ends(settings, producer)
    finally:
        await producer.stop()
    await _wait_processed(settings, ends_by_tp, show_progress)
    result.seconds = time.monotonic() - started
    return result


async def _send_lines(
    producer: AIOKafkaProducer, reader: LineReader, path: Path, result: ReplayResult, show_progress: bool
) -> None:
    """Sends every good line's records, in file order; counts them, and the bad lines, in `result`."""
    pending: list[asyncio.Future[Any]] = []
    contacts_topic = reader.settings.topic("contacts")
    total = sum(1 for _ in numbered_lines(path))
    for number, line in tqdm(
        numbered_lines(path), total=total, desc="replayed", unit="line", disable=not show_progress
    ):
        try:
            kind, records = reader.records(line)
        except ValueError as exc:
            result.bad_lines.append((number, str(exc)))
            continue
        for topic, key, value, headers in records:
            pending.append(await producer.send(topic, key=key, value=value, headers=headers))
        if kind == "contact":
            result.contacts += sum(1 for r in records if r[0] == contacts_topic)
        elif kind == "outcome":
            result.outcomes += 1
        else:
            result.decisions += 1
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def _input_ends(settings: Settings, producer: AIOKafkaProducer) -> dict[TopicPartition, int]:
    """The end offsets of the input topics, once everything is sent: what the workers must commit."""
    ends_by_tp: dict[TopicPartition, int] = {}
    for name in ("contacts", "outcomes", "decisions"):
        topic = settings.topic(name)
        tps = [TopicPartition(topic, p) for p in await producer.partitions_for(topic)]
        ends_by_tp.update(await _end_offsets(settings, tps))
    return ends_by_tp


async def _end_offsets(settings: Settings, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()
