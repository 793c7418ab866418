"""From a child's timeline to case records and plans: who decides, and the statutory definitions.

`derive(child_key, timeline, rulesets)` walks everything known about one child in event-time
order; `apply(state, child_key, entry, rulesets)` adds one entry and says which records to
publish. The rules being tested (docs: the domain primer, "Who decides" and "The numbers everyone
is judged on"; docs/figures.md):

- the screening is a recommendation (level, RAG, proposed route, reasons); a contact waits for a
  person, and is counted as waiting, never as a referral, until someone decides. By default the
  service decides one thing itself: a level 1 contact about a child with no history is closed
  as information only;
- a referral is a contact a person decided for social care for a child with no open case; it
  opens a case named after it, is dated by the contact's receipt, and records when it was decided;
- a contact about a child whose case is open is linked to that case (to the allocated worker),
  whatever level anyone gives it: not a referral, and so not a re-referral either;
- a re-referral is a referral with a previous referral on or after the same calendar date one
  year earlier (29 February maps to 28 February), by the Europe/London date of receipt;
- each contact is screened once, under the ruleset in force when it was received, and keeps it;
  only a manager's rescreen changes it, while it waits;
- a case closes when the case system says so; "no further action" belongs to the referral;
- a child protection plan is "second or subsequent" if the child had any earlier plan, however
  long ago; the case system's plan sent twice is one plan; a child on a plan has an open case;
- everything is by event time, so the order in which events are processed changes nothing.

Every expected value below is worked out by hand from those rules and the default ruleset
(level 3 -> amber, social care; level 2 -> green, early help; level 1 -> blue, universal;
level 4 -> red, social care; a third separate incident in 90 days raises by 1, at most to 3; a
plan that has ended raises by 1).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from mash.domain.case import (
    CaseRecord,
    CaseState,
    DataQuality,
    DecidedBy,
    PlanRecord,
    ReasonKind,
    Referral,
    TrailItem,
)
from mash.domain.child import ChildState, Step, apply
from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
from mash.domain.decisions import (
    NEEDS_CONSENT,
    DecisionAction,
    DecisionEvent,
    ImmOutcome,
    PartnerAgency,
    Role,
)
from mash.domain.derive import Derived, derive, derive_appended
from mash.domain.outcomes import OutcomeType
from mash.domain.ruleset import Rag, Route, Ruleset, load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildTimeline, ContactEntry, DecisionEntry, Entry, OutcomeEntry, order

RULESET = load_ruleset()  # 2026.2, in force from 1 April 2024
RULESETS = RulesetHistory.of(RULESET)
CHILD = "ck-fictional-child"

LEVEL_1 = ("no_unmet_needs",)
LEVEL_2 = ("missed_health_checks",)
LEVEL_3 = ("persistent_absence",)
LEVEL_4 = ("non_mobile_baby_injury",)
RAG_OF = {1: Rag.BLUE, 2: Rag.GREEN, 3: Rag.AMBER, 4: Rag.RED}

TUESDAY_1030 = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)  # GMT, so 10:30 in London too
T = TUESDAY_1030
AMBER_DUE = datetime(2026, 3, 11, 10, 30, tzinfo=UTC)  # one working day after Tuesday 10:30
SOCIAL_CARE_S17 = "Children's social care assessment (child in need, s17)"
LINKED = "To the allocated social worker: the child's social care case is open"


def next_year_ruleset(**changes: object) -> Ruleset:
    """Next year's thresholds: persistent absence is early help, and the FGM code is renamed."""
    data = RULESET.model_dump()
    data.update(version="2027.1", effective_from=date(2026, 4, 1))
    for indicator in data["indicators"]:
        if indicator["code"] == "persistent_absence":
            indicator["level"] = 2
        if indicator["code"] == "fgm_or_honour_based_violence":
            indicator["code"] = "fgm_risk"
    data.update(changes)
    return Ruleset.model_validate(data)


NEXT_YEAR = next_year_ruleset()
BOTH = RulesetHistory.of(RULESET, NEXT_YEAR)


# --- building a child's timeline -----------------------------------------------------------------


def contact(
    contact_id: str,
    at: datetime = T,
    indicators: tuple[str, ...] = LEVEL_3,
    *,
    consent: ConsentStatus | None = ConsentStatus.GIVEN,
    consent_reason: ConsentReason | None = None,
    referrer_reachable: bool = True,
    children_in_submission: int = 1,
    ruleset: str = RULESET.version,
) -> ContactEntry:
    """A police contact about the child, received at `at` (level 3 unless told otherwise), pinned
    to `ruleset` as the worker pins it when it first takes the contact."""
    return ContactEntry(
        id=contact_id,
        at=at,
        accepted_at=at + timedelta(seconds=2),
        agency="police",
        source=CinSource.POLICE,
        indicators=indicators,
        consent_status=consent,
        consent_reason=consent_reason,
        referrer_reachable=referrer_reachable,
        children_in_submission=children_in_submission,
        ruleset_version=ruleset,
    )


def case_closed(outcome_id: str, at: datetime, *, nfa: bool = False) -> OutcomeEntry:
    return OutcomeEntry(id=outcome_id, at=at, type=OutcomeType.CASE_CLOSED, nfa=nfa)


def plan_started(outcome_id: str, at: datetime, plan_ref: str | None = None) -> OutcomeEntry:
    return OutcomeEntry(id=outcome_id, at=at, type=OutcomeType.CP_PLAN_STARTED, nfa=False, plan_ref=plan_ref)


def plan_ended(outcome_id: str, at: datetime, plan_ref: str | None = None) -> OutcomeEntry:
    return OutcomeEntry(id=outcome_id, at=at, type=OutcomeType.CP_PLAN_ENDED, nfa=False, plan_ref=plan_ref)


