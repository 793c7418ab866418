"""The console's view of the service: every case's latest record, sorted into the coordinators' queues.

Built from the case-state topic (plus plans and the contacts themselves), so any number of
console replicas build the same view, and a restarted console rebuilds it by reading the
topics again. This module is the pure part: no Kafka, no HTTP, and it never reads the
clock itself (callers pass `now`).

The queues themselves, and the order each keeps, are in mash.views.queue_order: nothing is
re-sorted or re-rendered per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Literal

from pydantic import ValidationError

from mash.adapters.keyring import ERASURE, Keyring, token_of
from mash.adapters.sealing import Unreadable
from mash.domain.case import CaseRecord, CaseState, PlanRecord, supersedes
from mash.domain.contact import ContactEvent, SealedContactEvent
from mash.domain.ruleset import Rag
from mash.observability.logging import get_logger
from mash.views.matches import SHOWN, Match, Person, best, related_dates
from mash.views.queue_order import RECENTLY_CLOSED, Queue, SortedQueue, queues_of, sort_key
from mash.views.summaries import ERASED as ERASED_LINE
from mash.views.summaries import ChildLine, child_line

log = get_logger(__name__)


class Erased(Enum):
    """A contact whose child's personal details are erased: the case stays, its details do not."""

    ERASED = "erased"


ERASED = Erased.ERASED
INDEX_STEP = 200  # contacts opened at a time for the possible matches' index (about 30 ms)


@dataclass(frozen=True)
class Change:
    """A case whose record changed (or whose history did), and the queues it was and is in."""

    contact_id: str
    before: frozenset[Queue]
    after: frozenset[Queue]
    record_changed: bool = True  # False: only the child's history around it changed


@dataclass(frozen=True)
class History:
    """The child's story at this service, as the case page shows it next to one contact."""

    others: list[CaseRecord]  # the child's other contacts, oldest first
    open_case: CaseRecord | None  # the referral that opened the child's open social care case
    plans: list[PlanRecord]


