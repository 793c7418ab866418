"""From a child's timeline to case records and plans: the statutory definitions, as derive applies them.

`derive(child_key, timeline, ruleset)` walks everything known about one child in event-time
order; `apply(state, child_key, entry, ruleset)` adds one entry and says which records to publish.
The definitions being tested (docs: domain primer, "The numbers everyone is judged on"):

- a referral is a contact accepted by social care for a child with no open case; it opens a case
  whose id is the referral's contact id;
- a contact about a child whose case is open is linked to that case: not a referral, and so not
  a re-referral either;
- a re-referral is a referral with a previous referral on or after the same calendar date one year
  earlier (29 February maps to 28 February), by the Europe/London date the contact was received;
- a case closes when the case system says so; "no further action" belongs to the referral;
- a child protection plan is "second or subsequent" if the child had any earlier plan, however long ago;
- everything is by event time, so the order in which events are processed changes nothing.

Every expected value below is worked out by hand from those rules and the default ruleset
(level 3 -> amber, social care; level 2 -> green, early help; level 1 -> blue, universal;
level 4 -> red, social care; 3 contacts in 90 days raise by 1; an open case is at least level 3;
a previous plan raises by 1).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from mash.domain.case import CaseRecord, CaseState, PlanRecord, ReasonKind, Referral, TrailItem
from mash.domain.child import ChildState, Step, apply
from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.derive import Derived, derive, derive_appended
from mash.domain.outcomes import OutcomeType
from mash.domain.ruleset import Rag, Route, Ruleset, load_ruleset
from mash.domain.timeline import ChildTimeline, ContactEntry, DecisionEntry, Entry, OutcomeEntry, order

RULESET = load_ruleset()
CHILD = "ck-fictional-child"
SIBLING = "ck-fictional-sibling"

LEVEL_1 = ("no_unmet_needs",)
LEVEL_2 = ("missed_health_checks",)
LEVEL_3 = ("persistent_absence",)
LEVEL_4 = ("non_mobile_baby_injury",)

TUESDAY_1030 = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)  # GMT, so 10:30 in London too
T = TUESDAY_1030
AMBER_DUE = datetime(2026, 3, 11, 10, 30, tzinfo=UTC)  # one working day after Tuesday 10:30
SOCIAL_CARE_S17 = "Children's social care assessment (child in need, s17)"


# --- building a child's timeline -----------------------------------------------------------------


def contact(
    contact_id: str,
    at: datetime = T,
    indicators: tuple[str, ...] = LEVEL_3,
    *,
    consent: ConsentStatus = ConsentStatus.GIVEN,
    consent_reason: ConsentReason | None = None,
    children_in_submission: int = 1,
) -> ContactEntry:
    """A police contact about the child, received at `at` (level 3 unless told otherwise)."""
    return ContactEntry(
        id=contact_id,
        at=at,
        accepted_at=at + timedelta(seconds=2),
        agency="police",
        source=CinSource.POLICE,
        indicators=indicators,
        consent_status=consent,
        consent_reason=consent_reason,
        children_in_submission=children_in_submission,
    )


def case_closed(outcome_id: str, at: datetime, *, nfa: bool = False) -> OutcomeEntry:
    return OutcomeEntry(id=outcome_id, at=at, type=OutcomeType.CASE_CLOSED, nfa=nfa)


def plan_started(outcome_id: str, at: datetime) -> OutcomeEntry:
    return OutcomeEntry(id=outcome_id, at=at, type=OutcomeType.CP_PLAN_STARTED, nfa=False)


def plan_ended(outcome_id: str, at: datetime) -> OutcomeEntry:
    return OutcomeEntry(id=outcome_id, at=at, type=OutcomeType.CP_PLAN_ENDED, nfa=False)


def decision(
    decision_id: str,
    contact_id: str,
    at: datetime,
    action: DecisionAction,
    *,
    role: Role = Role.COORDINATOR,
    by: str = "coordinator-7",
    level: int | None = None,
    rag: Rag | None = None,
    signs_off: str | None = None,
    rationale: str = "Discussed with the referrer; recorded in the case notes.",
) -> DecisionEntry:
    """A decision as it arrives on the topic: validated as a DecisionEvent first."""
    event = DecisionEvent(
        decision_id=decision_id,
        contact_id=contact_id,
        child_key=CHILD,
        action=action,
        decided_at=at,
        by=by,
        role=role,
        level=level,
        rag=rag,
        rationale=rationale,
        signs_off=signs_off,
    )
    return DecisionEntry.of(event)


def confirm(
    decision_id: str, contact_id: str, at: datetime, *, role: Role = Role.COORDINATOR
) -> DecisionEntry:
    return decision(decision_id, contact_id, at, DecisionAction.CONFIRM, role=role)


def change(
    decision_id: str,
    contact_id: str,
    at: datetime,
    *,
    level: int | None = None,
    rag: Rag | None = None,
    role: Role = Role.COORDINATOR,
) -> DecisionEntry:
    by = "manager-2" if role is Role.MANAGER else "coordinator-7"
    return decision(
        decision_id, contact_id, at, DecisionAction.CHANGE, role=role, by=by, level=level, rag=rag
    )


def sign_off(decision_id: str, contact_id: str, at: datetime, signs_off: str) -> DecisionEntry:
    return decision(
        decision_id,
        contact_id,
        at,
        DecisionAction.SIGN_OFF,
        role=Role.MANAGER,
        by="manager-2",
        signs_off=signs_off,
    )


def timeline(*entries: Entry) -> ChildTimeline:
    result = ChildTimeline()
    for entry in entries:
        result = result.with_entry(entry)
    return result


def derived(*entries: Entry, child_key: str = CHILD) -> Derived:
    return derive(child_key, timeline(*entries), RULESET)


def records(*entries: Entry) -> dict[str, CaseRecord]:
    return derived(*entries).records


def record(contact_id: str, *entries: Entry) -> CaseRecord:
    return records(*entries)[contact_id]


def apply_all(*entries: Entry, state: ChildState | None = None) -> ChildState:
    state = state if state is not None else ChildState()
    for entry in entries:
        state = apply(state, CHILD, entry, RULESET).state
    return state


def at_noon(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 12, 0, tzinfo=UTC)


def rules(rec: CaseRecord) -> list[str]:
    return [r.rule for r in rec.reasons]


def published_keys(step: Step) -> list[str]:
    return [p.key for p in step.publish]


# --- referral and the open case ------------------------------------------------------------------


def test_a_social_care_contact_for_a_child_with_no_open_case_is_a_referral_that_opens_a_case_named_after_it():
    rec = record("ct-first", contact("ct-first"))

    assert (rec.level, rec.rag, rec.route, rec.pathway) == (3, Rag.AMBER, Route.SOCIAL_CARE, SOCIAL_CARE_S17)
    assert rec.referral is Referral.REFERRAL
    assert rec.case_id == "ct-first"
    assert rec.re_referral is False
    assert rec.state is CaseState.AWAITING_DECISION
    assert (rec.decided_at, rec.nfa, rec.case_closed_at, rec.trail) == (None, None, None, ())
    assert rules(rec) == ["persistent_absence"]


def test_a_social_care_contact_while_the_case_is_open_is_linked_to_it_not_a_referral_nor_a_re_referral():
    recs = records(contact("ct-first"), contact("ct-second", T + timedelta(days=3)))

    second = recs["ct-second"]
    assert second.referral is Referral.LINKED_TO_OPEN_CASE
    assert second.case_id == "ct-first"
    assert second.re_referral is False
    # 2 contacts in 90 days: no repeat-contacts raise; the open case supports level 3.
    assert second.level == 3
    assert rules(second) == ["persistent_absence", "open_case", "linked_to_open_case"]
    linked = next(r for r in second.reasons if r.rule == "linked_to_open_case")
    assert (linked.kind, linked.text) == (ReasonKind.ROUTE, "Linked to the child's open social care case")
    assert recs["ct-first"].referral is Referral.REFERRAL


@pytest.mark.parametrize(
    ("indicators", "level"), [(LEVEL_1, 3), (LEVEL_2, 3), (LEVEL_4, 4)], ids=["level 1", "level 2", "level 4"]
)
def test_any_contact_while_the_case_is_open_is_linked_because_the_open_case_makes_it_level_3_at_least(
    indicators: tuple[str, ...], level: int
):
    rec = record("ct-second", contact("ct-first"), contact("ct-second", T + timedelta(days=3), indicators))

    assert (rec.level, rec.referral, rec.case_id) == (level, Referral.LINKED_TO_OPEN_CASE, "ct-first")


@pytest.mark.parametrize(
    ("indicators", "route"), [(LEVEL_2, Route.EARLY_HELP), (LEVEL_1, Route.UNIVERSAL)], ids=["l2", "l1"]
)
def test_early_help_and_universal_contacts_are_not_referrals_and_open_no_case(
    indicators: tuple[str, ...], route: Route
):
    recs = records(
        contact("ct-not-social-care", T, indicators),
        contact("ct-later", T + timedelta(days=100)),
    )

    first = recs["ct-not-social-care"]
    assert (first.route, first.referral, first.case_id, first.re_referral) == (
        route,
        Referral.NOT_REFERRED,
        None,
        False,
    )
    later = recs["ct-later"]
    assert (later.referral, later.case_id, later.re_referral) == (Referral.REFERRAL, "ct-later", False)


# --- re-referral ---------------------------------------------------------------------------------


def re_referral_after(previous: datetime, now: datetime) -> CaseRecord:
    """The record of a referral at `now` for a child referred at `previous`, whose case then closed."""
    rec = record(
        "ct-again",
        contact("ct-before", previous),
        case_closed("oc-before-closed", previous + timedelta(hours=1)),
        contact("ct-again", now),
    )
    assert (rec.referral, rec.case_id) == (Referral.REFERRAL, "ct-again")
    return rec


def test_a_previous_referral_on_the_same_calendar_date_one_year_earlier_makes_a_re_referral():
    rec = re_referral_after(at_noon(date(2026, 3, 10)), at_noon(date(2027, 3, 10)))

    assert rec.re_referral is True
    reason = next(r for r in rec.reasons if r.rule == "re_referral")
    assert reason.kind is ReasonKind.ROUTE
    assert reason.text == "Re-referral: the child was referred to social care within the last 12 months"


def test_a_previous_referral_one_day_more_than_a_year_earlier_is_not_a_re_referral():
    rec = re_referral_after(at_noon(date(2026, 3, 9)), at_noon(date(2027, 3, 10)))

    assert rec.re_referral is False
    assert "re_referral" not in rules(rec)


def test_a_29_february_referral_looks_back_to_28_february_the_year_before():
    received = at_noon(date(2028, 2, 29))

    assert re_referral_after(at_noon(date(2027, 2, 28)), received).re_referral is True
    assert re_referral_after(at_noon(date(2027, 2, 27)), received).re_referral is False


def test_around_a_29_february_the_window_is_still_the_same_calendar_date():
    previous = at_noon(date(2028, 2, 29))

    # 28 Feb 2029 looks back to 28 Feb 2028, so 29 Feb 2028 is inside; 1 Mar 2029 looks back to 1 Mar 2028.
    assert re_referral_after(previous, at_noon(date(2029, 2, 28))).re_referral is True
    assert re_referral_after(previous, at_noon(date(2029, 3, 1))).re_referral is False


def test_exactly_12_months_is_by_calendar_date_not_by_hours_or_365_days():
    # 10 Mar 2027 09:00 -> 10 Mar 2028 16:00 is 366 days and 7 hours (2028 is a leap year),
    # but the previous referral is on the same calendar date a year earlier, so it counts.
    now = datetime(2028, 3, 10, 16, 0, tzinfo=UTC)

    assert re_referral_after(datetime(2027, 3, 10, 9, 0, tzinfo=UTC), now).re_referral is True
    # A minute before midnight on the day before is outside, however close in hours.
    assert re_referral_after(datetime(2027, 3, 9, 23, 59, tzinfo=UTC), now).re_referral is False


def test_a_referral_on_the_same_day_its_previous_case_closed_is_a_re_referral():
    day = date(2026, 3, 10)
    morning = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

    recs = records(
        contact("ct-first", morning),
        case_closed("oc-closed", morning + timedelta(hours=2)),
        contact("ct-again", at_noon(day) + timedelta(hours=2)),
    )

    again = recs["ct-again"]
    assert (again.referral, again.case_id, again.re_referral) == (Referral.REFERRAL, "ct-again", True)
    assert recs["ct-first"].state is CaseState.CLOSED


def test_a_contact_at_the_same_instant_its_case_closes_is_a_new_referral_not_linked():
    closes_at = T + timedelta(days=1)

    recs = records(contact("ct-first"), case_closed("oc-closed", closes_at), contact("ct-again", closes_at))

    assert recs["ct-first"].case_closed_at == closes_at
    assert (recs["ct-again"].referral, recs["ct-again"].re_referral) == (Referral.REFERRAL, True)


def test_the_referral_date_is_the_london_date_23_30_utc_on_30_june_is_1_july():
    # 00:30 BST on 1 July 2026 looks back to 1 July 2025, so 30 June 2025 is outside.
    # (By the UTC date, 30 June 2026, it would be inside.)
    received = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)

    assert re_referral_after(at_noon(date(2025, 6, 30)), received).re_referral is False


def test_a_previous_referral_at_23_30_utc_on_30_june_was_on_1_july_in_london():
    # Referred 00:30 BST on 1 July 2025; referred again on 1 July 2026: the same calendar date.
    # (By the UTC date, 30 June 2025, it would be outside.)
    previous = datetime(2025, 6, 30, 23, 30, tzinfo=UTC)

    assert re_referral_after(previous, at_noon(date(2026, 7, 1))).re_referral is True


def test_in_winter_the_london_date_is_the_utc_date():
    # 23:30 GMT on 30 December is still 30 December, which looks back to 30 December.
    received = datetime(2026, 12, 30, 23, 30, tzinfo=UTC)

    assert re_referral_after(at_noon(date(2025, 12, 30)), received).re_referral is True


# --- case closed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nfa", [True, False], ids=["nfa", "not nfa"])
def test_a_case_closed_closes_the_referral_and_its_linked_contacts_and_sets_nfa_on_the_referral_only(
    nfa: bool,
):
    closed_at = T + timedelta(days=20)

    recs = records(
        contact("ct-early-help", T - timedelta(days=100), LEVEL_2),
        contact("ct-referral", T),
        contact("ct-linked", T + timedelta(days=5), LEVEL_1),
        case_closed("oc-closed", closed_at, nfa=nfa),
    )

    referral, linked, early_help = recs["ct-referral"], recs["ct-linked"], recs["ct-early-help"]
    assert (referral.state, referral.case_closed_at, referral.nfa, referral.imm_agenda) == (
        CaseState.CLOSED,
        closed_at,
        nfa,
        False,
    )
    assert (linked.case_id, linked.state, linked.case_closed_at, linked.nfa, linked.imm_agenda) == (
        "ct-referral",
        CaseState.CLOSED,
        closed_at,
        None,
        False,
    )
    assert (early_help.state, early_help.case_closed_at, early_help.nfa, early_help.imm_agenda) == (
        CaseState.AWAITING_DECISION,
        None,
        None,
        True,
    )


def test_a_case_closed_only_closes_the_case_open_at_its_time():
    recs = records(
        contact("ct-first", T),
        case_closed("oc-first-closed", T + timedelta(days=10)),
        contact("ct-second", T + timedelta(days=200)),
    )

    assert recs["ct-first"].state is CaseState.CLOSED
    assert (recs["ct-second"].state, recs["ct-second"].case_closed_at) == (CaseState.AWAITING_DECISION, None)


def test_an_outcome_processed_before_its_contact_gives_the_same_result_as_the_natural_order():
    closure = case_closed("oc-closed", T + timedelta(days=10), nfa=True)
    referral = contact("ct-referral", T)

    natural = apply_all(referral, closure)
    first = apply(ChildState(), CHILD, closure, RULESET)
    then = apply(first.state, CHILD, referral, RULESET)

    assert first.publish == []  # nothing to close yet
    assert then.state.timeline == natural.timeline
    assert then.state.published == natural.published
    rec = then.publish[0].record
    assert isinstance(rec, CaseRecord)
    assert (rec.contact_id, rec.state, rec.nfa, rec.case_closed_at) == (
        "ct-referral",
        CaseState.CLOSED,
        True,
        T + timedelta(days=10),
    )
    assert derive(CHILD, then.state.timeline, RULESET) == derive(CHILD, natural.timeline, RULESET)


def test_a_case_closed_with_no_open_case_at_its_time_changes_nothing_but_is_kept_in_the_timeline():
    before = apply_all(contact("ct-early-help", T, LEVEL_2))

    step = apply(before, CHILD, case_closed("oc-stray", T + timedelta(days=1)), RULESET)

    assert step.publish == []
    assert step.state.timeline.has("oc-stray")
    assert derive(CHILD, step.state.timeline, RULESET) == derive(CHILD, before.timeline, RULESET)


def test_a_kept_closure_takes_effect_when_a_late_contact_opens_a_case_before_it():
    # The closure at T+1d found no open case. A contact received at T-1d, processed later, opens
    # one; the early-help contact at T is then linked to it (open case: level 3), and both close.
    state = apply_all(contact("ct-early-help", T, LEVEL_2), case_closed("oc-closed", T + timedelta(days=1)))

    step = apply(state, CHILD, contact("ct-late", T - timedelta(days=1)), RULESET)

    assert sorted(published_keys(step)) == ["ct-early-help", "ct-late"]
    recs = derive(CHILD, step.state.timeline, RULESET).records
    assert (recs["ct-late"].referral, recs["ct-late"].state) == (Referral.REFERRAL, CaseState.CLOSED)
    early_help = recs["ct-early-help"]
    assert (early_help.level, early_help.referral, early_help.case_id) == (
        3,
        Referral.LINKED_TO_OPEN_CASE,
        "ct-late",
    )
    assert (early_help.state, early_help.case_closed_at) == (CaseState.CLOSED, T + timedelta(days=1))


# --- child protection plans ----------------------------------------------------------------------


def test_a_second_child_protection_plan_is_second_or_subsequent_however_long_ago_the_first():
    first_started, first_ended = datetime(2016, 1, 10, tzinfo=UTC), datetime(2017, 6, 1, tzinfo=UTC)

    plans = derived(
        plan_started("oc-plan-1", first_started),
        plan_ended("oc-plan-1-ended", first_ended),
        plan_started("oc-plan-2", T),
    ).plans

    assert plans == {
        "plan-oc-plan-1": PlanRecord(
            plan_id="plan-oc-plan-1",
            child_key=CHILD,
            started_at=first_started,
            ended_at=first_ended,
            second_or_subsequent=False,
        ),
        "plan-oc-plan-2": PlanRecord(
            plan_id="plan-oc-plan-2", child_key=CHILD, started_at=T, ended_at=None, second_or_subsequent=True
        ),
    }


def test_a_first_plan_reported_after_a_later_one_still_makes_the_later_one_second():
    state = apply_all(plan_started("oc-plan-2026", T), plan_started("oc-plan-2016", T - timedelta(days=3650)))

    plans = derive(CHILD, state.timeline, RULESET).plans
    assert plans["plan-oc-plan-2016"].second_or_subsequent is False
    assert plans["plan-oc-plan-2026"].second_or_subsequent is True


def test_cp_plan_ended_sets_the_open_plans_end_time_once():
    plans = derived(
        plan_started("oc-plan", T),
        plan_ended("oc-ended", T + timedelta(days=200)),
        plan_ended("oc-ended-again", T + timedelta(days=300)),
    ).plans

    assert plans["plan-oc-plan"].ended_at == T + timedelta(days=200)


def test_cp_plan_ended_with_no_open_plan_changes_nothing():
    assert derived(plan_ended("oc-ended", T)).plans == {}


def test_a_previous_plan_raises_a_later_contact_by_one_level():
    rec = record(
        "ct-after", plan_started("oc-plan", datetime(2019, 5, 1, tzinfo=UTC)), contact("ct-after", T, LEVEL_2)
    )

    assert (rec.screened_level, rec.route, rec.referral) == (3, Route.SOCIAL_CARE, Referral.REFERRAL)
    assert "previous_cp_plan" in rules(rec)


# --- decisions -----------------------------------------------------------------------------------


def test_a_confirm_moves_the_case_to_decided_and_records_a_trail_item():
    decided_at = T + timedelta(hours=1)

    rec = record("ct-1", contact("ct-1"), confirm("dc-1", "ct-1", decided_at))

    assert (rec.state, rec.decided_at, rec.level, rec.rag) == (CaseState.DECIDED, decided_at, 3, Rag.AMBER)
    assert rec.trail == (
        TrailItem(
            decision_id="dc-1",
            at=decided_at,
            by="coordinator-7",
            role=Role.COORDINATOR,
            action=DecisionAction.CONFIRM,
            from_level=3,
            to_level=3,
            from_rag=Rag.AMBER,
            to_rag=Rag.AMBER,
            rationale="Discussed with the referrer; recorded in the case notes.",
            status="applied",
        ),
    )


def test_the_first_decision_sets_decided_at_and_later_ones_add_to_the_trail():
    rec = record(
        "ct-1",
        contact("ct-1"),
        confirm("dc-1", "ct-1", T + timedelta(hours=1)),
        change("dc-2", "ct-1", T + timedelta(hours=3), rag=Rag.RED),
    )

    assert rec.decided_at == T + timedelta(hours=1)
    assert [(t.decision_id, t.status) for t in rec.trail] == [("dc-1", "applied"), ("dc-2", "applied")]


def test_raising_level_2_to_3_re_routes_it_to_social_care_as_a_referral_and_the_rag_follows_the_level():
    rec = record("ct-1", contact("ct-1", T, LEVEL_2), change("dc-1", "ct-1", T + timedelta(hours=1), level=3))

    assert (rec.screened_level, rec.screened_rag) == (2, Rag.GREEN)
    assert (rec.level, rec.rag, rec.route, rec.pathway) == (3, Rag.AMBER, Route.SOCIAL_CARE, SOCIAL_CARE_S17)
    assert (rec.referral, rec.case_id) == (Referral.REFERRAL, "ct-1")
    assert (rec.state, rec.due_at) == (CaseState.DECIDED, AMBER_DUE)
    (item,) = rec.trail
    assert (item.from_level, item.to_level, item.from_rag, item.to_rag, item.status) == (
        2,
        3,
        Rag.GREEN,
        Rag.AMBER,
        "applied",
    )


def test_a_change_giving_a_rag_keeps_that_rag_instead_of_the_levels():
    rec = record("ct-1", contact("ct-1", T, LEVEL_2), change("dc-1", "ct-1", T, level=3, rag=Rag.RED))

    assert (rec.level, rec.rag, rec.due_at) == (3, Rag.RED, T + timedelta(hours=4))


def test_a_change_of_rag_alone_keeps_the_level():
    rec = record("ct-1", contact("ct-1"), change("dc-1", "ct-1", T, rag=Rag.RED))

    assert (rec.level, rec.rag, rec.route) == (3, Rag.RED, Route.SOCIAL_CARE)


def test_lowering_a_referral_to_early_help_means_the_childs_next_social_care_contact_is_the_referral():
    recs = records(
        contact("ct-1", T),
        change("dc-1", "ct-1", T + timedelta(hours=2), level=2),
        contact("ct-2", T + timedelta(days=3)),
    )

    assert (recs["ct-1"].route, recs["ct-1"].referral, recs["ct-1"].case_id) == (
        Route.EARLY_HELP,
        Referral.NOT_REFERRED,
        None,
    )
    assert (recs["ct-2"].referral, recs["ct-2"].case_id) == (Referral.REFERRAL, "ct-2")


def test_a_coordinator_raising_a_case_to_level_4_applies_at_once():
    rec = record("ct-1", contact("ct-1"), change("dc-1", "ct-1", T, level=4))

    assert (rec.level, rec.rag, rec.awaiting_sign_off) == (4, Rag.RED, False)


def test_a_coordinator_lowering_a_level_4_case_waits_for_a_managers_sign_off():
    entries = (contact("ct-1", T, LEVEL_4), change("dc-lower", "ct-1", T + timedelta(hours=1), level=3))

    rec = record("ct-1", *entries)

    assert (rec.level, rec.rag, rec.awaiting_sign_off) == (4, Rag.RED, True)
    assert (rec.state, rec.decided_at) == (CaseState.AWAITING_DECISION, None)
    (item,) = rec.trail
    assert (item.decision_id, item.from_level, item.to_level, item.status) == (
        "dc-lower",
        4,
        3,
        "awaiting_sign_off",
    )


def test_a_managers_sign_off_then_applies_the_coordinators_lowering():
    signed_at = T + timedelta(hours=2)

    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_4),
        change("dc-lower", "ct-1", T + timedelta(hours=1), level=3),
        sign_off("dc-approve", "ct-1", signed_at, signs_off="dc-lower"),
    )

    assert (rec.level, rec.rag, rec.due_at, rec.awaiting_sign_off) == (3, Rag.AMBER, AMBER_DUE, False)
    assert (rec.state, rec.decided_at) == (CaseState.DECIDED, signed_at)
    assert (rec.screened_level, rec.screened_rag) == (4, Rag.RED)
    assert [(t.decision_id, t.action, t.role, t.from_level, t.to_level, t.status) for t in rec.trail] == [
        ("dc-lower", DecisionAction.CHANGE, Role.COORDINATOR, 4, 3, "awaiting_sign_off"),
        ("dc-approve", DecisionAction.SIGN_OFF, Role.MANAGER, 4, 3, "signed_off"),
    ]


def test_a_managers_change_to_a_level_4_case_applies_at_once():
    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_4),
        change("dc-1", "ct-1", T, level=2, role=Role.MANAGER),
    )

    assert (rec.level, rec.rag, rec.route, rec.awaiting_sign_off) == (2, Rag.GREEN, Route.EARLY_HELP, False)
    assert (rec.state, rec.referral) == (CaseState.DECIDED, Referral.NOT_REFERRED)
    assert rec.trail[0].status == "applied"


def test_a_sign_off_naming_an_unknown_decision_is_ignored():
    rec = record(
        "ct-1", contact("ct-1", T, LEVEL_4), sign_off("dc-approve", "ct-1", T, signs_off="dc-nowhere")
    )

    assert (rec.level, rec.rag, rec.state, rec.decided_at) == (4, Rag.RED, CaseState.AWAITING_DECISION, None)
    assert [(t.decision_id, t.from_level, t.to_level, t.status) for t in rec.trail] == [
        ("dc-approve", 4, 4, "ignored")
    ]


def test_a_sign_off_of_a_change_that_needed_none_is_ignored():
    rec = record(
        "ct-1",
        contact("ct-1"),
        change("dc-raise", "ct-1", T, level=4),
        sign_off("dc-approve", "ct-1", T + timedelta(hours=1), signs_off="dc-raise"),
    )

    assert rec.level == 4
    assert [t.status for t in rec.trail] == ["applied", "ignored"]


def test_a_decision_that_arrives_before_its_contact_is_applied_when_the_contact_arrives():
    state = apply_all(confirm("dc-1", "ct-1", T + timedelta(hours=1)))

    step = apply(state, CHILD, contact("ct-1"), RULESET)

    assert published_keys(step) == ["ct-1"]
    rec = step.publish[0].record
    assert isinstance(rec, CaseRecord)
    assert rec.state is CaseState.DECIDED


def test_a_universal_contact_is_closed_once_decided():
    undecided = record("ct-1", contact("ct-1", T, LEVEL_1))
    decided = record("ct-1", contact("ct-1", T, LEVEL_1), confirm("dc-1", "ct-1", T + timedelta(hours=1)))

    assert (undecided.route, undecided.state) == (Route.UNIVERSAL, CaseState.AWAITING_DECISION)
    assert (decided.state, decided.imm_agenda, decided.nfa, decided.case_closed_at) == (
        CaseState.CLOSED,
        False,
        None,
        None,
    )


def test_a_contact_lowered_to_level_1_is_closed():
    rec = record("ct-1", contact("ct-1", T, LEVEL_2), change("dc-1", "ct-1", T, level=1))

    assert (rec.level, rec.rag, rec.route, rec.state, rec.due_at) == (
        1,
        Rag.BLUE,
        Route.UNIVERSAL,
        CaseState.CLOSED,
        None,
    )


# --- the IMM agenda, consent and due times -------------------------------------------------------


@pytest.mark.parametrize(
    ("indicators", "level", "on_agenda"),
    [(LEVEL_1, 1, False), (LEVEL_2, 2, True), (LEVEL_3, 3, True), (LEVEL_4, 4, True)],
    ids=["level 1", "level 2", "level 3", "level 4"],
)
def test_levels_2_to_4_go_on_the_integrated_mid_day_meeting_agenda(
    indicators: tuple[str, ...], level: int, on_agenda: bool
):
    rec = record("ct-1", contact("ct-1", T, indicators))

    assert (rec.level, rec.imm_agenda) == (level, on_agenda)


def test_a_decided_case_stays_on_the_imm_agenda_until_it_closes():
    entries = (contact("ct-1"), confirm("dc-1", "ct-1", T + timedelta(hours=1)))

    assert record("ct-1", *entries).imm_agenda is True
    assert record("ct-1", *entries, case_closed("oc-1", T + timedelta(days=9))).imm_agenda is False


@pytest.mark.parametrize("indicators", [LEVEL_2, LEVEL_3], ids=["level 2", "level 3"])
def test_consent_not_given_at_level_2_or_3_is_a_reason_with_why_they_proceeded(indicators: tuple[str, ...]):
    rec = record(
        "ct-1",
        contact(
            "ct-1", T, indicators, consent=ConsentStatus.REFUSED, consent_reason=ConsentReason.INCREASES_RISK
        ),
    )

    reason = next(r for r in rec.reasons if r.kind is ReasonKind.CONSENT)
    assert (reason.rule, reason.text) == (
        "consent_refused",
        "Consent refused; proceeding because: increases risk",
    )
    assert (rec.consent_status, rec.consent_reason) == (ConsentStatus.REFUSED, ConsentReason.INCREASES_RISK)


def test_consent_not_given_with_no_reason_recorded_is_surfaced_not_dropped():
    rec = record("ct-1", contact("ct-1", T, LEVEL_2, consent=ConsentStatus.NOT_SOUGHT))

    reason = next(r for r in rec.reasons if r.kind is ReasonKind.CONSENT)
    assert (reason.rule, reason.text) == (
        "consent_not_sought",
        "Consent not sought; proceeding because: no reason recorded",
    )


@pytest.mark.parametrize("indicators", [LEVEL_1, LEVEL_4], ids=["level 1", "level 4"])
def test_consent_is_not_a_reason_at_level_1_or_4(indicators: tuple[str, ...]):
    rec = record(
        "ct-1",
        contact(
            "ct-1",
            T,
            indicators,
            consent=ConsentStatus.NOT_SOUGHT,
            consent_reason=ConsentReason.SIGNIFICANT_HARM,
        ),
    )

    assert ReasonKind.CONSENT not in {r.kind for r in rec.reasons}
    assert rec.consent_status is ConsentStatus.NOT_SOUGHT


def test_consent_given_adds_no_consent_reason():
    assert ReasonKind.CONSENT not in {r.kind for r in record("ct-1", contact("ct-1", T, LEVEL_2)).reasons}


def test_the_consent_reason_follows_the_decided_level():
    rec = record(
        "ct-1",
        contact(
            "ct-1",
            T,
            LEVEL_4,
            consent=ConsentStatus.NOT_SOUGHT,
            consent_reason=ConsentReason.SIGNIFICANT_HARM,
        ),
        change("dc-1", "ct-1", T, level=3, role=Role.MANAGER),
    )

    reason = next(r for r in rec.reasons if r.kind is ReasonKind.CONSENT)
    assert reason.text == "Consent not sought; proceeding because: significant harm"


def test_a_red_contact_is_due_4_clock_hours_after_receipt():
    received = datetime(2026, 11, 21, 2, 14, tzinfo=UTC)  # a Saturday night: red is worked out of hours

    rec = record("ct-1", contact("ct-1", received, LEVEL_4))

    assert rec.rag is Rag.RED
    assert rec.due_at == datetime(2026, 11, 21, 6, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("indicators", "due"),
    [
        (LEVEL_3, AMBER_DUE),  # amber: 1 working day
        (LEVEL_2, datetime(2026, 3, 13, 10, 30, tzinfo=UTC)),  # green: 3 working days, Friday
        (LEVEL_1, None),  # blue: no target
    ],
    ids=["amber", "green", "blue"],
)
def test_amber_green_and_blue_due_times_count_working_days(indicators: tuple[str, ...], due: datetime | None):
    assert record("ct-1", contact("ct-1", T, indicators)).due_at == due


def test_the_record_carries_the_contact_identity_and_the_ruleset_version():
    rec = record("ct-carry", contact("ct-carry"))

    assert (rec.contact_id, rec.child_key, rec.agency, rec.source) == (
        "ct-carry",
        CHILD,
        "police",
        CinSource.POLICE,
    )
    assert (rec.received_at, rec.accepted_at) == (T, T + timedelta(seconds=2))
    assert (rec.ruleset_version, rec.children_in_submission, rec.schema_version) == ("2026.1", 1, 1)


def test_contacts_for_several_children_in_one_submission_each_derive_from_their_own_childs_timeline():
    # One police submission names two children. The first already has an open case; the second
    # has never been referred. Each is its own contact, judged on its own child's history.
    submitted = T + timedelta(days=2)
    first = derived(
        contact("ct-open", T),
        contact("ct-sub-0", submitted, LEVEL_2, children_in_submission=2),
        child_key=CHILD,
    ).records["ct-sub-0"]
    second = derived(
        contact("ct-sub-1", submitted, LEVEL_2, children_in_submission=2), child_key=SIBLING
    ).records["ct-sub-1"]

    assert (first.child_key, first.children_in_submission) == (CHILD, 2)
    assert (first.level, first.referral, first.case_id) == (3, Referral.LINKED_TO_OPEN_CASE, "ct-open")
    assert (second.child_key, second.children_in_submission) == (SIBLING, 2)
    assert (second.level, second.referral, second.case_id) == (2, Referral.NOT_REFERRED, None)


# --- apply(): what to publish --------------------------------------------------------------------


def test_the_first_contact_publishes_its_record():
    step = apply(ChildState(), CHILD, contact("ct-1"), RULESET)

    assert step.duplicate is False
    assert published_keys(step) == ["ct-1"]
    (out,) = step.publish
    assert out.record == derive(CHILD, step.state.timeline, RULESET).records["ct-1"]
    assert out.value == out.record.model_dump_json().encode()


def test_a_duplicate_entry_changes_nothing_and_republishes_every_record_of_the_child():
    state = apply_all(
        contact("ct-1", T - timedelta(days=100), LEVEL_2),
        contact("ct-2", T),
        plan_started("oc-plan", T + timedelta(days=1)),
    )

    step = apply(state, CHILD, contact("ct-2"), RULESET)

    assert step.duplicate is True
    assert step.state == state
    assert published_keys(step) == ["ct-1", "ct-2", "plan-oc-plan"]
    current = derive(CHILD, state.timeline, RULESET)
    assert [p.record for p in step.publish] == [*current.records.values(), *current.plans.values()]


def test_a_redelivered_contact_keeps_its_first_payload():
    state = apply_all(contact("ct-dup", T, LEVEL_3))

    step = apply(state, CHILD, contact("ct-dup", T, LEVEL_4), RULESET)

    assert step.duplicate is True
    assert step.state.timeline == state.timeline
    assert [p.record.level for p in step.publish if isinstance(p.record, CaseRecord)] == [3]


def test_a_closure_republishes_the_referral_and_its_linked_contacts_but_not_unrelated_early_help():
    state = apply_all(
        contact("ct-early-help", T - timedelta(days=100), LEVEL_2),
        contact("ct-referral", T),
        contact("ct-linked", T + timedelta(days=5), LEVEL_1),
    )

    step = apply(state, CHILD, case_closed("oc-closed", T + timedelta(days=20)), RULESET)

    assert step.duplicate is False
    assert published_keys(step) == ["ct-referral", "ct-linked"]
    assert [p.record.state for p in step.publish if isinstance(p.record, CaseRecord)] == [
        CaseState.CLOSED
    ] * 2


def test_a_decision_republishes_only_its_contact():
    state = apply_all(contact("ct-1", T - timedelta(days=100), LEVEL_2), contact("ct-2", T))

    step = apply(state, CHILD, confirm("dc-1", "ct-2", T + timedelta(hours=1)), RULESET)

    assert published_keys(step) == ["ct-2"]


def test_a_late_contact_republishes_the_later_records_it_changes():
    # ct-2 at T was early help. ct-1, received the day before but processed after, opens a case,
    # so ct-2 is now linked to it at level 3 and must be published again.
    state = apply_all(contact("ct-2", T, LEVEL_2))

    step = apply(state, CHILD, contact("ct-1", T - timedelta(days=1)), RULESET)

    assert published_keys(step) == ["ct-1", "ct-2"]
    ct2 = step.publish[1].record
    assert isinstance(ct2, CaseRecord)
    assert (ct2.level, ct2.referral, ct2.case_id) == (3, Referral.LINKED_TO_OPEN_CASE, "ct-1")


def test_an_entry_that_changes_no_record_publishes_nothing():
    state = apply_all(contact("ct-1"))

    step = apply(state, CHILD, confirm("dc-1", "ct-unknown", T), RULESET)

    assert (step.duplicate, step.publish) == (False, [])
    assert step.state.timeline.has("dc-1")


# --- the key guarantee: any interleaving gives the same figures ----------------------------------

START = datetime(2025, 1, 1, tzinfo=UTC)
TWO_YEARS_IN_HOURS = 2 * 365 * 24
INDICATOR_CHOICES = (
    "no_unmet_needs",
    "missed_health_checks",
    "young_carer",
    "family_poverty_impact",
    "persistent_absence",
    "chronic_neglect",
    "domestic_abuse_in_home",
    "parental_mental_health_significant",
    "parental_substance_misuse_significant",
    "non_mobile_baby_injury",
    "not_in_the_ruleset",
)

# The same instant may arrive written in any UTC offset (a partner's local time, say).
OFFSETS = (UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5)))
instants = st.builds(
    lambda hours, offset: (START + timedelta(hours=hours)).astimezone(offset),
    st.integers(min_value=0, max_value=TWO_YEARS_IN_HOURS),
    st.sampled_from(OFFSETS),
)


@st.composite
def child_events(draw: st.DrawFn) -> list[Entry]:
    """A small random history of one child: contacts, outcomes, and decisions about the contacts."""
    entries: list[Entry] = []
    contact_ids = [f"ct-{i}" for i in range(draw(st.integers(min_value=1, max_value=6)))]
    for contact_id in contact_ids:
        consent = draw(st.sampled_from(list(ConsentStatus)))
        entries.append(
            contact(
                contact_id,
                draw(instants),
                tuple(draw(st.lists(st.sampled_from(INDICATOR_CHOICES), min_size=1, max_size=3))),
                consent=consent,
                consent_reason=None if consent is ConsentStatus.GIVEN else ConsentReason.HARMFUL_DELAY,
            )
        )
    for i in range(draw(st.integers(min_value=0, max_value=5))):
        kind = draw(st.sampled_from(list(OutcomeType)))
        nfa = draw(st.booleans()) if kind is OutcomeType.CASE_CLOSED else False
        entries.append(OutcomeEntry(id=f"oc-{i}", at=draw(instants), type=kind, nfa=nfa))
    about_contact: dict[str, str] = {}  # decision id -> the contact it is about
    for i in range(draw(st.integers(min_value=0, max_value=5))):
        decision_id, at = f"dc-{i}", draw(instants)
        action = draw(st.sampled_from(list(DecisionAction)))
        if action is DecisionAction.SIGN_OFF:
            # Usually approves an earlier decision about the same contact; sometimes names none.
            named = draw(st.sampled_from([*about_contact, "dc-unknown"]))
            about = about_contact.get(named) or draw(st.sampled_from(contact_ids))
            entries.append(sign_off(decision_id, about, at, signs_off=named))
        else:
            about = draw(st.sampled_from([*contact_ids, "ct-unknown"]))
            role = draw(st.sampled_from(list(Role)))
            if action is DecisionAction.CONFIRM:
                entries.append(confirm(decision_id, about, at, role=role))
            else:
                level = draw(st.none() | st.integers(min_value=1, max_value=4))
                rags = st.sampled_from(list(Rag))
                rag = draw(rags if level is None else st.none() | rags)
                entries.append(change(decision_id, about, at, role=role, level=level, rag=rag))
        about_contact[decision_id] = about
    if draw(st.booleans()):
        # A coordinator lowers a contact (which may be at level 4) and a manager signs it off.
        about, lower_to = draw(st.sampled_from(contact_ids)), draw(st.integers(min_value=1, max_value=3))
        entries.append(change("dc-lower", about, draw(instants), level=lower_to))
        entries.append(sign_off("dc-approve", about, draw(instants), signs_off="dc-lower"))
    return entries


def replay(entries: list[Entry]) -> tuple[ChildState, dict[str, bytes]]:
    """Applies the entries one by one; returns the final state and what a reader keeping the
    latest record per key would hold."""
    state, latest = ChildState(), {}
    for entry in entries:
        step = apply(state, CHILD, entry, RULESET)
        assert step.duplicate is False
        latest.update({p.key: p.value for p in step.publish})
        state = step.state
    return state, latest


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(child_events().flatmap(lambda entries: st.tuples(st.just(entries), st.permutations(entries))))
def test_applying_a_childs_events_in_any_order_gives_the_same_records_and_plans_as_event_time_order(
    case: tuple[list[Entry], list[Entry]],
):
    entries, shuffled = case
    note(f"processing order: {[e.id for e in shuffled]}")

    expected_state, expected_latest = replay(sorted(entries, key=order))
    state, latest = replay(shuffled)

    expected = derive(CHILD, expected_state.timeline, RULESET)
    got = derive(CHILD, state.timeline, RULESET)
    assert got.records == expected.records
    assert got.plans == expected.plans
    # What the figures are built from: the latest record per key that was published.
    assert latest == expected_latest
    everything = {**expected.records, **expected.plans}
    assert latest == {key: rec.model_dump_json().encode() for key, rec in everything.items()}


def test_event_time_order_is_by_instant_whatever_the_time_zone_a_timestamp_is_written_in():
    # On 25 October 2026 the clocks go back at 02:00 BST, so 01:30 happens twice in London.
    # By instant: ct-b (00:30 UTC), then ct-c (01:00 UTC), then ct-a (01:30 UTC). Both early-help
    # contacts come before the referral, so neither is linked to its case.
    london = ZoneInfo("Europe/London")
    ct_a = contact("ct-a", datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=london), LEVEL_3)  # 01:30 GMT
    ct_b = contact("ct-b", datetime(2026, 10, 25, 1, 30, fold=0, tzinfo=london), LEVEL_2)  # 01:30 BST
    ct_c = contact("ct-c", datetime(2026, 10, 25, 1, 0, tzinfo=UTC), LEVEL_2)
    assert ct_b.at.timestamp() < ct_c.at.timestamp() < ct_a.at.timestamp()

    for processing in itertools.permutations([ct_a, ct_b, ct_c]):
        state = apply_all(*processing)
        referrals = {k: r.referral for k, r in derive(CHILD, state.timeline, RULESET).records.items()}

        assert [e.id for e in state.timeline.entries] == ["ct-b", "ct-c", "ct-a"], [e.id for e in processing]
        assert referrals == {
            "ct-b": Referral.NOT_REFERRED,
            "ct-c": Referral.NOT_REFERRED,
            "ct-a": Referral.REFERRAL,
        }


# --- a child's newest contact, derived from where the last walk ended ----------------------------


def appended(state: ChildState, entry: Entry, ruleset: Ruleset = RULESET) -> CaseRecord | None:
    """The newest contact's record from the cursor alone, or None if the timeline must be walked."""
    result = derive_appended(CHILD, state.timeline, entry, state.cursor, ruleset)
    return None if result is None else result[0]