def decision(
    decision_id: str,
    contact_id: str,
    at: datetime,
    action: DecisionAction,
    *,
    role: Role = Role.COORDINATOR,
    by: str = "coordinator-7",
    rationale: str = "Discussed with the referrer; recorded in the case notes.",
    **fields: object,
) -> DecisionEntry:
    """A decision as it arrives on the topic: validated as a DecisionEvent first."""
    event = DecisionEvent.model_validate(
        {
            "decision_id": decision_id,
            "contact_id": contact_id,
            "child_key": CHILD,
            "action": action,
            "decided_at": at,
            "by": by,
            "role": role,
            "rationale": rationale,
            **fields,
        }
    )
    return DecisionEntry.of(event)


def confirm(
    decision_id: str,
    contact_id: str,
    at: datetime,
    level: int = 3,
    rag: Rag | None = None,
    *,
    role: Role = Role.COORDINATOR,
) -> DecisionEntry:
    """A coordinator confirms the level (and RAG) they were shown."""
    return decision(
        decision_id, contact_id, at, DecisionAction.CONFIRM, role=role, level=level, rag=rag or RAG_OF[level]
    )


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


def rescreen(decision_id: str, contact_id: str, at: datetime, version: str) -> DecisionEntry:
    return decision(
        decision_id,
        contact_id,
        at,
        DecisionAction.RESCREEN,
        role=Role.MANAGER,
        by="manager-2",
        ruleset_version=version,
        rationale="The new thresholds came into force; screening the waiting contacts again.",
    )


def imm_outcome(decision_id: str, contact_id: str, at: datetime, outcome: ImmOutcome) -> DecisionEntry:
    return decision(
        decision_id,
        contact_id,
        at,
        DecisionAction.IMM_OUTCOME,
        meeting_id=f"imm-{at.date().isoformat()}",
        outcome=outcome,
        lead_agency=PartnerAgency.CHILDRENS_SOCIAL_CARE,
        single_agency_name="School nursing team" if outcome is ImmOutcome.SINGLE_AGENCY else None,
        consent_basis="given" if outcome in NEEDS_CONSENT else None,
    )


def referral(
    contact_id: str, at: datetime = T, *, after: timedelta = timedelta(hours=1)
) -> tuple[Entry, ...]:
    """A level 3 contact and the coordinator's confirm `after` it: a referral."""
    return contact(contact_id, at), confirm(f"dc-{contact_id}", contact_id, at + after)


def timeline(*entries: Entry) -> ChildTimeline:
    result = ChildTimeline()
    for entry in entries:
        result = result.with_entry(entry)
    return result


def derived(*entries: Entry, rulesets: RulesetHistory = RULESETS) -> Derived:
    return derive(CHILD, timeline(*entries), rulesets)


def records(*entries: Entry, rulesets: RulesetHistory = RULESETS) -> dict[str, CaseRecord]:
    return derived(*entries, rulesets=rulesets).records


def record(contact_id: str, *entries: Entry, rulesets: RulesetHistory = RULESETS) -> CaseRecord:
    return records(*entries, rulesets=rulesets)[contact_id]


def apply_all(*entries: Entry, state: ChildState | None = None) -> ChildState:
    state = state if state is not None else ChildState()
    for entry in entries:
        state = apply(state, CHILD, entry, RULESETS).state
    return state


def at_noon(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 12, 0, tzinfo=UTC)


def rules(rec: CaseRecord) -> list[str]:
    return [r.rule for r in rec.recommendation.reasons]


def published_keys(step: Step) -> list[str]:
    return [p.key for p in step.publish]


# --- the service recommends, people decide --------------------------------------------------------


def test_screening_alone_is_a_recommendation_that_waits_for_a_person_and_is_never_a_referral():
    rec = record("ct-1", contact("ct-1"))

    recommended = rec.recommendation
    assert (recommended.level, recommended.rag, recommended.route) == (3, Rag.AMBER, Route.SOCIAL_CARE)
    assert recommended.pathway == f"{SOCIAL_CARE_S17} (with the family's consent)"
    assert (recommended.ruleset_version, rules(rec)) == ("2026.2", ["persistent_absence", "consent_given"])
    assert rec.state is CaseState.AWAITING_DECISION
    assert (rec.referral, rec.case_id, rec.decided_at, rec.decided_by) == (
        Referral.NOT_REFERRED,
        None,
        None,
        None,
    )
    # The clock started at receipt.
    assert rec.due_at == AMBER_DUE


def test_a_coordinators_confirm_makes_it_a_referral_that_opens_a_case_named_after_it():
    decided_at = T + timedelta(hours=3)

    rec = record("ct-1", contact("ct-1"), confirm("dc-1", "ct-1", decided_at))

    assert (rec.state, rec.referral, rec.case_id, rec.re_referral) == (
        CaseState.DECIDED,
        Referral.REFERRAL,
        "ct-1",
        False,
    )
    assert (rec.received_at, rec.decided_at, rec.decided_by) == (T, decided_at, DecidedBy.COORDINATOR)
    assert (rec.level, rec.rag, rec.route, rec.imm_agenda) == (3, Rag.AMBER, Route.SOCIAL_CARE, True)
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


def test_a_coordinator_who_decides_early_help_instead_means_no_case_was_ever_opened():
    recs = records(
        contact("ct-1"),
        change("dc-1", "ct-1", T + timedelta(hours=2), level=2),
        contact("ct-2", T + timedelta(days=10)),
        confirm("dc-2", "ct-2", T + timedelta(days=10, hours=1)),
    )

    assert (recs["ct-1"].route, recs["ct-1"].referral, recs["ct-1"].case_id) == (
        Route.EARLY_HELP,
        Referral.NOT_REFERRED,
        None,
    )
    assert (recs["ct-2"].referral, recs["ct-2"].case_id) == (Referral.REFERRAL, "ct-2")


def test_the_meetings_outcome_is_a_persons_decision_too():
    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_2),
        imm_outcome("dc-imm", "ct-1", T + timedelta(days=1), ImmOutcome.CSC_ASSESSMENT),
    )

    assert (rec.referral, rec.route, rec.decided_by) == (Referral.REFERRAL, Route.SOCIAL_CARE, DecidedBy.IMM)
    assert rec.imm_agenda is False  # discussed


