"""Which queues a case belongs in, and the order each queue keeps its cases in.

Each queue keeps its cases in sorted order as they change (a bisect into a list of sort keys), so
with 10,000 open cases an event costs one insert and one removal, counts are a length or a bisect,
and a page is a slice.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from datetime import datetime, timedelta
from enum import StrEnum

from mash.domain.case import CaseRecord, CaseState, Referral
from mash.domain.ruleset import Route


class Queue(StrEnum):
    AWAITING = "awaiting"
    EARLY_HELP = "early_help"
    SOCIAL_CARE = "social_care"
    IMM = "imm"
    CLOSED = "closed"


QUEUE_TITLES: dict[Queue, str] = {
    Queue.AWAITING: "Awaiting decision",
    Queue.EARLY_HELP: "Early help",
    Queue.SOCIAL_CARE: "Children's social care",
    Queue.IMM: "IMM agenda",
    Queue.CLOSED: "Recently closed",
}
RECENTLY_CLOSED = timedelta(days=7)

# (tier, primary, secondary, contact id): floats so every queue's keys compare the same way, and
# the contact id last so two cases with equal times still have one fixed order. The tier puts an
# identity to check ahead of every other contact awaiting a decision; it is UNFLAGGED elsewhere.
SortKey = tuple[float, float, float, str]
FLAGGED, UNFLAGGED = -1.0, 0.0
TIERS = (FLAGGED, UNFLAGGED)


def queues_of(record: CaseRecord) -> frozenset[Queue]:
    """The queues a case belongs in, from its latest record alone.

    Every contact nobody has decided waits in "awaiting decision", linked ones too: the screening
    only recommends. A contact about a child whose case is open is the allocated worker's from
    its receipt, so it is listed under social care as well, decided or not.
    """
    # Handed to a single partner agency, the case has left the front door as surely as a closed one.
    if record.state is CaseState.CLOSED or (
        record.state is CaseState.DECIDED and record.route is Route.SINGLE_AGENCY
    ):
        return frozenset({Queue.CLOSED})
    found: set[Queue] = set()
    if record.state is CaseState.AWAITING_DECISION:
        found.add(Queue.AWAITING)
    elif record.route is Route.EARLY_HELP:
        found.add(Queue.EARLY_HELP)
    elif record.route is Route.SOCIAL_CARE:
        found.add(Queue.SOCIAL_CARE)
    if record.referral is Referral.LINKED_TO_OPEN_CASE:
        found.add(Queue.SOCIAL_CARE)
    if record.imm_agenda and 2 <= record.level <= 4:
        found.add(Queue.IMM)
    return frozenset(found)


def closed_at(record: CaseRecord) -> datetime:
    """When the case left the front door: its social care case closed, or it was decided NFA."""
    return record.case_closed_at or record.decided_at or record.received_at


def sort_key(queue: Queue, record: CaseRecord) -> SortKey:
    received = record.received_at.timestamp()
    if queue is Queue.AWAITING:
        # An identity to check first (nothing of it joins the child's history until someone
        # decides whose it is); then soonest due first, so overdue cases lead; no target (blue) last.
        tier = FLAGGED if record.identity_to_check else UNFLAGGED
        due = record.due_at.timestamp() if record.due_at else math.inf
        return (tier, due, received, record.contact_id)
    if queue is Queue.IMM:
        return (UNFLAGGED, -float(record.level), received, record.contact_id)
    if queue is Queue.CLOSED:
        return (UNFLAGGED, -closed_at(record).timestamp(), 0.0, record.contact_id)
    # Oldest first: the longest waiting for the service.
    return (UNFLAGGED, received, 0.0, record.contact_id)


class SortedQueue:
    """Contact ids in sort-key order, with their keys, so one case moves in O(log n + n memmove)."""

    def __init__(self) -> None:
        self._keys: list[SortKey] = []
        self._key_of: dict[str, SortKey] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, contact_id: object) -> bool:
        return contact_id in self._key_of

    def put(self, key: SortKey) -> None:
        self.discard(key[3])
        insort(self._keys, key)
        self._key_of[key[3]] = key

    def discard(self, contact_id: str) -> None:
        key = self._key_of.pop(contact_id, None)
        if key is not None:
            del self._keys[bisect_left(self._keys, key)]

    def index(self, contact_id: str) -> int | None:
        key = self._key_of.get(contact_id)
        return None if key is None else bisect_left(self._keys, key)

    def _spans_before(self, primary: float) -> list[tuple[int, int]]:
        """In each tier, where the keys with a primary value below `primary` are."""
        return [
            (
                bisect_left(self._keys, (tier, -math.inf, -math.inf, "")),
                bisect_left(self._keys, (tier, primary, -math.inf, "")),
            )
            for tier in TIERS
        ]

    def count_before(self, primary: float) -> int:
        """How many keys have a primary value below `primary`, whatever their tier."""
        return sum(stop - start for start, stop in self._spans_before(primary))

    def ids_before(self, primary: float) -> list[str]:
        """The contact ids whose primary value is below `primary`, in queue order."""
        return [key[3] for start, stop in self._spans_before(primary) for key in self._keys[start:stop]]

    def count_up_to(self, primary: float) -> int:
        """How many keys come before the first unflagged one with a primary value above `primary`
        (the flagged tier, which only the awaiting queue has, first)."""
        return bisect_left(self._keys, (UNFLAGGED, primary, math.inf, ""))

    def ids(self, start: int, stop: int) -> list[str]:
        return [key[3] for key in self._keys[start:stop]]
