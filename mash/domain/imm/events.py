"""The events on `mash.imm.v1`, keyed by the meeting id: a meeting's agenda as frozen at its
cut-off (`AgendaFrozen`) and what the meeting did with it (`MeetingRecorded`), and what a reader
of the topic keeps of them (`ImmLog`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from mash.domain.case import CaseState, DataQuality
from mash.domain.contact import ConsentReason, ConsentStatus
from mash.domain.decisions import MEETING_ID_PATTERN, PartnerAgency
from mash.domain.ruleset import Rag, Route

MeetingId = Annotated[str, Field(pattern=MEETING_ID_PATTERN)]
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class AgendaItem(BaseModel):
    """One case on a frozen agenda, with what the partners need to discuss it (no personal data)."""

    model_config = _FROZEN

    contact_id: str
    child_key: str
    received_at: AwareDatetime
    level: int
    recommended_level: int
    rag: Rag
    due_at: AwareDatetime | None
    state: CaseState
    route: Route
    pathway: str
    reasons: tuple[str, ...] = Field(description="the rules that fired, in words")
    consent_status: ConsentStatus | None
    consent_reason: ConsentReason | None
    agencies: tuple[str, ...] = Field(description="agencies that made contacts about the child")
    history: str = Field(description="the child's history at the service, in one line")
    ratification: bool = Field(description="already decided by a coordinator: for the meeting to ratify")
    data_quality: tuple[DataQuality, ...] = Field((), description="problems with what the partner sent")
    carried_over_from: MeetingId | None = Field(
        None, description="the latest earlier meeting whose agenda listed it"
    )


class AgendaFrozen(BaseModel):
    """A meeting's agenda as frozen at its cut-off: IMM event v1 on `mash.imm.v1`."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ImmAgendaFrozenV1")

    schema_version: Literal[1] = 1
    kind: Literal["agenda_frozen"] = "agenda_frozen"
    meeting_id: MeetingId
    since: AwareDatetime = Field(description="the previous meeting's cut-off: new cases arrived after it")
    cutoff_at: AwareDatetime
    frozen_at: AwareDatetime
    frozen_by: Annotated[str, Field(min_length=1, max_length=100)]
    items: tuple[AgendaItem, ...]

    def item(self, contact_id: str) -> AgendaItem | None:
        return next((i for i in self.items if i.contact_id == contact_id), None)


class MeetingRecorded(BaseModel):
    """What a meeting did with its agenda: IMM event v1 on `mash.imm.v1`.

    Each case listed is in exactly one of `discussed` (its outcome is an imm_outcome decision
    event), `carried` (not reached: on the next agenda) or `closed` (its case closed before the
    meeting recorded it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, title="ImmMeetingRecordedV1")

    schema_version: Literal[1] = 1
    kind: Literal["meeting_recorded"] = "meeting_recorded"
    meeting_id: MeetingId
    recording_id: Annotated[str, Field(min_length=1, max_length=64)]
    agencies_present: Annotated[tuple[PartnerAgency, ...], Field(min_length=1)]
    recorded_by: Annotated[str, Field(min_length=1, max_length=100)]
    recorded_at: AwareDatetime
    discussed: tuple[str, ...]
    carried: tuple[str, ...]
    closed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _each_case_once(self) -> MeetingRecorded:
        listed = [*self.discussed, *self.carried, *self.closed]
        if len(listed) != len(set(listed)):
            raise ValueError("a case is discussed, carried over or closed: only one of them, once")
        if len(self.agencies_present) != len(set(self.agencies_present)):
            raise ValueError("an agency is listed as present twice")
        return self


ImmEvent = Annotated[AgendaFrozen | MeetingRecorded, Field(discriminator="kind")]
_IMM_EVENT: TypeAdapter[AgendaFrozen | MeetingRecorded] = TypeAdapter(ImmEvent)


def parse_imm_event(raw: bytes) -> AgendaFrozen | MeetingRecorded:
    return _IMM_EVENT.validate_json(raw)


def _record_order(m: MeetingRecorded) -> tuple[datetime, str]:
    return (m.recorded_at, m.recording_id)


@dataclass
class ImmLog:
    """What a reader of `mash.imm.v1` keeps: the first agenda frozen for each meeting, and the
    earliest record of each meeting (by recorded time, then recording id, whatever the order
    they arrive in)."""

    agendas: dict[str, AgendaFrozen] = field(default_factory=dict)
    meetings: dict[str, MeetingRecorded] = field(default_factory=dict)

    def add(self, event: AgendaFrozen | MeetingRecorded) -> bool:
        """Adds one event; True if it changed what the log holds."""
        if isinstance(event, AgendaFrozen):
            if event.meeting_id in self.agendas:
                return False
            self.agendas[event.meeting_id] = event
            return True
        kept = self.meetings.get(event.meeting_id)
        if kept is not None and _record_order(kept) <= _record_order(event):
            return False
        self.meetings[event.meeting_id] = event
        return True

    def latest(self) -> AgendaFrozen | None:
        return max(self.agendas.values(), key=lambda a: a.cutoff_at, default=None)