def test_by_default_the_service_closes_an_information_only_contact_about_a_child_with_no_history():
    rec = record("ct-1", contact("ct-1", T, LEVEL_1))

    assert (rec.state, rec.route, rec.decided_at, rec.decided_by) == (
        CaseState.CLOSED,
        Route.UNIVERSAL,
        T,
        DecidedBy.SERVICE,
    )
    (step,) = rec.trail
    assert (step.by, step.role, step.action, step.status) == (
        "service",
        Role.SERVICE,
        DecisionAction.CONFIRM,
        "applied",
    )
    assert step.rationale == (
        "Decided by the service, as ruleset 2026.2 allows for level 1 with no history at the service: "
        "no further action"
    )


@pytest.mark.parametrize(
    "history",
    [
        contact("ct-before", T - timedelta(days=200), LEVEL_2),
        plan_started("oc-plan", T - timedelta(days=900)),
    ],
    ids=["a contact in the last year", "a plan, however long ago"],
)
def test_an_information_only_contact_about_a_child_with_history_waits_for_a_person(history: Entry):
    rec = record("ct-1", history, contact("ct-1", T, LEVEL_1))

    assert (rec.state, rec.decided_by) == (CaseState.AWAITING_DECISION, None)


def test_a_contact_more_than_a_year_after_the_last_is_information_only_with_no_history():
    assert (
        record(
            "ct-1", contact("ct-0", T - timedelta(days=366), LEVEL_2), contact("ct-1", T, LEVEL_1)
        ).decided_by
        is DecidedBy.SERVICE
    )


def test_an_information_only_contact_with_a_code_the_ruleset_does_not_know_waits_for_a_person():
    rec = record("ct-1", contact("ct-1", T, ("no_unmet_needs", "renamed_code")))

    assert (rec.state, rec.rag, rec.data_quality) == (
        CaseState.AWAITING_DECISION,
        Rag.AMBER,
        (DataQuality.UNKNOWN_INDICATOR,),
    )
    assert rec.due_at == AMBER_DUE  # the coordinator's review clock


def test_a_council_may_have_every_contact_wait_for_a_person():
    waits = RulesetHistory.of(
        Ruleset.model_validate(
            {**RULESET.model_dump(), "version": "council-1", "service_decides": {"levels": []}}
        )
    )

    rec = record("ct-1", contact("ct-1", T, LEVEL_1, ruleset="council-1"), rulesets=waits)

    assert (rec.state, rec.decided_by) == (CaseState.AWAITING_DECISION, None)


@pytest.mark.parametrize("indicators", [LEVEL_1, LEVEL_2, LEVEL_4], ids=["level 1", "level 2", "level 4"])
def test_a_contact_while_the_childs_case_is_open_goes_to_its_allocated_worker_whatever_its_level(
    indicators: tuple[str, ...],
):
    # A school's "no unmet needs" note about a child whose case is open is not raised to level 3.
    recs = records(*referral("ct-first"), contact("ct-second", T + timedelta(days=3), indicators))

    second = recs["ct-second"]
    assert (second.recommendation.level, second.referral, second.case_id) == (
        len(indicators) and {LEVEL_1: 1, LEVEL_2: 2, LEVEL_4: 4}[indicators],
        Referral.LINKED_TO_OPEN_CASE,
        "ct-first",
    )
    assert (second.route, second.pathway, second.re_referral, second.imm_agenda) == (
        Route.SOCIAL_CARE,
        LINKED,
        False,
        False,
    )
    assert second.state is CaseState.AWAITING_DECISION  # a coordinator still passes it on
    assert "linked_to_open_case" in rules(second)


def test_a_linked_contact_stays_linked_whatever_level_a_coordinator_gives_it():
    rec = record(
        "ct-second",
        *referral("ct-first"),
        contact("ct-second", T + timedelta(days=3), LEVEL_2),
        change("dc-lower", "ct-second", T + timedelta(days=3, hours=1), level=1),
    )

    assert (rec.level, rec.referral, rec.case_id, rec.route, rec.state) == (
        1,
        Referral.LINKED_TO_OPEN_CASE,
        "ct-first",
        Route.SOCIAL_CARE,
        CaseState.DECIDED,
    )


def test_a_contact_decided_for_social_care_once_the_case_has_opened_is_linked_not_a_second_referral():
    recs = records(
        contact("ct-1", T),
        contact("ct-2", T + timedelta(hours=1)),
        confirm("dc-1", "ct-1", T + timedelta(hours=2)),
        confirm("dc-2", "ct-2", T + timedelta(hours=3)),
    )

    assert (recs["ct-1"].referral, recs["ct-1"].case_id) == (Referral.REFERRAL, "ct-1")
    assert (recs["ct-2"].referral, recs["ct-2"].case_id) == (Referral.LINKED_TO_OPEN_CASE, "ct-1")


def test_a_decision_names_what_was_decided_so_a_late_earlier_contact_never_changes_it():
    # Early help confirmed; then two earlier contacts arrive late. The recommendation becomes
    # level 3 (a third incident in 90 days), but what the coordinator decided stands.
    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_2),
        confirm("dc-1", "ct-1", T + timedelta(hours=1), level=2),
        contact("ct-late-1", T - timedelta(days=20), LEVEL_2),
        contact("ct-late-2", T - timedelta(days=10), LEVEL_2),
    )

    assert rec.recommendation.level == 3
    assert (rec.level, rec.route, rec.referral, rec.state) == (
        2,
        Route.EARLY_HELP,
        Referral.NOT_REFERRED,
        CaseState.DECIDED,
    )


def test_a_referral_later_decided_no_further_action_stays_a_referral_and_its_case_closes_with_nfa():
    later = T + timedelta(days=2)

    recs = records(
        *referral("ct-1"),
        contact("ct-linked", T + timedelta(days=1), LEVEL_2),
        imm_outcome("dc-imm", "ct-1", later, ImmOutcome.NFA),
    )

    first = recs["ct-1"]
    assert (first.referral, first.route, first.state, first.nfa, first.case_closed_at) == (
        Referral.REFERRAL,
        Route.UNIVERSAL,
        CaseState.CLOSED,
        True,
        later,
    )
    assert (recs["ct-linked"].state, recs["ct-linked"].case_closed_at) == (CaseState.CLOSED, later)


