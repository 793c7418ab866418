"""The statutory figures for a period, from the service's own case records and plans.

Definitions (docs/figures.md, and the domain primer), all by event time: a contact counts on the
Europe/London date it was received, whenever it was decided.

- contacts: one per child; awaiting decision: of those, not yet decided by anyone;
- referrals: contacts a person decided for social care, for a child with no open case;
  conversion rate: referrals / contacts;
- re-referrals: referrals whose child had a referral on or after the same calendar date a
  year earlier; re-referral rate: re-referrals / referrals (referrals, not children);
- linked to open case: contacts about a child whose case was open: to its allocated worker;
- referrals resulting in NFA: referrals whose case closed with no further action;
- contacts with NFA: contacts decided for universal services (advice, signposting, no further
  action), including those the service closed itself where the ruleset lets it;
- plans started; children starting a plan, and of those the children who had any earlier plan
  (second or subsequent: children, not plans);
- decided within target: of the contacts with a RAG target whose decision is due (decided, or
  past their due time now), those a person decided by their due time. An undecided contact past
  its due time is a miss, never left out. Contacts the service decided itself are not counted;
- decided within 1 working day: the same, against one working day from receipt, for every
  contact a person decides, by who decided it first (coordinator or the IMM);
- waiting past due at the end: contacts received by the period's end, still undecided then and
  past their due time then, by RAG (as at the end of the period, or now if that is earlier);
- data quality: contacts with each problem (missing consent basis, unreachable referrer,
  unknown indicator).
Rates are fractions, None when the denominator is zero. Dates are Europe/London dates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from mash.domain.calendar import DEFAULT_CALENDAR, add_working_time
from mash.domain.case import CaseRecord, DataQuality, DecidedBy, PlanRecord, Referral
from mash.domain.referrals import LOCAL, local_date, one_year_earlier
from mash.domain.ruleset import Rag, Route

PEOPLE = (DecidedBy.COORDINATOR, DecidedBy.IMM)


class ContactFact(NamedTuple):
    """What the figures need of a case record: small, so a million of them fit in memory."""

    received_on: date
    received_at: datetime
    source: str
    level: int
    rag: Rag
    route: Route
    referral: Referral
    re_referral: bool
    nfa: bool
    decided_at: datetime | None
    decided_by: DecidedBy | None
    due_at: datetime | None
    data_quality: tuple[DataQuality, ...]

    @classmethod
    def of(cls, r: CaseRecord) -> ContactFact:
        return cls(
            local_date(r.received_at),
            r.received_at,
            r.source.value,
            r.level,
            r.recommendation.rag,
            r.route,
            r.referral,
            r.re_referral,
            bool(r.nfa),
            r.decided_at,
            r.decided_by,
            r.due_at,
            r.data_quality,
        )

    def decided_by_then(self, at: datetime) -> bool:
        return self.decided_at is not None and self.decided_at <= at

    def one_working_day(self) -> datetime:
        return _one_working_day(self.received_at)


@lru_cache(maxsize=65_536)
def _one_working_day(received_at: datetime) -> datetime:
    return add_working_time(received_at, DEFAULT_CALENDAR.working_day_seconds, DEFAULT_CALENDAR)


class PlanFact(NamedTuple):
    started_on: date
    child_key: str
    second_or_subsequent: bool

    @classmethod
    def of(cls, p: PlanRecord) -> PlanFact:
        return cls(local_date(p.started_at), p.child_key, p.second_or_subsequent)


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def rolling_year(today: date) -> tuple[date, date]:
    """The 12 months ending today, inclusive: from the day after the same date last year."""
    return one_year_earlier(today) + timedelta(days=1), today


def end_of_day(day: date) -> datetime:
    """The last instant of a London date, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL).astimezone(UTC) - timedelta(
        microseconds=1
    )


