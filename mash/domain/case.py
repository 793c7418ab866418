"""The case record: what the service recommends for one contact, what people decided, and what
happened since.

Published on `mash.cases.v1`, keyed by contact id, and published again whenever anything
about it changes (a decision, a closure, an earlier event arriving late): readers keep the
latest per contact id. The screening is a recommendation; a contact becomes a referral, early
help or no further action only when a person decides (or, for the levels a council lets it,
the service: `Ruleset.service_decides`). It carries no personal data (no names, dates of birth, NHS numbers,
addresses or narrative), so queues, dashboards, figures and partners' status checks are
built from it; the console joins the contact itself when a coordinator opens the case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
from mash.domain.decisions import DecisionAction, ImmDetails, Role
from mash.domain.ruleset import Rag, Route
from mash.domain.sealed import Sealed


class ReasonKind(StrEnum):
    INDICATOR = "indicator"
    OVERRIDE = "override"
    COMBINATION = "combination"
    HISTORY = "history"
    CONSENT = "consent"
    ROUTE = "route"


class Reason(BaseModel):
    """One rule that fired, in words a coordinator understands."""

    model_config = ConfigDict(frozen=True)

    kind: ReasonKind
    rule: str
    text: str
    level: int | None = None


class Referral(StrEnum):
    REFERRAL = "referral"  # a person decided social care, for a child with no open case: opens a case
    LINKED_TO_OPEN_CASE = "linked_to_open_case"  # about a child whose case is open: to its allocated worker
    NOT_REFERRED = "not_referred"  # waiting for a decision, or decided early help, single agency or NFA


class CaseState(StrEnum):
    AWAITING_DECISION = "awaiting_decision"  # screened and recommended; nobody has decided yet
    DECIDED = "decided"  # decided by a person (or by the service, where the ruleset lets it)
    CLOSED = "closed"  # its social care case closed, or decided with no further action


class DecidedBy(StrEnum):
    """Who made a contact's first decision: the figures judge people's timeliness apart."""

    COORDINATOR = "coordinator"  # a coordinator's confirm or change (or a manager's sign-off)
    IMM = "imm"  # an outcome agreed at the integrated mid-day meeting
    SERVICE = "service"  # the ruleset lets the service close it (information only, no history)


class DataQuality(StrEnum):
    """Problems with what a partner sent. The contact is accepted and screened all the same;
    the problem is shown in the queue and on the case, and counted in the figures."""

    CONSENT_BASIS_MISSING = "consent_basis_missing"  # level 2-3, consent not given, no reason recorded
    REFERRER_UNREACHABLE = "referrer_unreachable"  # no phone or e-mail to call the referrer back
    UNKNOWN_INDICATOR = "unknown_indicator"  # a code the contact's ruleset does not know


class Recommendation(BaseModel):
    """The screening: what the service recommends, and why, under which ruleset version."""

    model_config = ConfigDict(frozen=True)

    level: int
    rag: Rag
    route: Route
    pathway: str
    reasons: tuple[Reason, ...]
    ruleset_version: str


TrailStatus = Literal["applied", "awaiting_sign_off", "signed_off", "ignored"]


PLACEMENT = "how many times it has moved to another child (a tie, a link, a split): the highest wins"


class TrailItem(BaseModel):
    """One step of the decision trail, as it was taken."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    at: AwareDatetime
    by: str
    role: Role
    action: DecisionAction
    from_level: int
    to_level: int
    from_rag: Rag
    to_rag: Rag
    rationale: str | Sealed = Field(
        description="why: a person's as their decision carried it, sealed under the contact's data key "
        "(`<decision_id>/rationale` bound in; plain text from before decisions were sealed); the "
        "service's own in clear"
    )
    status: TrailStatus
    signs_off: str | None = Field(None, description="sign_off only: the decision_id it approved")
    # imm_outcome only: what the integrated mid-day meeting agreed. "applied" for the outcome
    # that set the route; "ignored" for a second outcome from the same meeting.
    imm: ImmDetails | None = None


class CaseRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="CaseRecordV1")

    schema_version: Literal[1] = 1
    contact_id: str
    child_key: str
    agency: str
    source: CinSource
    received_at: AwareDatetime
    accepted_at: AwareDatetime
    recommendation: Recommendation
    state: CaseState
    # In force: the decision's once decided, the recommendation's while the contact waits.
    level: int
    rag: Rag
    route: Route
    pathway: str
    due_at: AwareDatetime | None = Field(description="when the decision is due, by the recommended RAG")
    decided_at: AwareDatetime | None = Field(description="when it was first decided (event time)")
    decided_by: DecidedBy | None
    referral: Referral
    case_id: str | None
    re_referral: bool
    nfa: bool | None
    case_closed_at: AwareDatetime | None
    imm_agenda: bool
    consent_status: ConsentStatus | None
    consent_reason: ConsentReason | None
    data_quality: tuple[DataQuality, ...]
    children_in_submission: int
    awaiting_sign_off: bool
    trail: tuple[TrailItem, ...]
    identity_to_check: bool = Field(
        False, description="its identifiers conflict with another child's: a coordinator decides whose it is"
    )
    identity_conflict: str | None = Field(
        None, description="identity to check only: a contact (or outcome) id of the child it conflicts with"
    )
    placement: int = Field(0, description=PLACEMENT)


class PlanRecord(BaseModel):
    """A child protection plan, on `mash.plans.v1` keyed by plan id."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PlanRecordV1")

    schema_version: Literal[1] = 1
    plan_id: str
    child_key: str
    started_at: AwareDatetime
    ended_at: AwareDatetime | None
    second_or_subsequent: bool
    placement: int = Field(0, description=PLACEMENT)


class Placed(Protocol):
    @property
    def placement(self) -> int: ...


def supersedes(new: Placed, old: Placed | None) -> bool:
    """Whether a record read now replaces the one kept for the same contact (or plan): the latest,
    unless it was placed under an earlier child. A contact that moves to another child is published
    by its new child; its old child, on another partition, may publish it once more before it
    hears of the move, and that copy must not win."""
    return old is None or new.placement >= old.placement