class ConsoleView:
    def __init__(self, keyring: Keyring | None = None) -> None:
        # Opens each contact's personal details when a page shows them; None opens nothing.
        self.keyring = keyring or Keyring(None)
        self.records: dict[str, CaseRecord] = {}
        self.queues: dict[Queue, SortedQueue] = {q: SortedQueue() for q in Queue}
        self._membership: dict[str, frozenset[Queue]] = {}
        self._by_child: dict[str, set[str]] = {}
        self._plans: dict[str, PlanRecord] = {}
        self._plans_by_child: dict[str, set[str]] = {}
        self._contacts: dict[str, bytes] = {}
        self._child_lines: dict[str, ChildLine | None] = {}
        # Possible matches' index, built when a case page first asks and kept: each opened
        # contact's child (and the data key it was opened with), by date of birth.
        self._people: dict[str, tuple[str, Person]] = {}
        self._born: dict[date, set[str]] = {}
        self._unindexed: set[str] = set()  # contacts read since, indexed when a page next asks
        self._keyless: dict[str, str] = {}  # contacts whose data key was not read yet: its id
        self.version = 0

    # --- applying events ---------------------------------------------------------------

    def apply_case(self, record: CaseRecord) -> list[Change]:
        """Keeps the latest record per contact; returns what changed (nothing for a repeat)."""
        cid = record.contact_id
        current = self.records.get(cid)
        if current == record or not supersedes(record, current):
            return []
        before = self._membership.get(cid, frozenset())
        after = queues_of(record)
        earlier = self.records.get(cid)
        self.records[cid] = record
        self._membership[cid] = after
        for queue in before - after:
            self.queues[queue].discard(cid)
        for queue in after:
            self.queues[queue].put(sort_key(queue, record))
        # A contact linked to another child, or split from one, is now that child's alone.
        left: set[str] = set()
        if earlier is not None and earlier.child_key != record.child_key:
            former = self._by_child.get(earlier.child_key, set())
            former.discard(cid)
            if not former:
                self._by_child.pop(earlier.child_key, None)
            left = set(former)
        self._by_child.setdefault(record.child_key, set()).add(cid)
        self.version += 1
        # The child's other case pages show this one in their history (and the pages of a child it
        # left no longer do).
        siblings = [
            self._unchanged(other)
            for other in sorted(self._by_child[record.child_key] | left)
            if other != cid
        ]
        return [Change(cid, before, after), *siblings]

    def apply_plan(self, plan: PlanRecord) -> list[Change]:
        current = self._plans.get(plan.plan_id)
        if current == plan or not supersedes(plan, current):
            return []
        self._plans[plan.plan_id] = plan
        self._plans_by_child.setdefault(plan.child_key, set()).add(plan.plan_id)
        self.version += 1
        return [self._unchanged(cid) for cid in self._by_child.get(plan.child_key, ())]

    def add_contact(self, contact_id: str, raw: bytes) -> list[Change]:
        """Keeps the contact as submitted, unparsed: a row reads the child's initials and age from
        it when first shown, a case page the rest. A case whose record came first is shown again."""
        known = contact_id not in self._contacts and contact_id in self.records
        self._contacts[contact_id] = raw
        self._child_lines.pop(contact_id, None)
        self._unindex(contact_id)
        self._unindexed.add(contact_id)
        if not known:
            return []
        self.version += 1
        queues = self._membership.get(contact_id, frozenset())
        return [Change(contact_id, queues, queues)]

    def _unchanged(self, contact_id: str) -> Change:
        queues = self._membership.get(contact_id, frozenset())
        return Change(contact_id, queues, queues, record_changed=False)

    # --- reading -----------------------------------------------------------------------

    def contact(self, contact_id: str) -> bytes | None:
        return self._contacts.get(contact_id)

    def sealed(self, contact_id: str) -> SealedContactEvent | None:
        """The contact as Kafka holds it (its identifiers in clear, as keyed hashes), unopened."""
        raw = self._contacts.get(contact_id)
        if raw is None:
            return None
        try:
            return SealedContactEvent.model_validate_json(raw)
        except ValidationError:
            log.warning("console_unreadable_contact", contact_id=contact_id)
            return None

    def opened(self, contact_id: str) -> ContactEvent | Erased | None:
        """The contact with its personal details; ERASED once the child's key is erased; None if
        not read yet or it cannot be opened here."""
        sealed = self.sealed(contact_id)
        if sealed is None:
            return None
        if self.keyring.is_erased(sealed.personal.key):
            return ERASED
        try:
            return sealed.opened(self.keyring.personal(sealed))
        except (Unreadable, ValidationError) as exc:
            log.warning("console_unopened_contact", contact_id=contact_id, reason=type(exc).__name__)
            return None

    def child_line(self, contact_id: str) -> ChildLine | None:
        """The child's initials and age for a queue row, read from the contact once and kept."""
        if contact_id in self._child_lines:
            return self._child_lines[contact_id]
        contact = self.opened(contact_id)
        if contact is None:
            return None  # not read yet: the row is shown again when it is (`add_contact`)
        line = self._child_lines[contact_id] = ERASED_LINE if contact is ERASED else child_line(contact)
        return line

    def on_key(self, key: bytes | None, value: bytes | None) -> list[Change]:
        """A record of the keys topic; an erasure shows its contacts' rows again, erased."""
        self.keyring.on_record(key, value)
        if key is None:
            return []
        name = key.decode()
        if name.startswith(ERASURE):
            erasure = self.keyring.erasures.get(name.removeprefix(ERASURE))
            contacts = erasure.contacts if erasure is not None else []
        elif value is None:
            contacts = [token_of(name)]
        else:
            return []
        for contact_id in contacts:
            self._child_lines.pop(contact_id, None)
        self.version += 1
        return [self._unchanged(cid) for cid in contacts if cid in self.records]

    def _visible(self, queue: Queue, now: datetime) -> int:
        """How many of the queue's cases are shown: all but closures older than the window."""
        entries = self.queues[queue]
        if queue is Queue.CLOSED:
            return entries.count_up_to(-(now - RECENTLY_CLOSED).timestamp())
        return len(entries)

    def counts(self, now: datetime) -> dict[Queue, int]:
        return {queue: self._visible(queue, now) for queue in Queue}

    def page(self, queue: Queue, now: datetime, offset: int = 0, limit: int = 100) -> list[CaseRecord]:
        stop = min(offset + limit, self._visible(queue, now))
        return [self.records[cid] for cid in self.queues[queue].ids(offset, stop)]

    def position(self, queue: Queue, contact_id: str, now: datetime) -> int | None:
        """Where the case is listed in the queue, or None if it isn't shown there."""
        index = self.queues[queue].index(contact_id)
        if index is None or index >= self._visible(queue, now):
            return None
        return index

    def overdue_count(self, now: datetime) -> int:
        return self.queues[Queue.AWAITING].count_before(now.timestamp())

    def overdue_by_rag(self, now: datetime) -> dict[Rag, int]:
        counts = dict.fromkeys(Rag, 0)
        for cid in self.queues[Queue.AWAITING].ids_before(now.timestamp()):
            counts[self.records[cid].rag] += 1
        return counts

    def oldest_waiting_seconds(self, now: datetime) -> float:
        """How long the longest-waiting undecided case has waited since it was received."""
        waiting = self.queues[Queue.AWAITING]
        received = (self.records[cid].received_at for cid in waiting.ids(0, len(waiting)))
        oldest = min(received, default=None)
        return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0

    def child_key_of(self, contact_id: str) -> str | None:
        """The child key of a contact the console knows (None for one it does not)."""
        found = self.records.get(contact_id)
        return found.child_key if found is not None else None

    def child_contacts(self, contact_id: str) -> list[str]:
        """The other contacts the console has about this contact's child, by contact id."""
        record = self.records[contact_id]
        return sorted(cid for cid in self._by_child.get(record.child_key, ()) if cid != contact_id)

    def shared_identifier(self, contact_id: str, other_id: str) -> Literal["nhs", "name_dob"] | None:
        """Which identifier two contacts share, by their keyed hashes (nothing is opened): what an
        identity to check conflicts over. None when either is not a contact the console has read."""
        one, other = self.sealed(contact_id), self.sealed(other_id)
        if one is None or other is None:
            return None
        if one.identifiers.nhs is not None and one.identifiers.nhs == other.identifiers.nhs:
            return "nhs"
        if one.identifiers.name_dob == other.identifiers.name_dob:
            return "name_dob"
        return None

    # --- possible matches ----------------------------------------------------------------

    def _unindex(self, contact_id: str) -> None:
        self._keyless.pop(contact_id, None)
        kept = self._people.pop(contact_id, None)
        if kept is not None:
            born = self._born.get(kept[1].born, set())
            born.discard(contact_id)
            if not born:
                self._born.pop(kept[1].born, None)

    def index_pending(self, budget: int = INDEX_STEP) -> bool:
        """Opens up to `budget` of the contacts read since the possible matches' index was last used
        (all of them, the first time); True once none is left. A caller on the event loop indexes
        a step at a time, so the first case page after a start never holds up live updates."""
        arrived = [cid for cid, key in self._keyless.items() if key in self.keyring.records]
        for contact_id in arrived:
            del self._keyless[contact_id]
            self._unindexed.add(contact_id)
        for _ in range(min(budget, len(self._unindexed))):
            contact_id = self._unindexed.pop()
            sealed = self.sealed(contact_id)
            if sealed is None or self.keyring.is_erased(sealed.personal.key):
                continue
            if sealed.personal.key not in self.keyring.records:
                self._keyless[contact_id] = sealed.personal.key  # opened once its key is read
                continue
            try:
                person = Person.of(sealed.opened(self.keyring.personal(sealed)))
            except (Unreadable, ValidationError):
                continue
            if person is not None:
                self._people[contact_id] = (sealed.personal.key, person)
                self._born.setdefault(person.born, set()).add(contact_id)
        return not self._unindexed

    def possible_matches(self, contact_id: str, limit: int = SHOWN) -> list[Match]:
        """Other children's contacts whose child looks like this one's (mash.views.matches): the
        best contact of each such child, best first. Worked out when a case page is shown, never
        as events arrive; erased contacts and the child's own are left out."""
        record = self.records.get(contact_id)
        while not self.index_pending():
            pass
        kept = self._people.get(contact_id)
        if record is None or kept is None or self.keyring.is_erased(kept[0]):
            return []
        subject = kept[1]
        candidates: list[Person] = []
        for born in related_dates(subject.born):
            for other in self._born.get(born, ()):
                theirs = self.records.get(other)
                if theirs is None or theirs.child_key == record.child_key:
                    continue
                key, person = self._people[other]
                if not self.keyring.is_erased(key):
                    candidates.append(person)
        shown: list[Match] = []
        children: set[str] = set()
        for match in best(subject, candidates):
            child = self.records[match.contact_id].child_key
            if child not in children:
                children.add(child)
                shown.append(match)
        return shown[:limit]

    def history(self, contact_id: str) -> History:
        record = self.records[contact_id]
        mine = [self.records[cid] for cid in self._by_child.get(record.child_key, ())]
        open_case = next(
            (
                r
                for r in mine
                if r.case_id is not None and r.case_id == r.contact_id and r.state is not CaseState.CLOSED
            ),
            None,
        )
        others = sorted((r for r in mine if r.contact_id != contact_id), key=lambda r: r.received_at)
        plans = sorted(
            (self._plans[p] for p in self._plans_by_child.get(record.child_key, ())),
            key=lambda p: p.started_at,
        )
        return History(others=others, open_case=open_case, plans=plans)
