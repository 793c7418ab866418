"""The contacts every measurement uses: synthetic, realistic, made once per run.

They come from `mash simulate` (a council's front door over a year: sources, bursts,
repeats, siblings), split and keyed exactly as the intake adapter splits and keys a
submission, so the worker sees what it would see in production.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mash.adapters.keyring import Keyring
from mash.adapters.sealing import LocalMasterKey, MasterKeys
from mash.bench.common import BENCH_MASTER_KEYS, BENCH_SECRET, Record
from mash.domain.contact import CinSource, ContactEvent, ContactSubmission
from mash.domain.identity import reference_key
from mash.domain.submissions import split_submission
from mash.intake.agencies import DEMO_AGENCIES
from mash.intake.ledger import contact_headers
from mash.simulate import SimulationConfig, simulate

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


def bench_keyring() -> Keyring:
    """A keyring under a master key made for the run: the worker never opens what it seals."""
    return Keyring(MasterKeys(LocalMasterKey.parse(BENCH_MASTER_KEYS)))


def sealed_values(events: list[ContactEvent], keyring: Keyring | None = None) -> list[bytes]:
    """Each event as the intake writes it: personal details sealed under its child's data key."""
    keyring = keyring or bench_keyring()
    for token in keyring.without_key({e.child_key for e in events}):
        keyring.add(keyring.new_key(token)[0])
    return [e.sealed(keyring.seal).model_dump_json().encode() for e in events]


def records_of(events: list[ContactEvent]) -> list[Record]:
    """Kafka records for the contacts topic: keyed by child key, sealed, with the intake's headers."""
    secret = BENCH_SECRET.encode()
    out: list[Record] = []
    for event, value in zip(events, sealed_values(events), strict=True):
        ref_key = reference_key(secret, event.agency, event.agency_reference)
        out.append((event.child_key.encode(), value, contact_headers(ref_key, event)))
    return out


@dataclass
class Workload:
    """The run's contacts, as events and as the records written to the contacts topic."""

    events: list[ContactEvent]
    records: list[Record]

    @classmethod
    def make(cls, contacts: int, seed: int = 1) -> Workload:
        events = contact_events(contacts, seed)
        return cls(events=events, records=records_of(events))

    @property
    def children(self) -> int:
        return len({e.child_key for e in self.events})


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
