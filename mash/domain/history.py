"""What the service knows about one child, keyed by the pseudonymous child key.

This is the value of the worker's child table. It holds no names or narrative: only
decisions, dates and case state, which is what the history rules and the statutory
figures need.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from mash.domain.case import CaseRecord


class OpenCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    opened_at: AwareDatetime


class ChildHistory(BaseModel):
    model_config = ConfigDict(frozen=True)

    contacts: tuple[CaseRecord, ...] = ()
    referral_dates: tuple[date, ...] = ()
    open_case: OpenCase | None = None
    cp_plans_started: tuple[AwareDatetime, ...] = ()

    def decided(self, contact_id: str) -> CaseRecord | None:
        """The decision already made for this contact, if it was processed before."""
        return next((c for c in self.contacts if c.contact_id == contact_id), None)

    def contacts_between(self, start: datetime, end: datetime) -> int:
        return sum(1 for c in self.contacts if start <= c.received_at <= end)

    def had_cp_plan_before(self, at: datetime) -> bool:
        return any(started < at for started in self.cp_plans_started)