def _timeliness(records: list[ContactFact], now: datetime) -> dict[str, Any]:
    """Decisions against the RAG target and against one working day, as the module says."""
    by_people = [r for r in records if r.decided_by is not DecidedBy.SERVICE]
    targeted = [r for r in by_people if r.due_at is not None]
    due = [r for r in targeted if r.decided_at is not None or (r.due_at is not None and r.due_at <= now)]
    within = sum(
        1 for r in due if r.decided_at is not None and r.due_at is not None and r.decided_at <= r.due_at
    )
    day_due = [r for r in by_people if r.decided_at is not None or r.one_working_day() <= now]
    day_within = [r for r in day_due if r.decided_at is not None and r.decided_at <= r.one_working_day()]
    by_route = {}
    for who in PEOPLE:
        decided = [r for r in day_due if r.decided_by is who]
        on_time = sum(1 for r in day_within if r.decided_by is who)
        by_route[who.value] = {
            "decided": len(decided),
            "within": on_time,
            "rate": rate(on_time, len(decided)),
        }
    return {
        "decisions_due": len(due),
        "decided_within_target": within,
        "decided_within_target_rate": rate(within, len(due)),
        "undecided_past_due": sum(1 for r in due if r.decided_at is None),
        "decisions_due_1_working_day": len(day_due),
        "decided_within_1_working_day": len(day_within),
        "decided_within_1_working_day_rate": rate(len(day_within), len(day_due)),
        "undecided_past_1_working_day": sum(1 for r in day_due if r.decided_at is None),
        "decided_within_1_working_day_by": by_route,
    }


def _counts(records: list[ContactFact], plans: list[PlanFact], now: datetime) -> dict[str, Any]:
    referrals = [r for r in records if r.referral is Referral.REFERRAL]
    re_referrals = sum(1 for r in referrals if r.re_referral)
    children = {p.child_key for p in plans}
    again = {p.child_key for p in plans if p.second_or_subsequent}
    return {
        "contacts": len(records),
        "awaiting_decision": sum(1 for r in records if r.decided_at is None),
        "decided_by_service": sum(1 for r in records if r.decided_by is DecidedBy.SERVICE),
        "referrals": len(referrals),
        "conversion_rate": rate(len(referrals), len(records)),
        "re_referrals": re_referrals,
        "re_referral_rate": rate(re_referrals, len(referrals)),
        "linked_to_open_case": sum(1 for r in records if r.referral is Referral.LINKED_TO_OPEN_CASE),
        "referrals_nfa": sum(1 for r in referrals if r.nfa),
        "contacts_nfa": sum(1 for r in records if r.decided_at is not None and r.route is Route.UNIVERSAL),
        "cp_plans_started": len(plans),
        "cp_plan_children": len(children),
        "cp_plan_children_second_or_subsequent": len(again),
        "cp_plan_children_second_or_subsequent_rate": rate(len(again), len(children)),
        **_timeliness(records, now),
        "data_quality": {q.value: sum(1 for r in records if q in r.data_quality) for q in DataQuality},
    }


def waiting_past_due(records: Iterable[ContactFact], at: datetime) -> dict[str, int]:
    """Contacts received by `at`, undecided then and past their due time then, by RAG."""
    counts = Counter(
        r.rag.value
        for r in records
        if r.received_at <= at and not r.decided_by_then(at) and r.due_at is not None and r.due_at <= at
    )
    return {rag.value: counts[rag.value] for rag in Rag if rag is not Rag.BLUE}


def figures(
    records: Iterable[ContactFact], plans: Iterable[PlanFact], start: date, end: date, now: datetime
) -> dict[str, Any]:
    """The figures for contacts received, and plans started, from `start` to `end` inclusive,
    as known at `now` (which the caller passes: this module never reads the clock)."""
    everything = list(records)
    in_period = [r for r in everything if start <= r.received_on <= end]
    plans_in = [p for p in plans if start <= p.started_on <= end]
    result: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_counts(in_period, plans_in, now),
        "waiting_past_due_at_end": waiting_past_due(everything, min(end_of_day(end), now)),
    }

    by_source: dict[str, dict[str, int]] = {}
    for source in sorted({r.source for r in in_period}, key=lambda s: (len(s), s)):
        mine = [r for r in in_period if r.source == source]
        referrals = [r for r in mine if r.referral is Referral.REFERRAL]
        by_source[source] = {
            "contacts": len(mine),
            "referrals": len(referrals),
            "re_referrals": sum(1 for r in referrals if r.re_referral),
        }
    result["by_source"] = by_source
    result["by_level"] = {str(k): v for k, v in sorted(Counter(r.level for r in in_period).items())}

    months: dict[str, tuple[list[ContactFact], list[PlanFact]]] = {}
    month = start.replace(day=1)
    while month <= end:
        months[month.strftime("%Y-%m")] = ([], [])
        month = (month + timedelta(days=32)).replace(day=1)
    for r in in_period:
        months[r.received_on.strftime("%Y-%m")][0].append(r)
    for p in plans_in:
        months[p.started_on.strftime("%Y-%m")][1].append(p)
    result["by_month"] = {key: _counts(rs, ps, now) for key, (rs, ps) in months.items()}
    return result
