"""One step of the worker: a child's state plus one event gives the new state and what to publish.

The state is the child's timeline and a digest of each record last published. After an
event, every record whose content changed is published again; an event seen before
(a redelivery after a crash) changes nothing and republishes the child's records, in
case the crash came between saving the state and publishing them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from mash.domain.case import CaseRecord, PlanRecord
from mash.domain.derive import derive, digest
from mash.domain.ruleset import Ruleset
from mash.domain.timeline import ChildTimeline, Entry


class ChildState(BaseModel):
    model_config = ConfigDict(frozen=True)

    timeline: ChildTimeline = ChildTimeline()
    published: dict[str, str] = {}


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


def apply(state: ChildState, child_key: str, entry: Entry, ruleset: Ruleset) -> Step:
    duplicate = state.timeline.has(entry.id)
    timeline = state.timeline if duplicate else state.timeline.with_entry(entry)
    derived = derive(child_key, timeline, ruleset)
    out: list[Publish] = []
    published = dict(state.published)
    items: list[tuple[str, CaseRecord | PlanRecord]] = [*derived.records.items(), *derived.plans.items()]
    for key, record in items:
        value = record.model_dump_json().encode()
        fingerprint = digest(value)
        if duplicate or published.get(key) != fingerprint:
            out.append(Publish(key=key, value=value, record=record))
            published[key] = fingerprint
    new_state = state if duplicate else ChildState(timeline=timeline, published=published)
    return Step(state=new_state, publish=out, duplicate=duplicate)


def apply_stored(stored: bytes | None, child_key: str, entry: Entry, ruleset: Ruleset) -> tuple[Step, bytes]:
    """`apply` to a child's state as the table stores it (JSON; None for a child not seen
    before); returns the step and the new state as the table stores it."""
    state = ChildState.model_validate_json(stored) if stored else ChildState()
    step = apply(state, child_key, entry, ruleset)
    return step, step.state.model_dump_json().encode()