def test_lowering_a_level_4_contact_waits_for_a_managers_sign_off_and_the_contact_still_waits():
    rec = record(
        "ct-1", contact("ct-1", T, LEVEL_4), change("dc-lower", "ct-1", T + timedelta(hours=1), level=3)
    )

    assert (rec.level, rec.state, rec.awaiting_sign_off, rec.decided_at) == (
        4,
        CaseState.AWAITING_DECISION,
        True,
        None,
    )
    assert rec.trail[0].status == "awaiting_sign_off"


def test_a_managers_sign_off_applies_the_lowering_and_decides_the_contact():
    signed = T + timedelta(hours=2)

    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_4),
        change("dc-lower", "ct-1", T + timedelta(hours=1), level=3),
        sign_off("dc-sign", "ct-1", signed, "dc-lower"),
    )

    assert (rec.level, rec.rag, rec.state, rec.decided_at, rec.referral) == (
        3,
        Rag.AMBER,
        CaseState.DECIDED,
        signed,
        Referral.REFERRAL,
    )
    assert [t.status for t in rec.trail] == ["awaiting_sign_off", "signed_off"]


def test_a_managers_change_to_a_level_4_contact_applies_at_once():
    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_4),
        change("dc-1", "ct-1", T + timedelta(hours=1), level=2, role=Role.MANAGER),
    )

    assert (rec.level, rec.route, rec.state, rec.awaiting_sign_off) == (
        2,
        Route.EARLY_HELP,
        CaseState.DECIDED,
        False,
    )


@pytest.mark.parametrize(
    "signs_off", ["dc-unknown", "dc-raise"], ids=["an unknown decision", "a change that needed none"]
)
def test_a_sign_off_of_nothing_waiting_is_kept_in_the_trail_and_ignored(signs_off: str):
    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_2),
        change("dc-raise", "ct-1", T + timedelta(hours=1), level=3),
        sign_off("dc-sign", "ct-1", T + timedelta(hours=2), signs_off),
    )

    assert (rec.level, [t.status for t in rec.trail]) == (3, ["applied", "ignored"])


def test_a_change_giving_a_rag_keeps_that_rag_and_a_change_of_level_alone_takes_the_levels():
    given = record(
        "ct-1", contact("ct-1"), change("dc-1", "ct-1", T + timedelta(hours=1), level=4, rag=Rag.AMBER)
    )
    levels = record("ct-1", contact("ct-1"), change("dc-1", "ct-1", T + timedelta(hours=1), level=2))

    assert (given.level, given.rag) == (4, Rag.AMBER)
    assert (levels.level, levels.rag) == (2, Rag.GREEN)


def test_the_first_decision_sets_when_it_was_decided_and_later_ones_add_to_the_trail():
    first, second = T + timedelta(hours=1), T + timedelta(hours=5)

    rec = record(
        "ct-1", contact("ct-1"), confirm("dc-1", "ct-1", first), change("dc-2", "ct-1", second, rag=Rag.RED)
    )

    assert (rec.decided_at, rec.rag, [t.decision_id for t in rec.trail]) == (first, Rag.RED, ["dc-1", "dc-2"])


def test_a_decision_dated_before_its_contact_is_applied_when_the_contact_is_received():
    rec = record("ct-1", confirm("dc-1", "ct-1", T - timedelta(minutes=5)), contact("ct-1"))

    assert (rec.state, rec.referral) == (CaseState.DECIDED, Referral.REFERRAL)


@pytest.mark.parametrize(
    ("indicators", "imm_agenda"),
    [(LEVEL_2, True), (LEVEL_3, True), (LEVEL_4, True)],
    ids=["level 2", "level 3", "level 4"],
)
def test_levels_2_to_4_go_on_the_integrated_mid_day_meeting_agenda(
    indicators: tuple[str, ...], imm_agenda: bool
):
    assert record("ct-1", contact("ct-1", T, indicators)).imm_agenda is imm_agenda


def test_a_contact_decided_no_further_action_is_closed_and_off_the_agenda():
    rec = record("ct-1", contact("ct-1", T, LEVEL_2), change("dc-1", "ct-1", T + timedelta(hours=1), level=1))

    assert (rec.state, rec.route, rec.imm_agenda, rec.decided_by) == (
        CaseState.CLOSED,
        Route.UNIVERSAL,
        False,
        DecidedBy.COORDINATOR,
    )


# --- re-referral ---------------------------------------------------------------------------------


def re_referral_after(previous: datetime, now: datetime) -> CaseRecord:
    """The record of a referral at `now` for a child referred at `previous`, whose case then closed."""
    rec = record(
        "ct-again",
        *referral("ct-before", previous, after=timedelta(minutes=30)),
        case_closed("oc-before-closed", previous + timedelta(hours=1)),
        *referral("ct-again", now),
    )
    assert (rec.referral, rec.case_id) == (Referral.REFERRAL, "ct-again")
    return rec


def test_a_previous_referral_on_the_same_calendar_date_one_year_earlier_makes_a_re_referral():
    rec = re_referral_after(at_noon(date(2026, 3, 10)), at_noon(date(2027, 3, 10)))

    assert rec.re_referral is True
    reason = next(r for r in rec.recommendation.reasons if r.rule == "re_referral")
    assert reason.kind is ReasonKind.ROUTE
    assert reason.text == "Re-referral: the child was referred to social care within the 12 months before"


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
    now = datetime(2028, 3, 10, 16, 0, tzinfo=UTC)

    assert re_referral_after(datetime(2027, 3, 10, 9, 0, tzinfo=UTC), now).re_referral is True
    assert re_referral_after(datetime(2027, 3, 9, 22, 59, tzinfo=UTC), now).re_referral is False


def test_the_referral_date_is_the_london_date_23_30_utc_on_30_june_is_1_july():
    # 00:30 BST on 1 July 2026 looks back to 1 July 2025, so 30 June 2025 is outside.
    assert (
        re_referral_after(at_noon(date(2025, 6, 30)), datetime(2026, 6, 30, 23, 30, tzinfo=UTC)).re_referral
        is False
    )


