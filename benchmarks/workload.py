"""The contacts every measurement uses: synthetic, realistic, made once per run.

They come from `mash simulate` (a council's front door over a year: sources, bursts,
repeats, siblings), split, keyed and sealed exactly as the intake adapter splits, keys and
seals a submission (keyed by contact id, personal details sealed under a data key of the
contact's own), so the worker sees what it would see in production.

Which child a contact is about is the worker's to find (its identities agent). The simulator
gives a child the same identifiers in every contact, so the bench can name each contact's
child beforehand (`stand_in_child`), and the key the worker gives that child
(`resolved_child_keys`), to build tables and check results without running the worker.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.records import Record
from benchmarks.settings import BENCH_MASTER_KEYS, BENCH_SECRET
from mash.adapters.keyring import Keyring
from mash.adapters.keys import key_records
from mash.adapters.sealing import LocalMasterKey, MasterKeys
from mash.domain.contact import CinSource, ContactEvent, ContactSubmission
from mash.domain.identity import reference_key
from mash.domain.persons import child_key_of
from mash.domain.submissions import split_submission
from mash.intake.agencies import DEMO_AGENCIES
from mash.simulate import SimulationConfig, simulate
from mash.views.ledger import contact_headers

DEFAULT_SOURCE: dict[str, CinSource] = {agency_id: source for agency_id, _, source, _ in DEMO_AGENCIES}

# A submission as a partner posts it: the agency, and the JSON body.
Submission = tuple[str, dict[str, Any]]


def simulated_submissions(children: int, seed: int = 1) -> Iterator[Submission]:
    """Contact submissions (no outcomes) from a simulated year, then further years with new seeds.

    The pool is as many children as the contacts wanted, which gives about one contact per
    child a year, with the simulator's share of repeats and siblings.
    """
    while True:
        config = SimulationConfig(seed=seed, children=max(50, children), days=365)
        for line in simulate(config):
            if line["kind"] == "contact":
                yield str(line["agency"]), line["submission"]
        seed += 1


def contact_events(contacts: int, seed: int = 1) -> list[ContactEvent]:
    """Exactly `contacts` contact events, in the simulator's event-time order."""
    secret = BENCH_SECRET.encode()
    accepted_at = datetime.now(UTC)
    events: list[ContactEvent] = []
    for agency, body in simulated_submissions(contacts, seed):
        submission = ContactSubmission.model_validate(body)
        received_at = submission.received_at or accepted_at
        events.extend(
            split_submission(secret, agency, DEFAULT_SOURCE[agency], submission, received_at, accepted_at)
        )
        if len(events) >= contacts:
            return events[:contacts]
    raise AssertionError("unreachable: the simulation never ends")


def stand_in_child(event: ContactEvent) -> str:
    """The child a simulated contact is about, as the bench groups contacts: its keyed NHS number,
    or without one its keyed names and date of birth (the simulator gives a child the same
    identifiers in every contact, so the worker finds the same children)."""
    return event.identifiers.nhs or event.identifiers.name_dob


def resolved_child_keys(events: Sequence[ContactEvent]) -> dict[str, str]:
    """Each contact's child key as the worker's identities agent gives it (by contact id): named
    after the earliest contact of its child, in event time (`mash.domain.persons.child_key_of`)."""
    first: dict[str, tuple[datetime, str]] = {}
    for event in events:
        child, seen = stand_in_child(event), (event.received_at, event.contact_id)
        if child not in first or seen < first[child]:
            first[child] = seen
    return {e.contact_id: child_key_of(first[stand_in_child(e)][1]) for e in events}


def bench_keyring() -> Keyring:
    """A keyring under a master key made for the run: the worker never opens what it seals."""
    return Keyring(MasterKeys(LocalMasterKey.parse(BENCH_MASTER_KEYS)))


def sealed_values(events: Sequence[ContactEvent], keyring: Keyring | None = None) -> list[bytes]:
    """Each event as the intake writes it: personal details sealed under the contact's own data
    key, made in `keyring` first if it has none (as the intake makes one per contact)."""
    keyring = keyring or bench_keyring()
    for token in keyring.without_key({e.contact_id for e in events}):
        keyring.add(keyring.new_key(token)[0])
    return [e.sealed(keyring.seal).model_dump_json().encode() for e in events]


def records_of(events: Sequence[ContactEvent], keyring: Keyring | None = None) -> list[Record]:
    """Kafka records for the contacts topic: keyed by contact id, sealed, with the intake's headers.
    The data keys are made in `keyring` (a keyring of its own if none is given)."""
    secret = BENCH_SECRET.encode()
    out: list[Record] = []
    for event, value in zip(events, sealed_values(events, keyring), strict=True):
        ref_key = reference_key(secret, event.agency, event.agency_reference)
        out.append((event.contact_id.encode(), value, contact_headers(ref_key, event)))
    return out


@dataclass
class Workload:
    """The run's contacts: as events, as the records written to the contacts topic, and the
    records of their data keys (for the keys topic, where a process that opens them reads them;
    the worker never does)."""

    events: list[ContactEvent]
    records: list[Record]
    keys: list[Record]

    @classmethod
    def make(cls, contacts: int, seed: int = 1) -> Workload:
        return cls.of(contact_events(contacts, seed))

    @classmethod
    def of(cls, events: list[ContactEvent]) -> Workload:
        keyring = bench_keyring()
        records = records_of(events, keyring)
        return cls(events=events, records=records, keys=key_records(keyring.records.values()))

    @property
    def children(self) -> int:
        return len({stand_in_child(e) for e in self.events})


def one_child_bodies(count: int, run_id: str, seed: int = 7) -> list[Submission]:
    """`count` submissions naming one child each (the first one named), with references unique
    to this run, so each makes exactly one contact and none is an idempotent replay."""
    out: list[Submission] = []
    for agency, body in simulated_submissions(max(count, 500), seed):
        single = copy.deepcopy(body)
        single["children"] = single["children"][:1]
        single["agency_reference"] = f"BENCH-{run_id}-{len(out):07d}"
        out.append((agency, single))
        if len(out) >= count:
            return out
    raise AssertionError("unreachable: the simulation never ends")


def templates(count: int, seed: int = 11) -> list[Submission]:
    """Submissions as simulated (siblings included), to be given fresh references by the caller."""
    out: list[Submission] = []
    for item in simulated_submissions(max(count, 500), seed):
        out.append(item)
        if len(out) >= count:
            return out
    raise AssertionError("unreachable: the simulation never ends")
