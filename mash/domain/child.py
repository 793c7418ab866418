"""One step of the worker: a child's state plus one event gives the new state and what to publish.

The state is the child's timeline, a digest of each record last published, and where the
last derivation ended (its cursor). After an event, every record whose content changed is
published again; an event seen before (a redelivery after a crash) changes nothing and
republishes the child's records, in case the crash came between saving the state and
publishing them. A child's newest contact, the usual event, is derived from the cursor and
one scan of the history, without deciding every earlier contact again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict

from mash.domain.case import CaseRecord, PlanRecord
from mash.domain.derive import Cursor, Derived, derive, derive_appended
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildTimeline, ChildUpdate, Entry


def digest(payload: bytes) -> str:
    """A short fingerprint of a published record, to tell whether its content changed."""
    return hashlib.blake2b(payload, digest_size=8).hexdigest()


class ChildState(BaseModel):
    model_config = ConfigDict(frozen=True)

    timeline: ChildTimeline = ChildTimeline()
    published: dict[str, str] = {}
    # Where the last derivation ended; None in state written before it was kept.
    cursor: Cursor | None = None


@dataclass(frozen=True)
class Publish:
    """A record to publish: its Kafka key, its JSON, and the record itself for metrics."""

    key: str
    value: bytes
    record: CaseRecord | PlanRecord


@dataclass(frozen=True)
class Step:
    state: ChildState
    publish: list[Publish]
    duplicate: bool
    # Entries this child did not hold before (new to the service, or moved here).
    arrived: frozenset[str] = frozenset()


def apply(state: ChildState, child_key: str, entry: Entry, rulesets: RulesetHistory) -> Step:
    if state.timeline.has(entry.id):
        return _republish(state, child_key, rulesets)
    timeline = state.timeline.with_entry(entry)
    appended = derive_appended(child_key, state.timeline, entry, state.cursor, rulesets)
    if appended is not None:
        # The usual case, a child's newest contact: only its own record is new.
        newest, cursor = appended
        value = newest.model_dump_json().encode()
        published = {**state.published, entry.id: digest(value)}
        new_state = ChildState(timeline=timeline, published=published, cursor=cursor)
        publish = [Publish(key=entry.id, value=value, record=newest)]
        return Step(state=new_state, publish=publish, duplicate=False)
    return _derived_again(state, child_key, timeline, rulesets)


def apply_update(state: ChildState, update: ChildUpdate, rulesets: RulesetHistory) -> Step:
    """An update from the identities agent: entries added (or replaced) and removed. Everything
    it touches is derived again in event time; records of removed contacts are no longer this
    child's to publish (their new child publishes them)."""
    child_key = update.child_key
    timeline = state.timeline.updated(update)
    if timeline == state.timeline:
        return _republish(state, child_key, rulesets)
    arrived = frozenset(e.id for e in update.add if not state.timeline.has(e.id))
    if len(update.add) == 1 and not update.remove and arrived:
        # The usual case: one new entry.
        return replace(apply(state, child_key, update.add[0], rulesets), arrived=arrived)
    gone = set(update.remove) - {e.id for e in update.add}
    return _derived_again(state, child_key, timeline, rulesets, gone, arrived)


def _derived_again(
    state: ChildState,
    child_key: str,
    timeline: ChildTimeline,
    rulesets: RulesetHistory,
    gone: set[str] | None = None,
    arrived: frozenset[str] = frozenset(),
) -> Step:
    """Every record of the new timeline, derived again; those whose content changed are published.
    Records of `gone` contacts are no longer this child's to publish."""
    derived = derive(child_key, timeline, rulesets)
    published = {key: value for key, value in state.published.items() if key not in (gone or ())}
    out: list[Publish] = []
    for key, value, record in _encoded(derived):
        fingerprint = digest(value)
        if published.get(key) != fingerprint:
            out.append(Publish(key=key, value=value, record=record))
            published[key] = fingerprint
    new_state = ChildState(timeline=timeline, published=published, cursor=derived.cursor)
    return Step(state=new_state, publish=out, duplicate=False, arrived=arrived)


def _republish(state: ChildState, child_key: str, rulesets: RulesetHistory) -> Step:
    derived = derive(child_key, state.timeline, rulesets)
    out = [Publish(key=key, value=value, record=record) for key, value, record in _encoded(derived)]
    return Step(state=state, publish=out, duplicate=True)


def _encoded(derived: Derived) -> list[tuple[str, bytes, CaseRecord | PlanRecord]]:
    items: list[tuple[str, CaseRecord | PlanRecord]] = [*derived.records.items(), *derived.plans.items()]
    return [(key, record.model_dump_json().encode(), record) for key, record in items]


def apply_stored(stored: bytes | None, update: ChildUpdate, rulesets: RulesetHistory) -> tuple[Step, bytes]:
    """`apply_update` to a child's state as the table stores it (JSON; None for a child not seen
    before); returns the step and the new state as the table stores it."""
    state = ChildState.model_validate_json(stored) if stored else ChildState()
    step = apply_update(state, update, rulesets)
    return step, step.state.model_dump_json().encode()