def test_a_re_referral_is_dated_by_receipt_even_when_its_decision_comes_a_week_later():
    # Referred 10 March 2026; contact received 10 March 2027, decided 17 March 2027: a re-referral,
    # because the referral is dated by its contact's receipt.
    previous, received = at_noon(date(2026, 3, 10)), at_noon(date(2027, 3, 10))

    rec = record(
        "ct-again",
        *referral("ct-before", previous, after=timedelta(minutes=30)),
        case_closed("oc-closed", previous + timedelta(hours=1)),
        contact("ct-again", received),
        confirm("dc-again", "ct-again", received + timedelta(days=7)),
    )

    assert (rec.referral, rec.re_referral, rec.received_at, rec.decided_at) == (
        Referral.REFERRAL,
        True,
        received,
        received + timedelta(days=7),
    )


def test_a_referral_decided_after_a_later_ones_still_comes_first():
    # ct-1 (received March) is decided in June; ct-2 (received April) was decided in April after
    # ct-1's case... did not exist yet. Both are referrals; ct-2 is the re-referral, by receipt.
    recs = records(
        contact("ct-1", at_noon(date(2026, 3, 2))),
        *referral("ct-2", at_noon(date(2026, 4, 6))),
        case_closed("oc-closed", at_noon(date(2026, 5, 1))),
        confirm("dc-1", "ct-1", at_noon(date(2026, 6, 1))),
    )

    assert (recs["ct-1"].referral, recs["ct-1"].re_referral) == (Referral.REFERRAL, False)
    assert (recs["ct-2"].referral, recs["ct-2"].re_referral) == (Referral.REFERRAL, True)


# --- case closed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nfa", [True, False], ids=["nfa", "not nfa"])
def test_a_case_closed_closes_the_referral_and_its_linked_contacts_and_sets_nfa_on_the_referral_only(
    nfa: bool,
):
    closed_at = T + timedelta(days=20)

    recs = records(
        contact("ct-early-help", T - timedelta(days=100), LEVEL_2),
        *referral("ct-referral"),
        contact("ct-linked", T + timedelta(days=5), LEVEL_1),
        case_closed("oc-closed", closed_at, nfa=nfa),
    )

    referred, linked, early_help = recs["ct-referral"], recs["ct-linked"], recs["ct-early-help"]
    assert (referred.state, referred.case_closed_at, referred.nfa, referred.imm_agenda) == (
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
    assert (early_help.state, early_help.case_closed_at, early_help.nfa) == (
        CaseState.AWAITING_DECISION,
        None,
        None,
    )


def test_a_case_closed_only_closes_the_case_open_at_its_time():
    recs = records(
        *referral("ct-first"),
        case_closed("oc-first-closed", T + timedelta(days=10)),
        *referral("ct-second", T + timedelta(days=200)),
    )

    assert recs["ct-first"].state is CaseState.CLOSED
    assert (recs["ct-second"].state, recs["ct-second"].case_closed_at) == (CaseState.DECIDED, None)


def test_a_contact_at_the_same_instant_its_case_closes_is_not_linked():
    closes_at = T + timedelta(days=1)

    recs = records(
        *referral("ct-first"), case_closed("oc-closed", closes_at), *referral("ct-again", closes_at)
    )

    assert recs["ct-first"].case_closed_at == closes_at
    assert (recs["ct-again"].referral, recs["ct-again"].re_referral) == (Referral.REFERRAL, True)


def test_a_case_closed_with_no_open_case_at_its_time_changes_nothing_but_is_kept_in_the_timeline():
    before = apply_all(contact("ct-early-help", T, LEVEL_2))

    step = apply(before, CHILD, case_closed("oc-stray", T + timedelta(days=1)), RULESETS)

    assert step.publish == []
    assert step.state.timeline.has("oc-stray")
    assert derive(CHILD, step.state.timeline, RULESETS) == derive(CHILD, before.timeline, RULESETS)


def test_an_outcome_processed_before_its_contact_gives_the_same_result_as_the_natural_order():
    entries = (*referral("ct-referral"), case_closed("oc-closed", T + timedelta(days=10), nfa=True))

    natural = apply_all(*entries)
    backwards = apply_all(*reversed(entries))

    assert backwards.timeline == natural.timeline
    assert backwards.published == natural.published
    rec = derive(CHILD, backwards.timeline, RULESETS).records["ct-referral"]
    assert (rec.state, rec.nfa, rec.case_closed_at) == (CaseState.CLOSED, True, T + timedelta(days=10))


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


def test_a_plan_the_case_system_sends_again_under_a_new_reference_is_one_plan():
    plans = derived(
        plan_started("oc-plan", T, plan_ref="pl-7"),
        plan_started("oc-plan-resent", T + timedelta(days=1), plan_ref="pl-7"),
        plan_ended("oc-ended", T + timedelta(days=200), plan_ref="pl-7"),
    ).plans

    assert list(plans) == ["plan-pl-7"]
    assert (
        plans["plan-pl-7"].started_at,
        plans["plan-pl-7"].second_or_subsequent,
        plans["plan-pl-7"].ended_at,
    ) == (
        T,
        False,
        T + timedelta(days=200),
    )


def test_a_plan_end_naming_its_plan_ends_that_plan():
    plans = derived(
        plan_started("oc-a", T, plan_ref="pl-a"),
        plan_ended("oc-a-ended", T + timedelta(days=100), plan_ref="pl-a"),
        plan_started("oc-b", T + timedelta(days=300), plan_ref="pl-b"),
        plan_ended("oc-a-ended-again", T + timedelta(days=400), plan_ref="pl-a"),
    ).plans

    assert (plans["plan-pl-a"].ended_at, plans["plan-pl-b"].ended_at) == (T + timedelta(days=100), None)


def test_a_first_plan_reported_after_a_later_one_still_makes_the_later_one_second():
    state = apply_all(plan_started("oc-plan-2026", T), plan_started("oc-plan-2016", T - timedelta(days=3650)))

    plans = derive(CHILD, state.timeline, RULESETS).plans
    assert plans["plan-oc-plan-2016"].second_or_subsequent is False
    assert plans["plan-oc-plan-2026"].second_or_subsequent is True


def test_cp_plan_ended_sets_the_open_plans_end_time_once_and_ending_nothing_changes_nothing():
    plans = derived(
        plan_started("oc-plan", T),
        plan_ended("oc-ended", T + timedelta(days=200)),
        plan_ended("oc-ended-again", T + timedelta(days=300)),
    ).plans

    assert plans["plan-oc-plan"].ended_at == T + timedelta(days=200)
    assert derived(plan_ended("oc-ended", T)).plans == {}


def test_a_child_on_a_plan_has_an_open_case_so_a_contact_goes_to_the_allocated_worker_at_its_own_level():
    # The school's "no unmet needs" note about a child on a current plan: level 1, blue, linked,
    # not on the meeting's agenda, and not "has had a plan before".
    rec = record("ct-note", plan_started("oc-plan", T - timedelta(days=60)), contact("ct-note", T, LEVEL_1))

    assert (rec.recommendation.level, rec.recommendation.rag, rec.referral, rec.case_id, rec.imm_agenda) == (
        1,
        Rag.BLUE,
        Referral.LINKED_TO_OPEN_CASE,
        "plan-oc-plan",
        False,
    )
    assert "previous_cp_plan" not in rules(rec)


def test_a_plan_that_has_ended_raises_a_later_contact_by_one_level():
    rec = record(
        "ct-after",
        plan_started("oc-plan", datetime(2019, 5, 1, tzinfo=UTC)),
        plan_ended("oc-ended", datetime(2020, 5, 1, tzinfo=UTC)),
        case_closed("oc-closed", datetime(2020, 6, 1, tzinfo=UTC)),
        contact("ct-after", T, LEVEL_2),
    )

    assert (rec.recommendation.level, rec.recommendation.route, rec.referral) == (
        3,
        Route.SOCIAL_CARE,
        Referral.NOT_REFERRED,
    )
    assert "previous_cp_plan" in rules(rec)


# --- the ruleset in force when a contact was received --------------------------------------------


def test_each_contact_keeps_the_ruleset_it_was_received_under_when_a_new_version_comes_into_force():
    # Persistent absence is level 2 from April 2026. A contact of March 2026 stays level 3 and
    # a referral when the child's next event is processed under the new rules.
    march, may = datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 5, 4, 10, tzinfo=UTC)
    entries = (*referral("ct-march", march), contact("ct-may", may, ruleset=NEXT_YEAR.version))

    recs = records(*entries, rulesets=BOTH)

    assert (recs["ct-march"].recommendation.ruleset_version, recs["ct-march"].recommendation.level) == (
        "2026.2",
        3,
    )
    assert recs["ct-march"].referral is Referral.REFERRAL
    assert (recs["ct-may"].recommendation.ruleset_version, recs["ct-may"].recommendation.level) == (
        "2027.1",
        2,
    )
    assert records(*entries, rulesets=RULESETS)["ct-march"] == recs["ct-march"]


