"""The figures of the integrated mid-day meeting, for `mash report` and the console: agendas,
cases discussed and carried over, outcomes and lead agencies, time from contact to decision, and
attendance."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar, add_working_time
from mash.domain.case import CaseRecord
from mash.domain.decisions import ImmOutcome, PartnerAgency
from mash.domain.imm.agenda import imm_outcomes
from mash.domain.imm.events import AgendaFrozen, MeetingRecorded
from mash.domain.imm.meetings import meeting_day


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
