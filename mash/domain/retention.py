"""Which children's personal details the council's retention policy says to erase, and why.

The policy this service ships: a child whose every contact ended with no further action (closed
as NFA: decided universal, or a social care case closed with no further action) has their
personal details erased once `nfa_years` have passed since their last contact. A child with any
other history (early help, a referral still open or closed with services, a plan) is kept: the
council's own schedule for case records applies there, in its case management system.
Erasure destroys the child's data keys only; the pseudonymous records and the figures stay
(docs/security-and-privacy.md, "Retention").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from mash.domain.case import CaseRecord, CaseState, Referral
from mash.domain.referrals import local_date
from mash.domain.ruleset import Route


@dataclass(frozen=True)
class RetentionPolicy:
    nfa_years: int


@dataclass(frozen=True)
class Due:
    """A child due for erasure: its key, its contacts, and the reason recorded with the erasure."""

    child_key: str
    contacts: int
    last_contact: date
    reason: str


def ended_without_further_action(record: CaseRecord) -> bool:
    """Closed as no further action: decided universal (advice, signposting), or a referral whose
    social care case closed with no further action."""
    if record.state is not CaseState.CLOSED:
        return False
    return record.nfa is True or (
        record.referral is Referral.NOT_REFERRED and record.route is Route.UNIVERSAL
    )


def years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def due_for_erasure(
    records: Iterable[CaseRecord], policy: RetentionPolicy, today: date, erased: set[str]
) -> list[Due]:
    """Every child the policy says to erase today, oldest last contact first; `erased` are skipped."""
    by_child: dict[str, list[CaseRecord]] = defaultdict(list)
    for record in records:
        by_child[record.child_key].append(record)
    due = []
    for child_key, theirs in by_child.items():
        if child_key in erased or not all(ended_without_further_action(r) for r in theirs):
            continue
        last = max(local_date(r.received_at) for r in theirs)
        if years_after(last, policy.nfa_years) <= today:
            reason = (
                f"retention: every contact ended with no further action; last contact {last.isoformat()}, "
                f"over {policy.nfa_years} years ago"
            )
            due.append(Due(child_key, len(theirs), last, reason))
    return sorted(due, key=lambda d: (d.last_contact, d.child_key))
