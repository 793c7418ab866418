"""The integrated mid-day meeting (IMM): its agenda, its record and its figures, as pure functions.

Every working day the MASH partners meet at mid-day (12:00 by default) to agree the
intervention for cases at levels 2 to 4. At the cut-off (11:30 Europe/London by default,
working days only: no meeting on a weekend or bank holiday) the agenda is frozen and
published on `mash.imm.v1` as an `AgendaFrozen` event; after the meeting a coordinator records
it: an `imm_outcome` decision per case discussed (on `mash.decisions.v1`, applied by the worker
like any decision) and one `MeetingRecorded` event (on `mash.imm.v1`). Both events are keyed
by the meeting id, `imm-YYYY-MM-DD`.

Which cases go on a meeting's agenda (`select_agenda`), all by event time:

- **New**: a case whose level (or screened level) is 2 to 4, whose contact was received after
  the last meeting's cut-off and at or before this one. A case that was never on an agenda
  but was received earlier (its contact was screened late, or submitted with an earlier
  received time, or a coordinator raised it to level 2 since) is also new, back to the
  window of the first agenda frozen by this service, so nothing falls between two agendas.
- **Carried over**: on an earlier agenda, with no meeting outcome yet, and not closed.
  `carried_over_from` names the latest earlier meeting it was listed for.
- **Ratification**: a new or carried case a coordinator has already decided (state decided,
  or closed by a decision, for example a red case that went straight to a strategy
  discussion, or a level 2 case lowered to level 1): the meeting ratifies or revisits it.
- **Dropped**: a case whose social care case closed (the case system said so) before the
  cut-off is not listed. One that closes between the cut-off and the recording stays on the
  frozen agenda, is shown as closed, gets no outcome and is listed in `MeetingRecorded.closed`.
- **Discussed**: a case with an IMM outcome (from any meeting) or listed as discussed in a
  meeting record is never listed again; a new contact about the same child is a new case.

The agenda is ordered by RAG (red, amber, green, blue), then due time (no target last), then
time received. Freezing is idempotent: `freeze_agenda` returns the agenda already frozen for
the meeting, and readers (`ImmLog`) keep the first `AgendaFrozen` per meeting id, so two
freezers racing give one agenda. A meeting recorded twice keeps the earliest record
(recorded time, then recording id); the worker likewise applies only the first outcome from
each meeting for a case (mash.domain.derive), so the record is never corrupted.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar, add_working_time
from mash.domain.case import CaseRecord, CaseState, DataQuality, Referral, TrailItem
from mash.domain.contact import ConsentReason, ConsentStatus
from mash.domain.decisions import MEETING_ID_PATTERN, ImmOutcome, PartnerAgency
from mash.domain.ruleset import Rag, Route

DEFAULT_CUTOFF = time(11, 30)
DEFAULT_MEETING_TIME = time(12, 0)
CRON_WEEKDAYS = "1-5"  # the scheduler wakes Monday to Friday; the calendar skips bank holidays
RAG_ORDER = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2, Rag.BLUE: 3}
_MAX_DAYS_BACK = 3 * 366

MeetingId = Annotated[str, Field(pattern=MEETING_ID_PATTERN)]
_FROZEN = ConfigDict(extra="forbid", frozen=True)


# --- meetings and their cut-offs -------------------------------------------------------------------


def meeting_id(day: date) -> str:
    return f"imm-{day.isoformat()}"


def meeting_day(meeting: str) -> date:
    """The date of a meeting from its id (`imm-2026-11-24` -> 2026-11-24)."""
    if not meeting.startswith("imm-"):
        raise ValueError(f"not a meeting id: {meeting!r}")
    return date.fromisoformat(meeting[4:])


def cron_spec(cutoff: time = DEFAULT_CUTOFF) -> str:
    """The crontab line that wakes the freezer at the cut-off on weekdays (in the calendar's zone)."""
    return f"{cutoff.minute} {cutoff.hour} * * {CRON_WEEKDAYS}"


def meeting_cutoff(
    day: date, calendar: WorkingCalendar = DEFAULT_CALENDAR, cutoff: time = DEFAULT_CUTOFF
) -> datetime | None:
    """The cut-off instant (UTC) of the meeting on `day`, or None: no meeting on a non-working day."""
    if not calendar.is_working_day(day):
        return None
    return datetime.combine(day, cutoff, tzinfo=calendar.zone).astimezone(UTC)


def previous_working_day(day: date, calendar: WorkingCalendar = DEFAULT_CALENDAR) -> date:
    """The last working day strictly before `day`."""
    candidate = day
    for _ in range(_MAX_DAYS_BACK):
        candidate -= timedelta(days=1)
        if calendar.is_working_day(candidate):
            return candidate
    raise ValueError(f"no working day within {_MAX_DAYS_BACK} days before {day}")


def meeting_cutoffs(
    day: date, calendar: WorkingCalendar = DEFAULT_CALENDAR, cutoff: time = DEFAULT_CUTOFF
) -> tuple[datetime, datetime] | None:
    """(the previous meeting's cut-off, this meeting's cut-off) by the calendar, or None when
    `day` has no meeting (a weekend or bank holiday: no meeting, no freeze)."""
    this = meeting_cutoff(day, calendar, cutoff)
    if this is None:
        return None
    previous = meeting_cutoff(previous_working_day(day, calendar), calendar, cutoff)
    assert previous is not None
    return previous, this


# --- events on mash.imm.v1 -------------------------------------------------------------------------


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


# --- choosing the agenda ---------------------------------------------------------------------------


def imm_outcomes(record: CaseRecord) -> list[TrailItem]:
    """The meeting outcomes applied to a case, oldest first (one per meeting at most)."""
    return [t for t in record.trail if t.imm is not None and t.status == "applied"]


def _closed_by_case_system(record: CaseRecord) -> bool:
    return record.state is CaseState.CLOSED and record.case_closed_at is not None


def _decided(record: CaseRecord) -> bool:
    """Decided before the meeting (by a coordinator: the meeting ratifies or revisits it)."""
    return record.decided_at is not None


def _eligible(record: CaseRecord) -> bool:
    # A contact about a child whose case is open goes to the allocated worker, not the meeting.
    if record.referral is Referral.LINKED_TO_OPEN_CASE:
        return False
    # The recommended level too: a level 2-4 case a coordinator lowered to level 1 and closed is
    # put to the meeting for ratification.
    return 2 <= max(record.level, record.recommendation.level) <= 4


def _sort_key(item: AgendaItem) -> tuple[int, float, float, str]:
    due = item.due_at.timestamp() if item.due_at else float("inf")
    return (RAG_ORDER[item.rag], due, item.received_at.timestamp(), item.contact_id)


def _history(record: CaseRecord, siblings: list[CaseRecord], cutoff_at: datetime) -> str:
    earlier = sorted(
        (r for r in siblings if r.contact_id != record.contact_id and r.received_at < record.received_at),
        key=lambda r: r.received_at,
    )
    parts = []
    if earlier:
        last = earlier[-1].received_at.astimezone(DEFAULT_CALENDAR.zone)
        count = len(earlier)
        parts.append(f"{count} earlier contact{'' if count == 1 else 's'}, the last on {last:%d %b %Y}")
    else:
        parts.append("First contact with the MASH")
    # The child's social care case opened by an earlier contact (a referral opens its own case).
    open_case = any(
        r.case_id == r.contact_id and r.state is not CaseState.CLOSED and r.received_at < record.received_at
        for r in siblings
    )
    if open_case:
        parts.append("open social care case")
    if record.referral is Referral.REFERRAL:
        parts.append("a new referral to social care")
    if record.re_referral:
        parts.append("re-referral within 12 months")
    later = sum(1 for r in siblings if record.received_at < r.received_at <= cutoff_at)
    if later:
        parts.append(f"{later} later contact{'' if later == 1 else 's'} since")
    return "; ".join(parts)


def select_agenda(
    records: Iterable[CaseRecord],
    earlier_agendas: Iterable[AgendaFrozen],
    meetings: Iterable[MeetingRecorded],
    since: datetime,
    cutoff_at: datetime,
) -> list[AgendaItem]:
    """The agenda of the meeting whose cut-off is `cutoff_at` (see the module docstring).

    `since` is the previous meeting's cut-off; `earlier_agendas` the agendas frozen before
    this one (their cut-offs are before `cutoff_at`); `meetings` every meeting record known.
    """
    earlier = sorted((a for a in earlier_agendas if a.cutoff_at < cutoff_at), key=lambda a: a.cutoff_at)
    floor = min([since, *(a.since for a in earlier)])
    listed_in: dict[str, str] = {}
    for agenda in earlier:  # oldest first, so the latest meeting wins
        for listed in agenda.items:
            listed_in[listed.contact_id] = agenda.meeting_id
    discussed = {cid for m in meetings for cid in m.discussed}

    by_child: dict[str, list[CaseRecord]] = defaultdict(list)
    chosen: list[tuple[CaseRecord, str | None]] = []
    for record in records:
        by_child[record.child_key].append(record)
        if not _eligible(record) or record.received_at > cutoff_at:
            continue
        if imm_outcomes(record) or record.contact_id in discussed or _closed_by_case_system(record):
            continue
        carried_from = listed_in.get(record.contact_id)
        if carried_from is None and record.received_at <= floor:
            continue  # from before this service froze agendas: not its meeting's business
        chosen.append((record, carried_from))

    items = [
        AgendaItem(
            contact_id=r.contact_id,
            child_key=r.child_key,
            received_at=r.received_at,
            level=r.level,
            recommended_level=r.recommendation.level,
            rag=r.rag,
            due_at=r.due_at,
            state=r.state,
            route=r.route,
            pathway=r.pathway,
            reasons=tuple(reason.text for reason in r.recommendation.reasons),
            consent_status=r.consent_status,
            consent_reason=r.consent_reason,
            agencies=tuple(sorted({s.agency for s in by_child[r.child_key] if s.received_at <= cutoff_at})),
            history=_history(r, by_child[r.child_key], cutoff_at),
            ratification=_decided(r),
            data_quality=r.data_quality,
            carried_over_from=carried_from,
        )
        for r, carried_from in chosen
    ]
    return sorted(items, key=_sort_key)


def freeze_agenda(
    day: date,
    records: Iterable[CaseRecord],
    log: ImmLog,
    *,
    now: datetime,
    by: str,
    calendar: WorkingCalendar = DEFAULT_CALENDAR,
    cutoff: time = DEFAULT_CUTOFF,
) -> AgendaFrozen | None:
    """The agenda of the meeting on `day`: the one already frozen if there is one, else a new one.

    None on a day with no meeting. Frozen before the configured cut-off ("freeze now"), the
    cut-off is `now`, and the next meeting's new cases start from there, so none are missed.
    Raises ValueError for a day in the future.
    """
    meeting = meeting_id(day)
    if meeting in log.agendas:
        return log.agendas[meeting]
    cutoffs = meeting_cutoffs(day, calendar, cutoff)
    if cutoffs is None:
        return None
    if day > now.astimezone(calendar.zone).date():
        raise ValueError(f"the meeting on {day} is in the future: its agenda can't be frozen yet")
    by_calendar, scheduled = cutoffs
    cutoff_at = min(scheduled, now.astimezone(UTC))
    earlier = [a for a in log.agendas.values() if a.cutoff_at < cutoff_at]
    since = max((a.cutoff_at for a in earlier), default=by_calendar)
    items = select_agenda(records, earlier, log.meetings.values(), since, cutoff_at)
    return AgendaFrozen(
        meeting_id=meeting,
        since=since,
        cutoff_at=cutoff_at,
        frozen_at=now,
        frozen_by=by,
        items=tuple(items),
    )


# --- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingDecision:
    """One meeting outcome for a case, for the figures."""

    meeting_id: str
    contact_id: str
    outcome: ImmOutcome
    lead_agency: PartnerAgency
    seconds_from_contact: float
    within_one_working_day: bool


def meeting_decisions(
    records: Iterable[CaseRecord], calendar: WorkingCalendar = DEFAULT_CALENDAR
) -> list[MeetingDecision]:
    """Every applied meeting outcome: ignored duplicates and second records of a meeting are not counted."""
    out = []
    for record in records:
        for item in imm_outcomes(record):
            assert item.imm is not None
            one_day = add_working_time(record.received_at, calendar.working_day_seconds, calendar)
            out.append(
                MeetingDecision(
                    meeting_id=item.imm.meeting_id,
                    contact_id=record.contact_id,
                    outcome=item.imm.outcome,
                    lead_agency=item.imm.lead_agency,
                    seconds_from_contact=max(0.0, (item.at - record.received_at).total_seconds()),
                    within_one_working_day=item.at <= one_day,
                )
            )
    return out


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def imm_figures(
    agendas: Iterable[AgendaFrozen],
    meetings: Iterable[MeetingRecorded],
    records: Iterable[CaseRecord],
    start: date,
    end: date,
    calendar: WorkingCalendar = DEFAULT_CALENDAR,
) -> dict[str, Any]:
    """The IMM figures for meetings held from `start` to `end` inclusive (by meeting date).

    `agendas` and `meetings` as an `ImmLog` keeps them (one per meeting); `records` the latest
    case record per contact (only those with meeting outcomes matter). Times from contact to
    decision are in hours; rates are fractions, None when there is nothing to divide by.
    """

    def in_period(meeting: str) -> bool:
        return start <= meeting_day(meeting) <= end

    agendas_in = sorted((a for a in agendas if in_period(a.meeting_id)), key=lambda a: a.meeting_id)
    meetings_in = {m.meeting_id: m for m in meetings if in_period(m.meeting_id)}
    decisions = [d for d in meeting_decisions(records, calendar) if in_period(d.meeting_id)]
    hours = sorted(d.seconds_from_contact / 3600 for d in decisions)
    within = sum(d.within_one_working_day for d in decisions)
    attended = Counter(agency for m in meetings_in.values() for agency in m.agencies_present)
    by_meeting: dict[str, dict[str, Any]] = {}
    for a in agendas_in:
        m = meetings_in.get(a.meeting_id)
        by_meeting[a.meeting_id] = {
            "cutoff_at": a.cutoff_at.isoformat(),
            "on_agenda": len(a.items),
            "ratification": sum(i.ratification for i in a.items),
            "carried_in": sum(i.carried_over_from is not None for i in a.items),
            "recorded": m is not None,
            "discussed": len(m.discussed) if m else 0,
            "carried_over": len(m.carried) if m else 0,
            "closed_before_meeting": len(m.closed) if m else 0,
            "agencies_present": sorted(a.value for a in m.agencies_present) if m else [],
        }
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "meetings": len(agendas_in),
        "meetings_recorded": len(meetings_in),
        "cases_on_agendas": sum(len(a.items) for a in agendas_in),
        "ratification_items": sum(i.ratification for a in agendas_in for i in a.items),
        "cases_discussed": sum(len(m.discussed) for m in meetings_in.values()),
        "cases_carried_over": sum(len(m.carried) for m in meetings_in.values()),
        "cases_closed_before_meeting": sum(len(m.closed) for m in meetings_in.values()),
        "outcomes": {o.value: sum(d.outcome is o for d in decisions) for o in ImmOutcome},
        "by_lead_agency": {
            a.value: n for a in PartnerAgency if (n := sum(d.lead_agency is a for d in decisions))
        },
        "contact_to_decision_hours": {
            "count": len(hours),
            "median": None if not hours else round(statistics.median(hours), 2),
            "p90": None if not hours else round(_quantile(hours, 0.9) or 0.0, 2),
            "max": None if not hours else round(hours[-1], 2),
        },
        "decided_within_1_working_day": within,
        "decided_within_1_working_day_rate": _rate(within, len(decisions)),
        "attendance": {
            a.value: {"meetings": attended[a], "rate": _rate(attended[a], len(meetings_in))}
            for a in PartnerAgency
            if attended[a]
        },
        "by_meeting": by_meeting,
    }
