"""Triage of one contact: screen it, route it, and update what we know of the child.

`triage` is the whole decision, as one pure function, so the streaming agent only has to
read the child's history, call it, and write the results. Processing the same contact
twice returns the first decision and leaves the history unchanged, which is what makes
at-least-once delivery safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from mash.domain.calendar import due_at
from mash.domain.case import CaseRecord, Reason, ReasonKind, Referral
from mash.domain.contact import ConsentStatus, ContactEvent
from mash.domain.history import ChildHistory, OpenCase
from mash.domain.ruleset import Route, Ruleset
from mash.domain.screening import screen

LOCAL = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Triage:
    record: CaseRecord
    history: ChildHistory
    duplicate: bool


def one_year_earlier(d: date) -> date:
    """The same calendar date a year before; 29 February maps to 28 February."""
    if d.month == 2 and d.day == 29:
        return date(d.year - 1, 2, 28)
    return d.replace(year=d.year - 1)


def is_re_referral(previous_referrals: tuple[date, ...], referred_on: date) -> bool:
    """A referral is a re-referral if the child had a referral within the 12 months before it:
    on or after the same calendar date one year earlier."""
    since = one_year_earlier(referred_on)
    return any(since <= earlier <= referred_on for earlier in previous_referrals)


def _consent_reason(event: ContactEvent, level: int) -> Reason | None:
    if event.consent.status is ConsentStatus.GIVEN or level not in (2, 3):
        return None
    why = event.consent.reason.value.replace("_", " ") if event.consent.reason else "no reason recorded"
    return Reason(
        kind=ReasonKind.CONSENT,
        rule=f"consent_{event.consent.status.value}",
        text=f"Consent {event.consent.status.value.replace('_', ' ')}; proceeding because: {why}",
    )


def triage(event: ContactEvent, history: ChildHistory, ruleset: Ruleset) -> Triage:
    earlier = history.decided(event.contact_id)
    if earlier is not None:
        return Triage(record=earlier, history=history, duplicate=True)

    screening = screen(event.indicators, history, event.received_at, ruleset)
    route_to = ruleset.routes[screening.level]
    reasons = list(screening.reasons)
    consent = _consent_reason(event, screening.level)
    if consent:
        reasons.append(consent)

    referral = Referral.NOT_REFERRED
    case_id: str | None = None
    re_referral = False
    open_case = history.open_case
    referral_dates = history.referral_dates
    received_on = event.received_at.astimezone(LOCAL).date()
    if route_to.route is Route.SOCIAL_CARE:
        if open_case is not None:
            referral, case_id = Referral.LINKED_TO_OPEN_CASE, open_case.case_id
            reasons.append(
                Reason(
                    kind=ReasonKind.ROUTE, rule="linked_to_open_case", text="Linked to the child's open case"
                )
            )
        else:
            referral, case_id = Referral.REFERRAL, event.contact_id
            re_referral = is_re_referral(referral_dates, received_on)
            open_case = OpenCase(case_id=case_id, opened_at=event.received_at)
            referral_dates = (*referral_dates, received_on)
            if re_referral:
                reasons.append(
                    Reason(
                        kind=ReasonKind.ROUTE,
                        rule="re_referral",
                        text="Re-referral: the child was referred to social care within the last 12 months",
                    )
                )

    record = CaseRecord(
        contact_id=event.contact_id,
        child_key=event.child_key,
        agency=event.agency,
        source=event.source,
        received_at=event.received_at,
        accepted_at=event.accepted_at,
        level=screening.level,
        rag=screening.rag,
        due_at=due_at(event.received_at, screening.rag.value),
        reasons=tuple(reasons),
        ruleset_version=screening.ruleset_version,
        route=route_to.route,
        pathway=route_to.pathway,
        referral=referral,
        case_id=case_id,
        re_referral=re_referral,
        imm_agenda=screening.level >= 2,
        consent_status=event.consent.status,
        consent_reason=event.consent.reason,
        children_in_submission=event.children_in_submission,
    )
    updated = history.model_copy(
        update={
            "contacts": (*history.contacts, record),
            "open_case": open_case,
            "referral_dates": referral_dates,
        }
    )
    return Triage(record=record, history=updated, duplicate=False)
