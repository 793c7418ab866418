"""The IMM figures as Prometheus gauges and a histogram, computed from the console's view."""

from __future__ import annotations

import time as clock
from collections.abc import Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from mash.domain.calendar import WorkingCalendar
from mash.domain.case import CaseRecord
from mash.domain.decisions import PartnerAgency
from mash.domain.imm import ImmLog, MeetingDecision, meeting_decisions

# Seconds from contact to the meeting's decision: an hour up to four weeks.
DELAY_BUCKETS = tuple(float(h * 3600) for h in (1, 4, 8, 24, 48, 72, 120, 168, 336, 672))
FIGURES_REFRESH_S = 15.0


class ImmCollector(Collector):
    """The IMM figures as Prometheus gauges and a histogram, computed from the console's view.

    Gauges because a late or corrected event changes what is true, and no label holds anything
    about a child: only outcomes and agencies from fixed lists.
    """

    def __init__(self, imm_log: ImmLog, records: Mapping[str, CaseRecord], calendar: WorkingCalendar) -> None:
        self.imm_log, self.records, self.calendar = imm_log, records, calendar
        self._cached: list[Metric] = []
        self._at = -FIGURES_REFRESH_S

    def collect(self) -> Iterator[Metric]:
        if clock.monotonic() - self._at >= FIGURES_REFRESH_S:
            self._cached = self.compute()
            self._at = clock.monotonic()
        yield from self._cached

    def compute(self) -> list[Metric]:
        agendas = list(self.imm_log.agendas.values())
        meetings = list(self.imm_log.meetings.values())
        decisions = meeting_decisions(list(self.records.values()), self.calendar)
        out: list[Metric] = []

        def gauge(name: str, doc: str, value: float) -> None:
            out.append(GaugeMetricFamily(name, doc, value=value))

        gauge("mash_imm_meetings_frozen", "Meetings whose agenda was frozen", len(agendas))
        gauge("mash_imm_meetings_recorded", "Meetings recorded", len(meetings))
        gauge("mash_imm_agenda_cases", "Cases listed on all agendas", sum(len(a.items) for a in agendas))
        gauge(
            "mash_imm_discussed_cases",
            "Cases discussed at all meetings",
            sum(len(m.discussed) for m in meetings),
        )
        gauge(
            "mash_imm_carried_over_cases",
            "Cases not reached and carried over, at all meetings",
            sum(len(m.carried) for m in meetings),
        )
        latest = self.imm_log.latest()
        recorded = self.imm_log.meetings.get(latest.meeting_id) if latest else None
        gauge(
            "mash_imm_latest_agenda_cases", "Cases on the latest agenda", len(latest.items) if latest else 0
        )
        gauge(
            "mash_imm_latest_discussed_cases",
            "Cases discussed at the latest meeting (0 until it is recorded)",
            len(recorded.discussed) if recorded else 0,
        )
        gauge(
            "mash_imm_latest_carried_over_cases",
            "Cases carried over from the latest meeting (0 until it is recorded)",
            len(recorded.carried) if recorded else 0,
        )
        outcomes = GaugeMetricFamily(
            "mash_imm_outcomes",
            "Meeting outcomes, by outcome and lead agency",
            labels=["outcome", "lead_agency"],
        )
        counted: dict[tuple[str, str], int] = {}
        for d in decisions:
            key = (d.outcome.value, d.lead_agency.value)
            counted[key] = counted.get(key, 0) + 1
        for (outcome, lead), n in sorted(counted.items()):
            outcomes.add_metric([outcome, lead], n)
        out.append(outcomes)
        attendance = GaugeMetricFamily(
            "mash_imm_attendance", "Recorded meetings each agency attended", labels=["agency"]
        )
        for agency in PartnerAgency:
            attendance.add_metric([agency.value], sum(agency in m.agencies_present for m in meetings))
        out.append(attendance)
        out.append(_delay_histogram(decisions))
        within = sum(d.within_one_working_day for d in decisions)
        gauge(
            "mash_imm_decided_within_1_working_day_ratio",
            "Share of meeting decisions made within 1 working day of the contact (NaN before any)",
            within / len(decisions) if decisions else float("nan"),
        )
        return out


def _delay_histogram(decisions: list[MeetingDecision]) -> HistogramMetricFamily:
    seconds = [d.seconds_from_contact for d in decisions]
    buckets = [(_le(b), float(sum(s <= b for s in seconds))) for b in DELAY_BUCKETS]
    buckets.append(("+Inf", float(len(seconds))))
    return HistogramMetricFamily(
        "mash_imm_contact_to_decision_seconds",
        "Time from a contact being received to the meeting's decision on it",
        buckets=buckets,
        sum_value=sum(seconds),
    )


def _le(bound: float) -> str:
    return f"{bound:.1f}"
