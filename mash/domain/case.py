"""The case record: what the service decided about one contact, why, and what happened since.

Published on `mash.cases.v1`, keyed by contact id, and published again whenever anything
about it changes (a decision, a closure, an earlier event arriving late): readers keep the
latest per contact id. It carries no personal data (no names, dates of birth, NHS numbers,
addresses or narrative), so queues, dashboards, figures and partners' status checks are
built from it; the console joins the contact itself when a coordinator opens the case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
from mash.domain.decisions import DecisionAction, ImmDetails, Role
from mash.domain.ruleset import Rag, Route


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
    REFERRAL = "referral"  # accepted by social care for a child with no open case: opens a case
    LINKED_TO_OPEN_CASE = "linked_to_open_case"  # social care, but the child's case is already open
    NOT_REFERRED = "not_referred"  # early help or universal: not a social care referral


class CaseState(StrEnum):
    AWAITING_DECISION = "awaiting_decision"  # screened; no coordinator has decided yet
    DECIDED = "decided"  # confirmed or changed by a coordinator
    CLOSED = "closed"  # its social care case closed, or decided with no further action


TrailStatus = Literal["applied", "awaiting_sign_off", "signed_off", "ignored"]


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
    rationale: str
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
    state: CaseState
    screened_level: int
    screened_rag: Rag
    level: int
    rag: Rag
    due_at: AwareDatetime | None
    decided_at: AwareDatetime | None
    reasons: tuple[Reason, ...]
    ruleset_version: str
    route: Route
    pathway: str
    referral: Referral
    case_id: str | None
    re_referral: bool
    nfa: bool | None
    case_closed_at: AwareDatetime | None
    imm_agenda: bool
    consent_status: ConsentStatus
    consent_reason: ConsentReason | None
    children_in_submission: int
    awaiting_sign_off: bool
    trail: tuple[TrailItem, ...]


class PlanRecord(BaseModel):
    """A child protection plan, on `mash.plans.v1` keyed by plan id."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PlanRecordV1")

    schema_version: Literal[1] = 1
    plan_id: str
    child_key: str
    started_at: AwareDatetime
    ended_at: AwareDatetime | None
    second_or_subsequent: bool
