"""Decisions people make about a contact: a coordinator confirms or changes its level and RAG,
a manager signs off lowering a level-4 case.

Each is an event on `mash.decisions.v1`, keyed by child key, applied by the worker in
event-time order. Nothing is overwritten: the case record carries the whole trail.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from mash.domain.ruleset import Level, Rag


class DecisionAction(StrEnum):
    CONFIRM = "confirm"  # the screening stands
    CHANGE = "change"  # a new level and/or RAG
    SIGN_OFF = "sign_off"  # a manager approves a change that lowered a level-4 case


class Role(StrEnum):
    COORDINATOR = "coordinator"
    MANAGER = "manager"


class DecisionEvent(BaseModel):
    """Decision v1 on `mash.decisions.v1`."""

    model_config = ConfigDict(extra="forbid", title="DecisionEventV1")

    schema_version: Literal[1] = 1
    decision_id: str
    contact_id: str
    child_key: str
    action: DecisionAction
    decided_at: AwareDatetime
    by: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    level: Level | None = None
    rag: Rag | None = None
    rationale: Annotated[str, Field(min_length=1, max_length=5000)]
    signs_off: str | None = Field(None, description="sign_off only: the decision_id being approved")

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> DecisionEvent:
        if not self.rationale.strip():
            raise ValueError("a rationale is required for every decision")
        if self.action is DecisionAction.CHANGE and self.level is None and self.rag is None:
            raise ValueError("a change needs a new level or RAG")
        if self.action is not DecisionAction.CHANGE and (self.level is not None or self.rag is not None):
            raise ValueError("only a change sets a level or RAG")
        if (self.action is DecisionAction.SIGN_OFF) != (self.signs_off is not None):
            raise ValueError("signs_off is given with, and only with, a sign_off")
        if self.action is DecisionAction.SIGN_OFF and self.role is not Role.MANAGER:
            raise ValueError("only a manager signs off")
        return self
