"""What the council's case system tells the service: a case closed, a child protection plan started or ended.

The case system names the child with the same identifiers a partner uses in a contact;
the intake adapter replaces them with keyed hashes (`Identifiers`), so the event on
`mash.outcomes.v1` carries no personal data, and the worker finds the child as it does for a
contact.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from mash.domain.contact import Child, Identifiers


class OutcomeType(StrEnum):
    CASE_CLOSED = "case_closed"
    CP_PLAN_STARTED = "cp_plan_started"
    CP_PLAN_ENDED = "cp_plan_ended"


class OutcomeSubmission(BaseModel):
    """Outcome submission v1: what the case system posts to `POST /v1/outcomes`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="OutcomeSubmissionV1")

    type: OutcomeType
    child: Child
    occurred_at: AwareDatetime
    nfa: bool = Field(False, description="case_closed only: the referral ended in no further action")
    reference: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None,
        description="the case system's own id for this event; repeats with the same reference are ignored",
    )
    plan_id: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None,
        description="cp_plan_started and cp_plan_ended only: the case system's id of the plan, so a plan "
        "sent again under another reference is still one plan",
    )

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> OutcomeSubmission:
        if self.nfa and self.type is not OutcomeType.CASE_CLOSED:
            raise ValueError("nfa is only meaningful on case_closed")
        if self.plan_id is not None and self.type is OutcomeType.CASE_CLOSED:
            raise ValueError("plan_id is only for cp_plan_started and cp_plan_ended")
        return self


class OutcomeEvent(BaseModel):
    """Outcome v2 on `mash.outcomes.v1`, keyed by its outcome id."""

    model_config = ConfigDict(extra="forbid", title="OutcomeEventV2")

    schema_version: Literal[2] = 2
    outcome_id: str
    identifiers: Identifiers
    agency: str
    type: OutcomeType
    occurred_at: AwareDatetime
    nfa: bool = False
    plan_ref: str | None = Field(None, description="the case system's plan id, as a keyed hash")
    accepted_at: AwareDatetime
