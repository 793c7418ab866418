"""Everything the service has been told about one child, in event-time order.

This is the value of the worker's child table. Decisions and figures are derived from it
by `mash.domain.derive`, always in event-time order, so an outcome that arrives before
its contact, or a replay in a different interleaving, gives the same result. It holds no
names, dates of birth or narrative: only what the rules and the figures need.
"""

from __future__ import annotations

from bisect import insort
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from mash.domain.contact import CinSource, ConsentReason, ConsentStatus, ContactEvent, SealedContactEvent
from mash.domain.decisions import DecisionAction, DecisionEvent, ImmDetails, Role
from mash.domain.outcomes import OutcomeEvent, OutcomeType
from mash.domain.ruleset import Rag
from mash.domain.sealed import Sealed

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# Instants in UTC: two London times in the repeated autumn hour compare by wall clock, not
# by instant, which would make the order depend on how a timestamp was written.
Instant = Annotated[AwareDatetime, AfterValidator(lambda at: at.astimezone(UTC))]


class ContactEntry(BaseModel):
    model_config = _FROZEN

    kind: Literal["contact"] = "contact"
    id: str
    at: Instant
    accepted_at: AwareDatetime
    agency: str
    source: CinSource
    indicators: tuple[str, ...]
    consent_status: ConsentStatus | None
    consent_reason: ConsentReason | None
    referrer_reachable: bool = True
    children_in_submission: int
    # The ruleset in force when the contact was received, fixed when the worker first takes it:
    # the contact is screened under it for good (mash.domain.ruleset_history).
    ruleset_version: str
    # Its identifiers conflict with another child's (mash.domain.persons): screened on its own,
    # flagged, until a coordinator decides; `identity_conflict` is a contact of that other child.
    identity_to_check: bool = False
    identity_conflict: str | None = None
    # How many times the contact has moved between children (`Placed`).
    placement: int = 0

    @classmethod
    def of(cls, event: ContactEvent | SealedContactEvent, ruleset_version: str) -> ContactEntry:
        return cls(
            id=event.contact_id,
            at=event.received_at,
            accepted_at=event.accepted_at,
            agency=event.agency,
            source=event.source,
            indicators=tuple(event.indicators),
            consent_status=event.consent.status if event.consent else None,
            consent_reason=event.consent.reason if event.consent else None,
            referrer_reachable=event.referrer_reachable,
            children_in_submission=event.children_in_submission,
            ruleset_version=ruleset_version,
        )


class OutcomeEntry(BaseModel):
    model_config = _FROZEN

    kind: Literal["outcome"] = "outcome"
    id: str
    at: Instant
    type: OutcomeType
    nfa: bool
    plan_ref: str | None = None  # the case system's plan, pseudonymised: a plan sent twice is one plan
    placement: int = 0  # how many times the outcome has moved between children (`Placed`)

    @classmethod
    def of(cls, event: OutcomeEvent) -> OutcomeEntry:
        return cls(
            id=event.outcome_id, at=event.occurred_at, type=event.type, nfa=event.nfa, plan_ref=event.plan_ref
        )


class DecisionEntry(BaseModel):
    model_config = _FROZEN

    kind: Literal["decision"] = "decision"
    id: str
    at: Instant
    contact_id: str
    action: DecisionAction
    by: str
    role: Role
    level: int | None
    rag: Rag | None
    rationale: str | Sealed  # sealed as its event carried it: the worker never opens it
    signs_off: str | None
    ruleset_version: str | None = None  # rescreen only
    imm: ImmDetails | None = None  # imm_outcome only: what the meeting agreed

    @classmethod
    def of(cls, event: DecisionEvent) -> DecisionEntry:
        return cls(
            id=event.decision_id,
            at=event.decided_at,
            contact_id=event.contact_id,
            action=event.action,
            by=event.by,
            role=event.role,
            level=event.level,
            rag=event.rag,
            rationale=event.rationale,
            signs_off=event.signs_off,
            ruleset_version=event.ruleset_version,
            imm=event.imm_details(),
        )


Entry = Annotated[ContactEntry | OutcomeEntry | DecisionEntry, Field(discriminator="kind")]

# At the same instant a case closes before a new contact is considered, so the contact is
# a new referral rather than linked to a case that is closing.
_RANK = {"outcome": 0, "contact": 1, "decision": 2}


def order(entry: Entry) -> tuple[datetime, int, str]:
    return (entry.at, _RANK[entry.kind], entry.id)


class ChildTimeline(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: tuple[Entry, ...] = ()

    def has(self, entry_id: str) -> bool:
        return any(e.id == entry_id for e in self.entries)

    def updated(self, update: ChildUpdate) -> ChildTimeline:
        """The timeline with the update's entries removed, and its added ones in their place
        (an entry already there is replaced)."""
        gone = {*update.remove, *(e.id for e in update.add)}
        entries = [e for e in self.entries if e.id not in gone]
        for entry in update.add:
            insort(entries, entry, key=order)
        return ChildTimeline(entries=tuple(entries))

    def with_entry(self, entry: Entry) -> ChildTimeline:
        """The timeline with one more entry in its event-time place (unchanged if already there)."""
        if self.has(entry.id):
            return self
        entries = list(self.entries)
        insort(entries, entry, key=order)
        return ChildTimeline(entries=tuple(entries))


class ChildUpdate(BaseModel):
    """What the identities agent tells a child's agent, on `mash.resolved.v1` keyed by the child
    key: entries that are now this child's (new, or with a changed identity flag) and entries
    that are no longer (moved to another child by a tie, a link or a split)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="ChildUpdateV1")

    schema_version: Literal[1] = 1
    child_key: str
    add: tuple[Entry, ...] = ()
    remove: tuple[str, ...] = ()
