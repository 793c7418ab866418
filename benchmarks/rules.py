"""The ruleset core in-process, on one core: how many contacts the threshold engine scores per second.

`screen` is the pure threshold engine: indicators, combinations, the child's history and
overrides give a level, a RAG and the reasons. Its inputs are built beforehand from the
run's simulated contacts, each with what was known of its child just before it (earlier
contacts, an open case after a social-care route), so the history rules fire as often as
they would in the service.

Beside it, in the same run: `apply`, the whole domain step the worker's children agent takes
per contact (timeline insert, derive every record of the child, JSON, digests), and the floor of
parsing the same contacts' JSON with orjson. The identities agent's step, which comes before it
(which child the contact is about), is not in it: the batch loop of the pipeline runs both.

And the intake's write of a contact, in clear and sealed: sealed, it makes the contact's own
data key (a fresh key, wrapped by the master key, and its record for the keys topic, as the
intake makes one for every contact) and seals the personal details under it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from benchmarks.records import Record
from benchmarks.workload import bench_keyring, resolved_child_keys, stand_in_child
from mash.adapters.sealing import seal
from mash.domain.child import ChildState, apply
from mash.domain.contact import ContactEvent
from mash.domain.ruleset import Route, Ruleset, load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.screening import EarlierContact, Known, screen
from mash.domain.sealed import Sealed
from mash.domain.timeline import ContactEntry

ScreenInput = tuple[tuple[str, ...], Known, datetime]


@dataclass
class RulesResult:
    screen_per_s: float
    screened: int
    apply_per_s: float
    applied: int
    json_per_s: float
    # The intake's write of a contact: as JSON with its personal details in clear, and sealed
    # (the contact's own data key made and wrapped, its key record, the details sealed under it
    # with AES-GCM, as it is written): the cost of sealing, side by side.
    write_plain_per_s: float = 0.0
    write_sealed_per_s: float = 0.0

    @property
    def sealing_us(self) -> float:
        """Microseconds sealing adds to each contact written."""
        if not self.write_plain_per_s or not self.write_sealed_per_s:
            return 0.0
        return 1e6 / self.write_sealed_per_s - 1e6 / self.write_plain_per_s


def screen_inputs(events: Sequence[ContactEvent], ruleset: Ruleset) -> list[ScreenInput]:
    """Each contact with what was known of its child just before it, in event-time order."""
    earlier: dict[str, list[EarlierContact]] = {}
    open_case: set[str] = set()
    out: list[ScreenInput] = []
    for event in sorted(events, key=lambda e: e.received_at):
        child = stand_in_child(event)
        seen = earlier.setdefault(child, [])
        known = Known(tuple(seen), child in open_case, ())
        out.append((tuple(event.indicators), known, event.received_at))
        result = screen(event.indicators, known, event.received_at, ruleset)
        # As if a coordinator confirmed each recommendation: a social care one opens a case.
        if ruleset.routes[result.level].route is Route.SOCIAL_CARE:
            open_case.add(child)
        seen.append(EarlierContact(event.received_at, result.concern_level))
    return out


def _rate(run_once: Callable[[], int], min_seconds: float) -> tuple[float, int]:
    """Calls `run_once` (which returns how many items it did) until `min_seconds` have passed."""
    done = 0
    started = time.perf_counter()
    while True:
        done += run_once()
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed, done


def run_rules(
    events: Sequence[ContactEvent],
    records: Sequence[Record],
    *,
    ruleset: Ruleset | None = None,
    apply_contacts: int = 20_000,
    min_seconds: float = 3.0,
) -> RulesResult:
    rules = ruleset or load_ruleset()
    inputs = screen_inputs(events, rules)

    def screen_all() -> int:
        for indicators, known, at in inputs:
            screen(indicators, known, at, rules)
        return len(inputs)

    screen_rate, screened = _rate(screen_all, min_seconds)

    # The children agent's step, child by child (under the key the worker resolves for each), on
    # the first contacts (a child's state grows with its contacts, so the order is event time,
    # as the worker sees it).
    chosen = sorted(events[:apply_contacts], key=lambda e: e.received_at)
    child_keys = resolved_child_keys(chosen)
    entries = [(child_keys[e.contact_id], ContactEntry.of(e, rules.version)) for e in chosen]
    history = RulesetHistory.of(rules)

    def apply_all() -> int:
        states: dict[str, ChildState] = {}
        for child_key, entry in entries:
            step = apply(states.get(child_key, ChildState()), child_key, entry, history)
            states[child_key] = step.state
        return len(entries)

    apply_rate, applied = _rate(apply_all, min_seconds)

    values = [value for _, value, _ in records]

    def parse_all() -> int:
        for value in values:
            orjson.loads(value)
        return len(values)

    json_rate, _ = _rate(parse_all, min(1.0, min_seconds))

    written = list(events[:apply_contacts])
    keyring = bench_keyring()

    def write_plain() -> int:
        for event in written:
            event.model_dump_json().encode()
        return len(written)

    def write_sealed_one(event: ContactEvent) -> None:
        record, dek = keyring.new_key(event.contact_id)  # every contact has a data key of its own
        record.model_dump_json().encode()

        def under_its_key(_: str, record_id: str, details: bytes) -> Sealed:  # as `Keyring.seal`
            return seal(dek, record.key, details, record_id.encode())

        event.sealed(under_its_key).model_dump_json().encode()

    def write_sealed() -> int:
        for event in written:
            write_sealed_one(event)
        return len(written)

    plain_rate, _ = _rate(write_plain, min(1.0, min_seconds))
    sealed_rate, _ = _rate(write_sealed, min(1.0, min_seconds))
    return RulesResult(
        screen_per_s=screen_rate,
        screened=screened,
        apply_per_s=apply_rate,
        applied=applied,
        json_per_s=json_rate,
        write_plain_per_s=plain_rate,
        write_sealed_per_s=sealed_rate,
    )
