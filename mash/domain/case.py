"""The case record: what the service decided about one contact, and why.

Published on `mash.cases.v1`, keyed by contact id. It carries no personal data (no names,
dates of birth, NHS numbers, addresses or narrative), so queues, dashboards and partners'
status checks can be built from it; the console joins the contact itself when a
coordinator opens the case.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
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


class CaseRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="CaseRecordV1")

    schema_version: Literal[1] = 1
    status: Literal["screened"] = "screened"
    contact_id: str
    child_key: str
    agency: str
    source: CinSource
    received_at: AwareDatetime
    accepted_at: AwareDatetime
    level: int
    rag: Rag
    due_at: AwareDatetime | None
    reasons: tuple[Reason, ...]
    ruleset_version: str
    route: Route
    pathway: str
    referral: Referral
    case_id: str | None
    re_referral: bool
    imm_agenda: bool
    consent_status: ConsentStatus
    consent_reason: ConsentReason | None
    children_in_submission: int