def test_a_renamed_code_never_turns_an_earlier_fgm_contact_into_level_1():
    rec = record("ct-fgm", contact("ct-fgm", T, ("fgm_or_honour_based_violence",)), rulesets=BOTH)

    assert (rec.recommendation.level, rec.recommendation.rag, rec.data_quality) == (4, Rag.RED, ())


def test_the_ruleset_in_force_is_chosen_by_the_london_date_of_receipt():
    assert (
        BOTH.in_force(datetime(2026, 3, 31, 22, 59, tzinfo=UTC)).version == "2026.2"
    )  # 23:59 BST on 31 March
    assert BOTH.in_force(datetime(2026, 3, 31, 23, 0, tzinfo=UTC)).version == "2027.1"  # midnight in London
    assert BOTH.in_force(datetime(2020, 1, 1, tzinfo=UTC)).version == "2026.2"  # before any: the earliest


def test_a_managers_rescreen_screens_a_waiting_contact_under_the_new_version_and_is_in_the_trail():
    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_3),
        rescreen("dc-rescreen", "ct-1", T + timedelta(days=1), "2027.1"),
        rulesets=BOTH,
    )

    assert (rec.recommendation.ruleset_version, rec.recommendation.level, rec.level, rec.route) == (
        "2027.1",
        2,
        2,
        Route.EARLY_HELP,
    )
    (step,) = rec.trail
    assert (step.action, step.from_level, step.to_level, step.status) == (
        DecisionAction.RESCREEN,
        3,
        2,
        "applied",
    )
    assert rec.state is CaseState.AWAITING_DECISION  # a rescreen is not a decision


def test_a_rescreen_after_a_decision_changes_nothing_but_is_kept_in_the_trail():
    rec = record(
        "ct-1",
        *referral("ct-1"),
        rescreen("dc-rescreen", "ct-1", T + timedelta(days=1), "2027.1"),
        rulesets=BOTH,
    )

    assert (rec.recommendation.ruleset_version, rec.level, rec.referral) == ("2026.2", 3, Referral.REFERRAL)
    assert [t.status for t in rec.trail] == ["applied", "ignored"]


# --- consent and the data a partner sent -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "pathway"),
    [
        (ConsentStatus.GIVEN, None, "Early help assessment (with the family's consent)"),
        (ConsentStatus.NOT_SOUGHT, None, "Early help assessment (consent to be sought)"),
        (None, None, "Early help assessment (consent to be sought)"),
        (
            ConsentStatus.NOT_SOUGHT,
            ConsentReason.HARMFUL_DELAY,
            "Early help assessment (without consent: asking would cause harmful delay)",
        ),
    ],
    ids=["given", "not sought, no reason", "not recorded", "not sought, with a reason"],
)
def test_the_pathway_says_where_consent_stands(
    status: ConsentStatus | None, reason: ConsentReason | None, pathway: str
):
    rec = record("ct-1", contact("ct-1", T, LEVEL_2, consent=status, consent_reason=reason))

    assert rec.pathway == rec.recommendation.pathway == pathway


