"""The identities agent's step: which child each event is about, and what each child must be told.

Every input event goes through here first, one at a time, in the order of a single partition.
A contact or an outcome is a *sighting* (mash.domain.persons); a person's decision follows its
contact; an identity decision (same child, different child, link, split) changes which child
sightings are about. Each step returns the rows to keep (the identities table, so a worker taking
over rebuilds the same index) and a `ChildUpdate` for every child whose history changed: the
entries now theirs, and those no longer theirs.

A sighting's row remembers every child its entries were ever sent to, so an update sent once is
sent again after a crash (a redelivered event re-sends the updates of everything it could have
moved), and a child never keeps an entry that has moved on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from mash.domain.persons import IdentityDecision, IdentityDecisionEvent, PersonIndex, Sighting
from mash.domain.timeline import ChildUpdate, ContactEntry, DecisionEntry, Entry

SIGHTING = "s:"  # table keys: a sighting's row
IDENTITY_DECISION = "i:"  # an identity decision
PENDING = "p:"  # decisions about a contact not seen yet


class SightingRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sighting: tuple[str, str, str, str | None]  # id, name_dob, dob, nhs: see `Sighting`
    entry: Entry
    decisions: dict[str, DecisionEntry] = {}
    sent_to: list[str] = []
    child: str | None = None  # the child it is about now
    placement: int = 0  # how many times it has moved to another child

    def as_sighting(self) -> Sighting:
        sid, name_dob, dob, nhs = self.sighting
        return Sighting(sid, self.entry.at, name_dob, dob, nhs)


class PendingRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: dict[str, DecisionEntry] = {}


@dataclass
class Effects:
    rows: dict[str, bytes] = field(default_factory=dict)  # table key -> value
    updates: list[ChildUpdate] = field(default_factory=list)


def _row(s: Sighting, entry: Entry) -> SightingRow:
    return SightingRow(sighting=(s.id, s.name_dob, s.dob, s.nhs), entry=entry)


class Identities:
    """The index of every sighting and identity decision, and each sighting's entries."""

    def __init__(self) -> None:
        self.index = PersonIndex()
        # Each sighting's row as the table holds it (JSON): a fraction of the memory of the models,
        # and parsed only when an event touches it.
        self.rows: dict[str, bytes] = {}
        self.pending: dict[str, PendingRow] = {}
        self.identity_decisions: set[str] = set()

    def load(self, stored: Iterable[tuple[bytes, bytes]]) -> None:
        """The table as a worker finds it when it takes the identities over."""
        decisions: list[IdentityDecision] = []
        sightings: list[Sighting] = []
        for key, value in stored:
            name = key.decode()
            if name.startswith(SIGHTING):
                self.rows[name.removeprefix(SIGHTING)] = value
                sightings.append(SightingRow.model_validate_json(value).as_sighting())
            elif name.startswith(PENDING):
                self.pending[name.removeprefix(PENDING)] = PendingRow.model_validate_json(value)
            elif name.startswith(IDENTITY_DECISION):
                decisions.append(IdentityDecisionEvent.model_validate_json(value).decision())
        self.identity_decisions = {d.id for d in decisions}
        self.index.load(sightings, decisions)

    def row(self, sighting: str) -> SightingRow:
        return SightingRow.model_validate_json(self.rows[sighting])

    # --- the three kinds of event ------------------------------------------------------------

    def sighting(self, s: Sighting, entry: Entry) -> Effects:
        if s.id in self.rows:  # seen before: send again whatever it could have changed
            return self._emit(self.index.component(s.id))
        row = _row(s, entry)
        effects = Effects()
        if (waiting := self.pending.pop(s.id, None)) is not None:
            row.decisions = dict(waiting.decisions)
            effects.rows[f"{PENDING}{s.id}"] = PendingRow().model_dump_json().encode()
        self.rows[s.id] = b""  # known from now on; written by `_emit`
        changes = self.index.add_sighting(s)
        touched = {s.id, *changes.moved, *changes.to_check, *changes.conflicts}
        return self._emit(touched, effects, {s.id: row})

    def decision(self, d: DecisionEntry) -> Effects:
        if d.contact_id not in self.rows:  # its contact is on another topic and not read yet
            waiting = self.pending.setdefault(d.contact_id, PendingRow())
            waiting.decisions[d.id] = d
            return Effects(rows={f"{PENDING}{d.contact_id}": waiting.model_dump_json().encode()})
        row = self.row(d.contact_id)
        row.decisions[d.id] = d
        return self._emit({d.contact_id}, parsed={d.contact_id: row})

    def identity_decision(self, event: IdentityDecisionEvent) -> Effects:
        d = event.decision()
        named = {*d.subjects, *d.others} & self.rows.keys()
        if d.id in self.identity_decisions:
            return self._emit({x for s in named for x in self.index.component(s)})
        self.identity_decisions.add(d.id)
        changes = self.index.add_decision(d)
        effects = Effects(rows={f"{IDENTITY_DECISION}{d.id}": event.model_dump_json().encode()})
        return self._emit({*named, *changes.moved, *changes.to_check, *changes.conflicts}, effects)

    # --- what the children are told ----------------------------------------------------------

    def flagged(self, sighting: str, row: SightingRow) -> Entry:
        entry = row.entry
        if not isinstance(entry, ContactEntry):
            return entry.model_copy(update={"placement": row.placement})
        to_check = sighting in self.index.to_check
        conflict = self.index.conflict_with.get(sighting) if to_check else None
        return entry.model_copy(
            update={"identity_to_check": to_check, "identity_conflict": conflict, "placement": row.placement}
        )

    def _emit(
        self,
        sightings: Iterable[str],
        effects: Effects | None = None,
        parsed: dict[str, SightingRow] | None = None,
    ) -> Effects:
        effects = effects or Effects()
        parsed = parsed or {}
        adds: dict[str, list[Entry]] = defaultdict(list)
        removes: dict[str, list[str]] = defaultdict(list)
        for sid in sorted(set(sightings) & self.rows.keys()):
            row = parsed[sid] if sid in parsed else self.row(sid)
            child = self.index.child_of[sid]
            if row.child != child:
                if row.child is not None:
                    row.placement += 1
                row.child = child
            adds[child].extend([self.flagged(sid, row), *row.decisions.values()])
            for earlier in row.sent_to:
                if earlier != child:
                    removes[earlier].extend([sid, *row.decisions])
            if child not in row.sent_to:
                row.sent_to.append(child)
            value = self.rows[sid] = row.model_dump_json().encode()
            effects.rows[f"{SIGHTING}{sid}"] = value
        for child in sorted({*adds, *removes}):
            effects.updates.append(
                ChildUpdate(
                    child_key=child, add=tuple(adds.get(child, ())), remove=tuple(removes.get(child, ()))
                )
            )
        return effects