def test_a_childs_newest_contact_is_derived_from_the_cursor_as_walking_the_timeline_would():
    # A referral, a child protection plan, then a contact: linked to the open case, raised by
    # the open case and the previous plan, all without screening the earlier contact again.
    state = apply_all(
        contact("ct-1", T - timedelta(days=30)), plan_started("oc-plan", T - timedelta(days=20))
    )
    newest = contact("ct-2", T, LEVEL_2)

    record = appended(state, newest)

    assert record is not None
    assert record == derive(CHILD, state.timeline.with_entry(newest), RULESET).records["ct-2"]
    assert (record.referral, record.case_id, record.level) == (Referral.LINKED_TO_OPEN_CASE, "ct-1", 4)


def test_a_re_referral_is_found_from_the_cursors_referral_dates():
    state = apply_all(contact("ct-1", T - timedelta(days=200)), case_closed("oc-1", T - timedelta(days=100)))
    assert state.cursor is not None
    assert (state.cursor.open_case, state.cursor.referral_dates) == (None, (date(2025, 8, 22),))

    record = appended(state, contact("ct-2", T))

    assert record is not None
    assert (record.referral, record.re_referral) == (Referral.REFERRAL, True)


@pytest.mark.parametrize(
    ("why", "entry"),
    [
        ("a contact landing before the child's latest event", contact("ct-late", T - timedelta(days=1))),
        ("an outcome", case_closed("oc-1", T + timedelta(days=1))),
        ("a decision", confirm("dc-1", "ct-1", T + timedelta(days=1))),
        ("a contact already decided on", contact("ct-decided", T + timedelta(days=2))),
    ],
)
def test_anything_but_a_newest_undecided_contact_walks_the_whole_timeline(why: str, entry: Entry):
    state = apply_all(contact("ct-1", T), confirm("dc-early", "ct-decided", T + timedelta(days=1)))

    assert appended(state, entry) is None, why


def test_a_cursor_from_another_ruleset_or_none_walks_the_whole_timeline():
    state = apply_all(contact("ct-1", T - timedelta(days=1)))
    edited = Ruleset.model_validate({**RULESET.model_dump(), "name": "edited, same version"})
    newest = contact("ct-2", T)

    assert appended(state, newest) is not None
    assert edited.version == RULESET.version
    assert appended(state, newest, edited) is None
    # State written before the cursor was kept has none.
    assert appended(state.model_copy(update={"cursor": None}), newest) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(child_events().flatmap(st.permutations))
def test_applying_with_the_cursor_gives_the_same_steps_as_walking_the_whole_timeline_each_time(
    entries: list[Entry],
):
    state = ChildState()
    for entry in entries:
        step = apply(state, CHILD, entry, RULESET)
        walked = apply(state.model_copy(update={"cursor": None}), CHILD, entry, RULESET)
        assert step.publish == walked.publish
        assert step.state == walked.state
        state = step.state