@pytest.mark.parametrize("indicators", [LEVEL_2, LEVEL_3], ids=["level 2", "level 3"])
def test_a_missing_consent_basis_at_level_2_or_3_is_flagged_never_refused(indicators: tuple[str, ...]):
    rec = record("ct-1", contact("ct-1", T, indicators, consent=ConsentStatus.NOT_SOUGHT))

    assert rec.data_quality == (DataQuality.CONSENT_BASIS_MISSING,)
    reason = next(r for r in rec.recommendation.reasons if r.kind is ReasonKind.CONSENT)
    assert reason.text == "Consent not sought, and no reason to proceed without it: consent basis missing"


@pytest.mark.parametrize("indicators", [LEVEL_1, LEVEL_4], ids=["level 1", "level 4"])
def test_consent_is_not_asked_about_at_level_1_or_4(indicators: tuple[str, ...]):
    rec = record("ct-1", contact("ct-1", T, indicators, consent=None))

    assert rec.data_quality == ()
    assert ReasonKind.CONSENT not in {r.kind for r in rec.recommendation.reasons}


def test_the_consent_flag_follows_the_decided_level():
    rec = record(
        "ct-1",
        contact("ct-1", T, LEVEL_4, consent=ConsentStatus.NOT_SOUGHT),
        change("dc-1", "ct-1", T + timedelta(hours=1), level=2, role=Role.MANAGER),
    )

    assert rec.data_quality == (DataQuality.CONSENT_BASIS_MISSING,)


def test_a_referrer_with_no_phone_or_email_is_flagged():
    assert record("ct-1", contact("ct-1", referrer_reachable=False)).data_quality == (
        DataQuality.REFERRER_UNREACHABLE,
    )


# --- due times -----------------------------------------------------------------------------------


def test_a_red_contact_is_due_4_clock_hours_after_receipt():
    friday_evening = datetime(2026, 3, 13, 20, 0, tzinfo=UTC)

    assert record("ct-1", contact("ct-1", friday_evening, LEVEL_4)).due_at == friday_evening + timedelta(
        hours=4
    )


@pytest.mark.parametrize(
    ("indicators", "due"),
    [(LEVEL_3, AMBER_DUE), (LEVEL_2, datetime(2026, 3, 13, 10, 30, tzinfo=UTC))],
    ids=["amber: one working day", "green: three working days"],
)
def test_amber_and_green_due_times_count_working_days(indicators: tuple[str, ...], due: datetime):
    assert record("ct-1", contact("ct-1", T, indicators)).due_at == due


def test_the_due_time_is_the_recommendations_whatever_a_coordinator_decides():
    rec = record(
        "ct-1", contact("ct-1", T, LEVEL_3), change("dc-1", "ct-1", T + timedelta(hours=1), rag=Rag.GREEN)
    )

    assert (rec.rag, rec.due_at) == (Rag.GREEN, AMBER_DUE)


# --- what the worker publishes -------------------------------------------------------------------


def test_the_first_contact_publishes_its_record():
    step = apply(ChildState(), CHILD, contact("ct-1"), RULESETS)

    assert (published_keys(step), step.duplicate) == (["ct-1"], False)


def test_a_duplicate_entry_changes_nothing_and_republishes_every_record_of_the_child():
    state = apply_all(*referral("ct-1"), plan_started("oc-plan", T + timedelta(days=1)))

    step = apply(state, CHILD, contact("ct-1"), RULESETS)

    assert step.duplicate is True
    assert step.state == state
    assert sorted(published_keys(step)) == ["ct-1", "plan-oc-plan"]


def test_a_decision_republishes_only_its_contact():
    state = apply_all(contact("ct-1", T, LEVEL_2), contact("ct-2", T + timedelta(hours=1), LEVEL_2))

    step = apply(state, CHILD, confirm("dc-1", "ct-1", T + timedelta(hours=2), level=2), RULESETS)

    assert published_keys(step) == ["ct-1"]


def test_a_referral_decided_republishes_the_later_contacts_it_links():
    state = apply_all(contact("ct-1", T), contact("ct-2", T + timedelta(days=1), LEVEL_2))

    step = apply(state, CHILD, confirm("dc-1", "ct-1", T + timedelta(hours=1)), RULESETS)

    assert sorted(published_keys(step)) == ["ct-1", "ct-2"]


def test_an_entry_that_changes_no_record_publishes_nothing():
    state = apply_all(contact("ct-1", T, LEVEL_2))

    step = apply(state, CHILD, plan_ended("oc-no-plan", T + timedelta(hours=1)), RULESETS)

    assert (step.duplicate, step.publish) == (False, [])
    assert step.state.timeline.has("oc-no-plan")


