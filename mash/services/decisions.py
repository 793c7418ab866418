"""Recording what people decide: a coordinator's or manager's decision on a contact, and an identity
decision (same child, different child, link, split) on whose contact it is.

A decision is only ever an event: on the decisions topic keyed by its contact, an identity decision
on the identities topic keyed by its first subject (as the worker reads them). What the person
wrote is sealed under that contact's data key, a new key written to the keys topic first for a
contact with none live (e.g. erased), so nothing is ever sealed under a key Kafka could lose. The
worker applies the event and republishes the cases; nothing else changes here.

Either everything is written or the caller hears why not (`NotRecorded`): the event store was
unavailable, or the text could not be sealed (the master keys do not open the contact's key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka.errors import KafkaError

from mash.adapters.keyring import Keyring
from mash.adapters.keys import Records, ensure_keys
from mash.adapters.ports import Publisher
from mash.adapters.producer import Outgoing, ProducerUnavailable
from mash.adapters.sealing import Unreadable
from mash.config import Settings
from mash.domain.decisions import DecisionEvent
from mash.domain.persons import IdentityDecisionEvent

WRITE_FAILURES = (KafkaError, TimeoutError, ProducerUnavailable)


class NotRecorded(Exception):
    """Nothing the caller asked for was recorded; `reason` names why without any personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreUnavailable(NotRecorded):
    """Kafka could not be reached, or did not take the records in time."""


class Unsealable(NotRecorded):
    """What a person wrote could not be sealed under its contact's data key."""


@dataclass(frozen=True)
class SealedWriter:
    """Writes events whose free text is sealed under their contacts' data keys."""

    publisher: Publisher
    settings: Settings
    keyring: Keyring

    async def write(self, contacts: set[str], records: Callable[[], Sequence[Outgoing]]) -> None:
        """Keys for `contacts` first (written before anything is sealed under them), then
        `records()`, which seals, every one sealed before any is sent."""
        try:
            await ensure_keys(self.settings, self.keyring, contacts, self._write_keys)
            sealed = records()
        except WRITE_FAILURES as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        except Unreadable as exc:
            raise Unsealable(str(exc)) from exc
        if sealed:
            await self.publish(*sealed)

    async def publish(self, *records: Outgoing) -> None:
        try:
            await self.publisher.publish(*records)
        except WRITE_FAILURES as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    async def _write_keys(self, topic: str, records: Records) -> None:
        await self.publish(*(Outgoing(topic, value, key, tuple(headers)) for key, value, headers in records))


def decision_record(settings: Settings, keyring: Keyring, decision: DecisionEvent) -> Outgoing:
    """The decision as Kafka holds it: keyed by its contact, its free text sealed."""
    sealed = decision.sealed(keyring.seal)
    return Outgoing(
        settings.topic("decisions"), sealed.model_dump_json().encode(), decision.contact_id.encode()
    )


@dataclass(frozen=True)
class Decisions:
    """The use case behind every decision form: record the event, sealed, or say why not."""

    writer: SealedWriter

    async def record(self, decision: DecisionEvent) -> None:
        writer = self.writer
        await writer.write(
            {decision.contact_id}, lambda: [decision_record(writer.settings, writer.keyring, decision)]
        )

    async def record_identity(self, decision: IdentityDecisionEvent) -> None:
        """Keyed by its first subject, its rationale sealed under that subject's data key."""
        subject = decision.subjects[0]
        writer = self.writer

        def records() -> list[Outgoing]:
            sealed = decision.sealed(writer.keyring.seal)
            topic = writer.settings.topic("identities")
            return [Outgoing(topic, sealed.model_dump_json().encode(), subject.encode())]

        await writer.write({subject}, records)
