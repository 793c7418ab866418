"""The statutory figures for a period, from the service's own case records and plans.

Definitions (docs/figures.md, and docs/domain-primer.md), all by event time:
- contacts: one per child, counted on the date the contact was received;
- referrals: contacts accepted by social care for a child with no open case;
- conversion rate: referrals / contacts;
- re-referrals: referrals whose child had a referral on or after the same calendar date a
  year earlier; re-referral rate: re-referrals / referrals (referrals, not children);
- linked to open case: social care contacts about a child whose case was already open;
- referrals resulting in NFA: referrals whose case closed with no further action;
- contacts with NFA: contacts routed to universal services (advice, signposting);
- plans started, and second or subsequent plans (the child had any earlier plan);
- decisions within target: contacts decided by their RAG due time, of those decided.
Rates are fractions, None when the denominator is zero. Dates are Europe/London dates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from mash.domain.case import CaseRecord, PlanRecord, Referral
from mash.domain.referrals import local_date, one_year_earlier
from mash.domain.ruleset import Route


class ContactFact(NamedTuple):
    """What the figures need of a case record: small, so a million of them fit in memory."""

    received_on: date
    source: str
    level: int
    route: Route
    referral: Referral
    re_referral: bool
    nfa: bool
    decided_at: datetime | None
    due_at: datetime | None

    @classmethod
    def of(cls, r: CaseRecord) -> ContactFact:
        return cls(
            local_date(r.received_at),
            r.source.value,
            r.level,
            r.route,
            r.referral,
            r.re_referral,
            bool(r.nfa),
            r.decided_at,
            r.due_at,
        )


class PlanFact(NamedTuple):
    started_on: date
    second_or_subsequent: bool

    @classmethod
    def of(cls, p: PlanRecord) -> PlanFact:
        return cls(local_date(p.started_at), p.second_or_subsequent)


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def rolling_year(today: date) -> tuple[date, date]:
    """The 12 months ending today, inclusive: from the day after the same date last year."""
    return one_year_earlier(today) + timedelta(days=1), today


def _counts(records: list[ContactFact], plans: list[PlanFact]) -> dict[str, Any]:
    referrals = [r for r in records if r.referral is Referral.REFERRAL]
    re_referrals = sum(1 for r in referrals if r.re_referral)
    decided = [r for r in records if r.decided_at is not None and r.due_at is not None]
    within = sum(
        1 for r in decided if r.decided_at is not None and r.due_at is not None and r.decided_at <= r.due_at
    )
    return {
        "contacts": len(records),
        "referrals": len(referrals),
        "conversion_rate": rate(len(referrals), len(records)),
        "re_referrals": re_referrals,
        "re_referral_rate": rate(re_referrals, len(referrals)),
        "linked_to_open_case": sum(1 for r in records if r.referral is Referral.LINKED_TO_OPEN_CASE),
        "referrals_nfa": sum(1 for r in referrals if r.nfa),
        "contacts_nfa": sum(1 for r in records if r.route is Route.UNIVERSAL),
        "cp_plans_started": len(plans),
        "cp_plans_second_or_subsequent": sum(1 for p in plans if p.second_or_subsequent),
        "decided_with_target": len(decided),
        "decided_within_target": within,
        "decided_within_target_rate": rate(within, len(decided)),
    }


def figures(
    records: Iterable[ContactFact], plans: Iterable[PlanFact], start: date, end: date
) -> dict[str, Any]:
    """The figures for contacts received, and plans started, from `start` to `end` inclusive."""
    in_period = [r for r in records if start <= r.received_on <= end]
    plans_in = [p for p in plans if start <= p.started_on <= end]
    result: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_counts(in_period, plans_in),
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
    result["by_month"] = {key: _counts(rs, ps) for key, (rs, ps) in months.items()}
    return result