# --- the key guarantee: any interleaving gives the same records and figures ----------------------

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
    "fgm_or_honour_based_violence",
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
    """A small random history of one child under two ruleset versions: contacts (each pinned to
    the version in force at its receipt), outcomes, and people's decisions about the contacts."""
    entries: list[Entry] = []
    contact_ids = [f"ct-{i}" for i in range(draw(st.integers(min_value=1, max_value=6)))]
    for contact_id in contact_ids:
        consent = draw(st.sampled_from([*ConsentStatus, None]))
        at = draw(instants)
        entries.append(
            contact(
                contact_id,
                at,
                tuple(draw(st.lists(st.sampled_from(INDICATOR_CHOICES), min_size=1, max_size=3))),
                consent=consent,
                consent_reason=draw(st.sampled_from([None, ConsentReason.HARMFUL_DELAY]))
                if consent is not ConsentStatus.GIVEN
                else None,
                ruleset=BOTH.in_force(at).version,
            )
        )
    for i in range(draw(st.integers(min_value=0, max_value=5))):
        kind = draw(st.sampled_from(list(OutcomeType)))
        nfa = draw(st.booleans()) if kind is OutcomeType.CASE_CLOSED else False
        plan_ref = (
            draw(st.sampled_from([None, "pl-1", "pl-2"])) if kind is not OutcomeType.CASE_CLOSED else None
        )
        entries.append(OutcomeEntry(id=f"oc-{i}", at=draw(instants), type=kind, nfa=nfa, plan_ref=plan_ref))
    about_contact: dict[str, str] = {}  # decision id -> the contact it is about
    for i in range(draw(st.integers(min_value=0, max_value=6))):
        decision_id, at = f"dc-{i}", draw(instants)
        action = draw(st.sampled_from(list(DecisionAction)))
        about = draw(st.sampled_from([*contact_ids, "ct-unknown"]))
        role = draw(st.sampled_from([Role.COORDINATOR, Role.MANAGER]))
        if action is DecisionAction.SIGN_OFF:
            named = draw(st.sampled_from([*about_contact, "dc-unknown"]))
            about = about_contact.get(named) or about
            entries.append(sign_off(decision_id, about, at, signs_off=named))
        elif action is DecisionAction.CONFIRM:
            level = draw(st.integers(min_value=1, max_value=4))
            entries.append(confirm(decision_id, about, at, level, role=role))
        elif action is DecisionAction.CHANGE:
            level = draw(st.none() | st.integers(min_value=1, max_value=4))
            rags = st.sampled_from(list(Rag))
            rag = draw(rags if level is None else st.none() | rags)
            entries.append(change(decision_id, about, at, role=role, level=level, rag=rag))
        elif action is DecisionAction.RESCREEN:
            entries.append(
                rescreen(decision_id, about, at, draw(st.sampled_from(["2026.2", "2027.1", "1999.9"])))
            )
        else:
            entries.append(imm_outcome(decision_id, about, at, draw(st.sampled_from(list(ImmOutcome)))))
        about_contact[decision_id] = about
    return entries


def replay(entries: list[Entry]) -> tuple[ChildState, dict[str, bytes]]:
    """Applies the entries one by one; returns the final state and what a reader keeping the
    latest record per key would hold."""
    state, latest = ChildState(), {}
    for entry in entries:
        step = apply(state, CHILD, entry, BOTH)
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

    expected = derive(CHILD, expected_state.timeline, BOTH)
    got = derive(CHILD, state.timeline, BOTH)
    assert got.records == expected.records
    assert got.plans == expected.plans
    # What the figures are built from: the latest record per key that was published.
    assert latest == expected_latest
    everything = {**expected.records, **expected.plans}
    assert latest == {key: rec.model_dump_json().encode() for key, rec in everything.items()}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(child_events())
def test_only_a_persons_decision_makes_a_referral(entries: list[Entry]):
    deciders = {
        e.contact_id
        for e in entries
        if isinstance(e, DecisionEntry) and e.action is not DecisionAction.RESCREEN
    }

    for rec in derive(CHILD, timeline(*entries), BOTH).records.values():
        people = [
            t for t in rec.trail if t.role is not Role.SERVICE and t.status in ("applied", "signed_off")
        ]
        if rec.referral is Referral.REFERRAL:
            assert rec.contact_id in deciders
            assert any(t.action is not DecisionAction.RESCREEN for t in people)
        if rec.decided_at is None:
            # Waiting, or closed with the case it was linked to: never decided, never referred.
            assert rec.state is not CaseState.DECIDED
            assert rec.referral is not Referral.REFERRAL


def test_event_time_order_is_by_instant_whatever_the_time_zone_a_timestamp_is_written_in():
    # On 25 October 2026 the clocks go back at 02:00 BST, so 01:30 happens twice in London.
    # By instant: ct-b (00:30 UTC), then ct-c (01:00 UTC), then ct-a (01:30 UTC).
    london = ZoneInfo("Europe/London")
    ct_a = contact("ct-a", datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=london), LEVEL_3)  # 01:30 GMT
    ct_b = contact("ct-b", datetime(2026, 10, 25, 1, 30, fold=0, tzinfo=london), LEVEL_2)  # 01:30 BST
    ct_c = contact("ct-c", datetime(2026, 10, 25, 1, 0, tzinfo=UTC), LEVEL_2)
    assert ct_b.at.timestamp() < ct_c.at.timestamp() < ct_a.at.timestamp()

    for processing in itertools.permutations([ct_a, ct_b, ct_c]):
        state = apply_all(*processing)

        assert [e.id for e in state.timeline.entries] == ["ct-b", "ct-c", "ct-a"], [e.id for e in processing]


# --- a child's newest contact, derived from where the last walk ended ----------------------------


def appended(state: ChildState, entry: Entry, rulesets: RulesetHistory = RULESETS) -> CaseRecord | None:
    """The newest contact's record from the cursor alone, or None if the timeline must be walked."""
    result = derive_appended(CHILD, state.timeline, entry, state.cursor, rulesets)
    return None if result is None else result[0]


def test_a_childs_newest_contact_is_derived_from_the_cursor_as_walking_the_timeline_would():
    # A referral, a plan that ended, then a contact: linked to the open case, raised by the plan.
    state = apply_all(
        *referral("ct-1", T - timedelta(days=30)),
        plan_started("oc-plan", T - timedelta(days=20)),
        plan_ended("oc-plan-ended", T - timedelta(days=10)),
    )
    newest = contact("ct-2", T, LEVEL_2)

    record_ = appended(state, newest)

    assert record_ is not None
    assert record_ == derive(CHILD, state.timeline.with_entry(newest), RULESETS).records["ct-2"]
    assert (record_.referral, record_.case_id, record_.recommendation.level) == (
        Referral.LINKED_TO_OPEN_CASE,
        "ct-1",
        3,
    )


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


def test_no_cursor_walks_the_whole_timeline():
    state = apply_all(contact("ct-1", T - timedelta(days=1)))
    newest = contact("ct-2", T)

    assert appended(state, newest) is not None
    assert appended(state.model_copy(update={"cursor": None}), newest) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(child_events().flatmap(st.permutations))
def test_applying_with_the_cursor_gives_the_same_steps_as_walking_the_whole_timeline_each_time(
    entries: list[Entry],
):
    state = ChildState()
    for entry in entries:
        step = apply(state, CHILD, entry, BOTH)
        walked = apply(state.model_copy(update={"cursor": None}), CHILD, entry, BOTH)
        assert step.publish == walked.publish
        assert step.state == walked.state
        state = step.state
