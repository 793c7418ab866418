"""Partner agencies submitting contacts and outcomes: validated, written to Kafka, remembered.

A contact submission is idempotent on the agency's reference: one already accepted gets the
earlier contact ids and nothing is written again. Two identical submissions at once (often a
client retrying after its own timeout) write once: the second waits for the first's answer,
and is refused if the first was not stored. A submission counts as accepted only once Kafka
holds every record of it (the publisher waits for acks=all), so a write that failed leaves no
trace and its retry is written afresh.

This module knows Kafka only through the `Publisher` and `Follower` ports: the intake gives it
its producer, the unit tests an in-memory Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mash.adapters.keyring import Keyring
from mash.adapters.keys import Records, ensure_keys
from mash.adapters.ports import Publisher
from mash.adapters.producer import Outgoing, ProducerUnavailable
from mash.adapters.ruleset_file import RulesetHolder
from mash.config import Settings
from mash.domain.contact import (
    FUTURE_TOLERANCE,
    CinSource,
    ContactEvent,
    ContactSubmission,
    Problem,
    submission_problems,
)
from mash.domain.identity import reference_key
from mash.domain.outcomes import OutcomeEvent, OutcomeSubmission
from mash.domain.submissions import outcome_event, split_submission
from mash.views.ledger import Ledger, LedgerFeed, contact_headers


class Refused(Exception):
    """A submission or question the service cannot take; nothing has been written."""


class Invalid(Refused):
    """The submission breaks rules the model alone cannot check (the clock, the ruleset)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class StoreNotConnected(Refused):
    """Kafka has not been reached (or its topics not checked) since start-up."""


class LedgerNotCaughtUp(Refused):
    """The ledger is still reading Kafka: an answer from it now could be wrong."""


class NotStored(Refused):
    """Kafka did not take every record; nothing is recorded and the client may retry."""


@dataclass(frozen=True, slots=True)
class Submitted:
    contact_ids: list[str]
    replayed: bool
    source: str | None = None
    """The contacts' CIN source, for the counts of new contacts (None for a replay)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class ContactSubmissions:
    """Submitting contacts, and answering their status, for one intake process.

    `connected` says whether Kafka has been reached since start-up: until then a submission is
    refused before the ledger is consulted.
    """

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        feed: LedgerFeed,
        rules: RulesetHolder,
        connected: Callable[[], bool],
        clock: Callable[[], datetime] = utc_now,
        same_broker: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.settings = settings
        self.same_broker = same_broker
        self.publisher = publisher
        self.feed = feed
        self.rules = rules
        self.connected = connected
        self.clock = clock
        self._secret = settings.secret()
        self._in_flight: dict[str, asyncio.Future[list[str] | None]] = {}

    @property
    def ledger(self) -> Ledger:
        return self.feed.ledger

    @property
    def keyring(self) -> Keyring:
        return self.feed.keyring

    async def submit(
        self, agency: str, default_source: CinSource, submission: ContactSubmission
    ) -> Submitted:
        """One contact per child, written with its data keys; or the earlier answer to the same
        reference. Raises `Invalid`, `StoreNotConnected`, `LedgerNotCaughtUp` or `NotStored`."""
        now = self.clock()
        received_at = submission.received_at or now
        self._check(submission, received_at, now)
        ref_key = reference_key(self._secret, agency, submission.agency_reference)
        if not self.connected():
            raise StoreNotConnected()
        if not self.feed.caught_up:
            raise LedgerNotCaughtUp()
        earlier = await self._earlier(ref_key)
        if earlier is not None:
            await self._still_held()
            return Submitted(earlier, replayed=True)
        events = split_submission(self._secret, agency, default_source, submission, received_at, now)
        await self._write(ref_key, events)
        return Submitted([e.contact_id for e in events], replayed=False, source=events[0].source.value)

    def status(self, contact_id: str, agency: str) -> dict[str, object] | None:
        """The contact's status as `agency` may see it; None if it is not that agency's contact."""
        if not self.feed.caught_up:
            raise LedgerNotCaughtUp()
        return self.ledger.status_for(contact_id, agency)

    def _check(self, submission: ContactSubmission, received_at: datetime, now: datetime) -> None:
        in_force = self.rules.current
        problems = submission_problems(
            submission,
            received_at=received_at,
            now=now,
            known_indicators=self.rules.codes,
            catalogue_source=f"the ruleset catalogue (version {in_force.version}): GET /v1/indicators",
            max_backdate=timedelta(hours=self.settings.max_backdate_hours),
        )
        if problems:
            raise Invalid(problems)

    async def _still_held(self) -> None:
        """Before answering "already accepted": the broker that holds the earlier contacts is still
        there. A broker that came back empty took them with it; the ledger is then read again
        and the client, told to retry, writes the submission anew."""
        if self.same_broker is None:
            return
        try:
            same = await self.same_broker()
        except ProducerUnavailable as exc:
            raise NotStored() from exc
        if not same:
            raise LedgerNotCaughtUp()

    async def _earlier(self, ref_key: str) -> list[str] | None:
        """The ids already accepted for this reference, waiting for a write of it under way."""
        earlier = self.ledger.accepted(ref_key)
        pending = self._in_flight.get(ref_key)
        if earlier is None and pending is not None:
            # Shielded: a waiter that gives up must not cancel the answer the writer will give.
            earlier = await asyncio.shield(pending)
            if earlier is None:
                raise NotStored()
        return earlier

    async def _write(self, ref_key: str, events: list[ContactEvent]) -> None:
        """Writes the contacts, each sealed under its data key (written first if new); only once
        Kafka holds them all does the ledger record the reference as accepted."""
        done: asyncio.Future[list[str] | None] = asyncio.get_running_loop().create_future()
        self._in_flight[ref_key] = done
        stored: list[str] | None = None
        try:
            await ensure_keys(self.settings, self.keyring, {e.contact_id for e in events}, self._produce)
            topic = self.settings.topic("contacts")
            await self.publisher.publish(
                *(
                    Outgoing(
                        topic,
                        e.sealed(self.keyring.seal).model_dump_json().encode(),
                        e.contact_id.encode(),
                        tuple(contact_headers(ref_key, e)),
                    )
                    for e in events
                )
            )
            stored = [e.contact_id for e in events]
        except ProducerUnavailable:
            raise NotStored() from None
        finally:
            done.set_result(stored)
            self._in_flight.pop(ref_key, None)
        # No await from the answer above to here: a waiter and the ledger agree.
        for e in events:
            self.ledger.record_contact(
                ref_key, e.agency, e.contact_id, e.child_index, e.children_in_submission
            )

    async def _produce(self, topic: str, records: Records) -> None:
        await self.publisher.publish(*(Outgoing(topic, value, key, tuple(h)) for key, value, h in records))


async def report_outcome(
    settings: Settings,
    publisher: Publisher,
    agency: str,
    submission: OutcomeSubmission,
    now: datetime,
) -> OutcomeEvent:
    """Writes the outcome keyed by its id, so a repeat is recognised downstream.

    Raises `Invalid` for an outcome dated in the future, `NotStored` if Kafka did not take it."""
    if submission.occurred_at > now + FUTURE_TOLERANCE:
        problem = Problem(
            loc=["body", "occurred_at"],
            msg="must not be more than 5 minutes in the future",
            type="future_datetime",
        )
        raise Invalid([problem])
    event = outcome_event(settings.secret(), agency, submission, now)
    record = Outgoing(settings.topic("outcomes"), event.model_dump_json().encode(), event.outcome_id.encode())
    try:
        await publisher.publish(record)
    except ProducerUnavailable:
        raise NotStored() from None
    return event
