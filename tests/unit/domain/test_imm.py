"""The integrated mid-day meeting (IMM): agenda selection, meeting outcomes as decisions, and figures.

Worked by hand from the rules in mash/domain/imm/agenda.py and the default ruleset (level 2 green early
help, level 3 amber social care, level 4 red social care). The week is tests/support/imm_world.py's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from mash.domain.case import CaseState, Referral
from mash.domain.contact import ConsentStatus
from mash.domain.decisions import (
    ConsentBasis,
    DecisionAction,
    DecisionEvent,
    ImmAction,
    ImmOutcome,
    PartnerAgency,
)
from mash.domain.imm import (
    ImmLog,
    MeetingRecorded,
    cron_spec,
    freeze_agenda,
    imm_figures,
    imm_outcomes,
    meeting_cutoff,
    meeting_cutoffs,
    meeting_day,
    meeting_id,
    parse_imm_event,
    select_agenda,
)
from mash.domain.ruleset import Rag, Route
from mash.domain.timeline import DecisionEntry
from tests.support.imm_world import (
    BANK_HOLIDAY,
    FRI,
    LEVEL_1,
    LEVEL_2,
    LEVEL_4,
    MEETING_AT,
    SAT,
    SUN,
    THU,
    TUE,
    WED,
    World,
    case_closed,
    change,
    child_records,
    confirm,
    contact,
    cutoff,
    decision_event,
    ids,
    imm_decision,
    london,
    outcome_event,
    record,
    week_for_figures,
)

# --- meetings and cut-offs --------------------------------------------------------------------------


def test_a_meeting_is_named_after_its_date() -> None:
    assert meeting_id(date(2026, 11, 24)) == "imm-2026-11-24"
    assert meeting_day("imm-2026-11-24") == date(2026, 11, 24)
    with pytest.raises(ValueError, match="not a meeting id"):
        meeting_day("2026-11-24")


def test_the_cut_off_is_11_30_in_london_on_working_days_only() -> None:
    assert meeting_cutoff(FRI) == datetime(2026, 8, 28, 10, 30, tzinfo=UTC)  # BST
    assert meeting_cutoff(date(2026, 11, 24)) == datetime(2026, 11, 24, 11, 30, tzinfo=UTC)  # GMT
    for no_meeting in (SAT, SUN, BANK_HOLIDAY, date(2026, 12, 25), date(2026, 12, 28)):
        assert meeting_cutoff(no_meeting) is None
        assert meeting_cutoffs(no_meeting) is None
    assert meeting_cutoff(FRI, cutoff=time(10, 0)) == datetime(2026, 8, 28, 9, 0, tzinfo=UTC)


def test_the_previous_cut_off_skips_the_weekend_and_the_bank_holiday() -> None:
    assert meeting_cutoffs(TUE) == (cutoff(FRI), cutoff(TUE))
    assert meeting_cutoffs(WED) == (cutoff(TUE), cutoff(WED))


def test_the_crontab_wakes_at_the_cut_off_on_weekdays() -> None:
    assert cron_spec() == "30 11 * * 1-5"
    assert cron_spec(time(10, 45)) == "45 10 * * 1-5"


# --- agenda selection over a simulated week with a bank holiday ----------------------------------------


def test_a_week_with_a_bank_holiday_no_meeting_no_freeze_and_everything_reaches_the_next_agenda() -> None:
    world = World()
    world.add("ck-a", contact("ct-thu-pm", london(THU, 15)))  # after Thursday's cut-off: Friday's
    world.add("ck-b", contact("ct-fri-am", london(FRI, 9), LEVEL_2))
    world.add("ck-c", contact("ct-fri-pm", london(FRI, 14)))
    world.add("ck-d", contact("ct-sat", london(SAT, 11), LEVEL_4))
    world.add("ck-e", contact("ct-holiday", london(BANK_HOLIDAY, 10)))
    world.add("ck-f", contact("ct-tue-am", london(TUE, 11)))
    world.add("ck-g", contact("ct-info", london(FRI, 10), LEVEL_1))  # level 1: never on an agenda
    world.add("ck-h", contact("ct-tue-pm", london(TUE, 12)))  # after Tuesday's cut-off

    world.freeze(THU)
    friday = world.freeze(FRI)
    assert friday is not None
    assert friday.since == cutoff(THU)
    assert friday.cutoff_at == cutoff(FRI)
    # Amber (level 3) before green (level 2): by RAG, then due time.
    assert ids(friday) == ["ct-thu-pm", "ct-fri-am"]

    for no_meeting in (SAT, SUN, BANK_HOLIDAY):
        assert world.freeze(no_meeting) is None
    assert set(world.log.agendas) == {"imm-2026-08-27", "imm-2026-08-28"}

    world.record_meeting(friday, {"ct-thu-pm": ImmOutcome.CSC_ASSESSMENT}, london(FRI, 12, 40))
    tuesday = world.freeze(TUE)
    assert tuesday is not None
    assert tuesday.since == cutoff(FRI)
    # Red first; the carried-over green case keeps its place by RAG and due time.
    assert ids(tuesday) == ["ct-sat", "ct-fri-pm", "ct-holiday", "ct-tue-am", "ct-fri-am"]
    carried = {i.contact_id: i.carried_over_from for i in tuesday.items}
    assert carried == {
        "ct-sat": None,
        "ct-fri-pm": None,
        "ct-holiday": None,
        "ct-tue-am": None,
        "ct-fri-am": "imm-2026-08-28",
    }

    world.record_meeting(tuesday, {cid: ImmOutcome.EARLY_HELP for cid in ids(tuesday)}, london(TUE, 12, 30))
    assert ids(world.freeze(WED)) == ["ct-tue-pm"]


def test_the_cut_off_boundary_one_second_before_is_on_this_agenda_one_second_after_on_the_next() -> None:
    world = World()
    world.add("ck-1", contact("ct-before", cutoff(FRI) - timedelta(seconds=1)))
    world.add("ck-2", contact("ct-at", cutoff(FRI)))
    world.add("ck-3", contact("ct-after", cutoff(FRI) + timedelta(seconds=1)))

    assert ids(world.freeze(FRI)) == ["ct-before", "ct-at"]
    tuesday = world.freeze(TUE)
    assert [(i.contact_id, i.carried_over_from) for i in tuesday.items] == [
        ("ct-before", "imm-2026-08-28"),
        ("ct-at", "imm-2026-08-28"),
        ("ct-after", None),
    ]


def test_a_case_carries_over_until_the_meeting_gives_it_an_outcome() -> None:
    world = World()
    world.add("ck-1", contact("ct-1", london(FRI, 9)))
    world.freeze(FRI)
    tuesday = world.freeze(TUE)
    assert tuesday is not None
    assert [(i.contact_id, i.carried_over_from) for i in tuesday.items] == [("ct-1", "imm-2026-08-28")]
    world.add(
        "ck-1", imm_decision("dc-x", "ct-1", london(TUE, 12, 30), ImmOutcome.EARLY_HELP, "imm-2026-09-01")
    )
    assert ids(world.freeze(WED)) == []


def test_a_case_listed_as_discussed_is_not_carried_even_before_its_outcome_is_applied() -> None:
    world = World()
    world.add("ck-1", contact("ct-1", london(FRI, 9)))
    friday = world.freeze(FRI)
    assert friday is not None
    world.log.add(
        MeetingRecorded(
            meeting_id=friday.meeting_id,
            recording_id="r1",
            agencies_present=(PartnerAgency.POLICE,),
            recorded_by="coordinator-7",
            recorded_at=london(FRI, 12, 30),
            discussed=("ct-1",),
            carried=(),
        )
    )
    assert ids(world.freeze(TUE)) == []


def test_decided_cases_appear_for_ratification_marked_as_such() -> None:
    world = World()
    red = london(FRI, 9)
    world.add(
        "ck-red", contact("ct-red", red, LEVEL_4), confirm("dc-red", "ct-red", red + timedelta(minutes=20), 4)
    )
    world.add("ck-amber", contact("ct-amber", london(FRI, 9, 30)))
    lowered = london(FRI, 10)
    world.add("ck-low", contact("ct-low", lowered, LEVEL_2), change("dc-low", "ct-low", lowered, level=1))
    world.add("ck-info", contact("ct-info", london(FRI, 10), LEVEL_1))
    agenda = world.freeze(FRI)
    assert agenda is not None
    ratify = {i.contact_id: i.ratification for i in agenda.items}
    # A red case that went straight to a strategy discussion, and a level 2 case closed at level 1.
    assert ratify == {"ct-red": True, "ct-amber": False, "ct-low": True}
    red_item = agenda.item("ct-red")
    assert red_item is not None
    assert (red_item.state, red_item.route) == (CaseState.DECIDED, Route.SOCIAL_CARE)
    low = agenda.item("ct-low")
    assert low is not None
    assert (low.level, low.recommended_level, low.state) == (1, 2, CaseState.CLOSED)


def test_a_carried_case_decided_since_comes_back_for_ratification() -> None:
    world = World()
    world.add("ck-1", contact("ct-1", london(FRI, 9)))
    world.freeze(FRI)
    world.add("ck-1", confirm("dc-1", "ct-1", london(FRI, 15)))
    tuesday = world.freeze(TUE)
    assert tuesday is not None
    [item] = tuesday.items
    assert (item.ratification, item.carried_over_from) == (True, "imm-2026-08-28")


def test_a_case_closed_before_its_meeting_is_dropped_from_the_agenda() -> None:
    world = World()
    world.add(
        "ck-1",
        contact("ct-closed", london(FRI, 9)),
        confirm("dc-1", "ct-closed", london(FRI, 9, 10)),
        case_closed("oc-1", london(FRI, 10)),
    )
    world.add(
        "ck-2", contact("ct-later", london(FRI, 9, 30)), confirm("dc-2", "ct-later", london(FRI, 9, 40))
    )
    assert ids(world.freeze(FRI)) == ["ct-later"]
    world.add("ck-2", case_closed("oc-2", london(FRI, 16)))
    assert ids(world.freeze(TUE)) == []


def test_a_case_never_listed_because_it_arrived_late_goes_on_the_next_agenda_as_new() -> None:
    world = World()
    world.add("ck-1", contact("ct-ontime", london(FRI, 9)))
    world.freeze(FRI)
    # Screened after Friday's freeze, or submitted on Monday with Friday's received time.
    world.add("ck-2", contact("ct-late", london(FRI, 9, 5)))
    # Long before the first agenda this service froze: not this meeting's business.
    world.add("ck-3", contact("ct-ancient", london(date(2026, 6, 1), 10)))
    tuesday = world.freeze(TUE)
    assert tuesday is not None
    assert [(i.contact_id, i.carried_over_from) for i in tuesday.items] == [
        ("ct-ontime", "imm-2026-08-28"),
        ("ct-late", None),
    ]


def test_a_case_raised_to_level_2_after_its_window_goes_on_the_next_agenda() -> None:
    world = World()
    world.add("ck-1", contact("ct-1", london(FRI, 9), LEVEL_1))
    assert ids(world.freeze(FRI)) == []
    world.add("ck-1", change("dc-1", "ct-1", london(FRI, 14), level=2))
    assert ids(world.freeze(TUE)) == ["ct-1"]


def test_each_item_carries_level_reasons_consent_history_and_the_agencies_that_made_contacts() -> None:
    world = World()
    world.add(
        "ck-1",
        contact("ct-old", london(date(2026, 8, 3), 10), LEVEL_2, agency="school"),
        contact("ct-new", london(FRI, 9), LEVEL_2, consent=ConsentStatus.GIVEN),
    )
    agenda = world.freeze(FRI)
    assert agenda is not None
    item = agenda.item("ct-new")
    assert item is not None
    assert (item.level, item.rag, item.consent_status) == (2, Rag.GREEN, ConsentStatus.GIVEN)
    assert item.agencies == ("police", "school")
    assert item.history == "1 earlier contact, the last on 03 Aug 2026"
    assert item.reasons
    assert item.due_at == record("ct-new", *world.entries["ck-1"]).due_at


def test_the_history_says_whether_the_child_has_an_open_case_and_whether_this_is_a_new_referral() -> None:
    # ct-waiting arrived before ct-ref was decided a referral, so it is not linked to the case.
    world = World()
    world.add(
        "ck-1",
        contact("ct-ref", london(FRI, 9)),
        contact("ct-waiting", london(FRI, 9, 10), LEVEL_2),
        confirm("dc-ref", "ct-ref", london(FRI, 9, 20)),
    )
    agenda = world.freeze(FRI)
    assert agenda is not None
    referral, waiting = agenda.item("ct-ref"), agenda.item("ct-waiting")
    assert referral is not None
    assert waiting is not None
    assert (
        referral.history
        == "First contact with the MASH; a new referral to social care; 1 later contact since"
    )
    assert waiting.history == "1 earlier contact, the last on 28 Aug 2026; open social care case"


def test_a_contact_about_a_child_whose_case_is_open_goes_to_the_allocated_worker_not_the_meeting() -> None:
    world = World()
    world.add(
        "ck-1",
        contact("ct-ref", london(FRI, 9)),
        confirm("dc-ref", "ct-ref", london(FRI, 9, 10)),
        contact("ct-linked", london(FRI, 10), LEVEL_4),
    )
    assert ids(world.freeze(FRI)) == ["ct-ref"]


def test_the_agenda_is_ordered_by_rag_then_due_time() -> None:
    world = World()
    world.add("ck-1", contact("ct-green", london(FRI, 8), LEVEL_2))
    world.add("ck-2", contact("ct-amber-late", london(FRI, 10)))
    world.add("ck-3", contact("ct-amber-early", london(FRI, 9)))
    world.add("ck-4", contact("ct-red", london(FRI, 11), LEVEL_4))
    assert ids(world.freeze(FRI)) == ["ct-red", "ct-amber-early", "ct-amber-late", "ct-green"]


def test_freezing_is_idempotent_and_readers_keep_the_first_agenda() -> None:
    world = World()
    world.add("ck-1", contact("ct-1", london(FRI, 9)))
    first = world.freeze(FRI)
    world.add("ck-2", contact("ct-2", london(FRI, 9, 30)))
    again = world.freeze(FRI, now=london(FRI, 13))
    assert again == first

    other = select_agenda(world.records(), [], [], cutoff(THU), cutoff(FRI))
    assert first is not None
    rival = first.model_copy(update={"items": tuple(other), "frozen_by": "another-freezer"})
    log = ImmLog()
    assert log.add(first) is True
    assert log.add(rival) is False
    assert log.agendas["imm-2026-08-28"] == first


def test_freezing_now_before_the_cut_off_makes_now_the_cut_off_and_loses_nothing() -> None:
    world = World()
    world.add("ck-1", contact("ct-early", london(FRI, 9)))
    world.add("ck-2", contact("ct-between", london(FRI, 10, 30)))
    early = world.freeze(FRI, now=london(FRI, 10))
    assert early is not None
    assert early.cutoff_at == london(FRI, 10)
    assert ids(early) == ["ct-early"]
    tuesday = world.freeze(TUE)
    assert tuesday is not None
    assert tuesday.since == london(FRI, 10)
    assert [(i.contact_id, i.carried_over_from) for i in tuesday.items] == [
        ("ct-early", "imm-2026-08-28"),
        ("ct-between", None),
    ]


def test_a_missed_freeze_still_starts_the_next_window_at_the_last_frozen_cut_off() -> None:
    world = World()
    world.add("ck-1", contact("ct-1", london(FRI, 9)))
    world.freeze(THU)
    # Friday's freeze never ran (the worker was restarting at 11:30, and nobody froze it).
    tuesday = world.freeze(TUE)
    assert tuesday is not None
    assert tuesday.since == cutoff(THU)
    assert ids(tuesday) == ["ct-1"]


def test_a_meeting_in_the_future_cannot_be_frozen() -> None:
    with pytest.raises(ValueError, match="in the future"):
        freeze_agenda(TUE, [], ImmLog(), now=london(FRI, 12), by="manager")


def test_imm_events_round_trip_through_json() -> None:
    world = World()
    world.add("ck-1", contact("ct-1", london(FRI, 9)))
    agenda = world.freeze(FRI)
    assert agenda is not None
    assert parse_imm_event(agenda.model_dump_json().encode()) == agenda
    meeting = MeetingRecorded(
        meeting_id=agenda.meeting_id,
        recording_id="r1",
        agencies_present=(PartnerAgency.POLICE,),
        recorded_by="c",
        recorded_at=london(FRI, 12, 30),
        discussed=(),
        carried=("ct-1",),
    )
    assert parse_imm_event(meeting.model_dump_json().encode()) == meeting
    with pytest.raises(ValidationError):
        meeting.model_validate({**meeting.model_dump(), "discussed": ("ct-1",)})
    with pytest.raises(ValidationError):
        meeting.model_validate({**meeting.model_dump(), "agencies_present": ()})


def test_a_meeting_recorded_twice_keeps_the_earliest_record_whatever_the_arrival_order() -> None:
    def recorded(recording_id: str, minute: int) -> MeetingRecorded:
        return MeetingRecorded(
            meeting_id="imm-2026-08-28",
            recording_id=recording_id,
            agencies_present=(PartnerAgency.POLICE,),
            recorded_by="c",
            recorded_at=london(FRI, 12, minute),
            discussed=(),
            carried=(),
        )

    first, second = recorded("b", 30), recorded("a", 45)
    for order in ((first, second), (second, first)):
        log = ImmLog()
        for event in order:
            log.add(event)
        assert log.meetings["imm-2026-08-28"] == first
    tie = recorded("a", 30)
    log = ImmLog()
    log.add(first)
    assert log.add(tie) is True  # same instant: the lower recording id wins, as derive's decision order


# --- the meeting's outcome as a decision event --------------------------------------------------------


def test_an_imm_outcome_needs_a_rationale_meeting_outcome_and_lead_agency() -> None:
    ok = outcome_event("dc-1", "ct-1", london(FRI, 12), ImmOutcome.EARLY_HELP)
    assert ok.imm_details() is not None
    with pytest.raises(ValidationError, match="rationale"):
        outcome_event("dc-1", "ct-1", london(FRI, 12), ImmOutcome.EARLY_HELP, rationale="  ")
    for missing in ("meeting_id", "outcome", "lead_agency"):
        fields = ok.model_dump() | {missing: None}
        with pytest.raises(ValidationError, match="needs the meeting_id"):
            DecisionEvent.model_validate(fields)
    with pytest.raises(ValidationError, match="pattern"):
        outcome_event("dc-1", "ct-1", london(FRI, 12), ImmOutcome.NFA, meeting="2026-08-28")


def test_a_single_agency_outcome_names_the_agency_and_only_it_does() -> None:
    with pytest.raises(ValidationError, match="single_agency_name"):
        outcome_event("dc-1", "ct-1", london(FRI, 12), ImmOutcome.SINGLE_AGENCY, single_agency_name=None)
    with pytest.raises(ValidationError, match="single_agency_name"):
        outcome_event("dc-1", "ct-1", london(FRI, 12), ImmOutcome.NFA, single_agency_name="School nursing")


@pytest.mark.parametrize(
    "outcome", [ImmOutcome.EARLY_HELP, ImmOutcome.SINGLE_AGENCY, ImmOutcome.CSC_ASSESSMENT]
)
def test_consent_or_the_reason_to_proceed_without_it_is_needed_for_services_families_agree_to(
    outcome: ImmOutcome,
) -> None:
    for basis in (None, ConsentBasis.NOT_REQUIRED):
        with pytest.raises(ValidationError, match="consent"):
            outcome_event("dc-1", "ct-1", london(FRI, 12), outcome, consent_basis=basis)
    without = outcome_event(
        "dc-1", "ct-1", london(FRI, 12), outcome, consent_basis=ConsentBasis.HARMFUL_DELAY
    )
    assert without.consent_basis is ConsentBasis.HARMFUL_DELAY


def test_no_further_action_and_a_strategy_discussion_need_no_consent() -> None:
    for outcome in (ImmOutcome.NFA, ImmOutcome.ADVICE_SIGNPOST, ImmOutcome.STRATEGY_DISCUSSION):
        assert (
            outcome_event("dc-1", "ct-1", london(FRI, 12), outcome, consent_basis=None).consent_basis is None
        )


def test_only_an_imm_outcome_carries_meeting_fields() -> None:
    with pytest.raises(ValidationError, match="only an imm_outcome"):
        decision_event("dc-1", "ct-1", london(FRI, 12), meeting_id="imm-2026-08-28")
    with pytest.raises(ValidationError, match="only an imm_outcome"):
        decision_event("dc-1", "ct-1", london(FRI, 12), dissent="no")
    with pytest.raises(ValidationError, match="only a confirm or a change"):
        outcome_event("dc-1", "ct-1", london(FRI, 12), ImmOutcome.NFA, level=2)


def test_actions_have_an_owner_and_a_due_date_and_the_timeline_keeps_every_detail() -> None:
    action = ImmAction(what="Offer a family support worker", owner="Early help hub", due=date(2026, 9, 4))
    event = outcome_event(
        "dc-1",
        "ct-1",
        london(FRI, 12),
        ImmOutcome.EARLY_HELP,
        actions=[action],
        dissent="Police preferred CSC.",
    )
    entry = DecisionEntry.of(event)
    assert entry.imm is not None
    assert (entry.imm.meeting_id, entry.imm.outcome, entry.imm.lead_agency) == (
        "imm-2026-08-28",
        ImmOutcome.EARLY_HELP,
        PartnerAgency.EARLY_HELP,
    )
    assert entry.imm.actions == (action,)
    assert entry.imm.dissent == "Police preferred CSC."
    assert DecisionEntry.model_validate_json(entry.model_dump_json()) == entry
    with pytest.raises(ValidationError):
        ImmAction(what="x", owner="", due=date(2026, 9, 4))
    assert confirm("dc-2", "ct-1", london(FRI, 12)).imm is None


# --- applying it: route, agenda, trail ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "route", "state"),
    [
        (ImmOutcome.NFA, Route.UNIVERSAL, CaseState.CLOSED),
        (ImmOutcome.ADVICE_SIGNPOST, Route.UNIVERSAL, CaseState.CLOSED),
        (ImmOutcome.EARLY_HELP, Route.EARLY_HELP, CaseState.DECIDED),
        (ImmOutcome.SINGLE_AGENCY, Route.SINGLE_AGENCY, CaseState.DECIDED),
        (ImmOutcome.CSC_ASSESSMENT, Route.SOCIAL_CARE, CaseState.DECIDED),
        (ImmOutcome.STRATEGY_DISCUSSION, Route.SOCIAL_CARE, CaseState.DECIDED),
    ],
)
def test_the_meetings_outcome_sets_the_route_and_takes_the_case_off_the_agenda(
    outcome: ImmOutcome, route: Route, state: CaseState
) -> None:
    rec = record(
        "ct-1", contact("ct-1", london(FRI, 9), LEVEL_2), imm_decision("dc-1", "ct-1", MEETING_AT, outcome)
    )
    assert (rec.route, rec.state, rec.imm_agenda, rec.decided_at) == (route, state, False, MEETING_AT)
    assert rec.level == 2  # the level of need is the screening's; the meeting chose the intervention
    assert "agreed at the integrated mid-day meeting" in rec.pathway
    [step] = rec.trail
    assert (step.action, step.status, step.from_level, step.to_level) == (
        DecisionAction.IMM_OUTCOME,
        "applied",
        2,
        2,
    )
    assert step.imm is not None
    assert step.imm.outcome is outcome
    assert imm_outcomes(rec) == [step]


def test_a_single_agency_outcome_names_the_agency_in_the_pathway() -> None:
    rec = record(
        "ct-1",
        contact("ct-1", london(FRI, 9), LEVEL_2),
        imm_decision("dc-1", "ct-1", MEETING_AT, ImmOutcome.SINGLE_AGENCY),
    )
    assert rec.pathway.startswith("Single agency support: School nursing")


@pytest.mark.parametrize("outcome", [ImmOutcome.CSC_ASSESSMENT, ImmOutcome.STRATEGY_DISCUSSION])
def test_a_social_care_outcome_for_early_help_is_a_referral_like_a_level_3_route(outcome: ImmOutcome) -> None:
    rec = record(
        "ct-1", contact("ct-1", london(FRI, 9), LEVEL_2), imm_decision("dc-1", "ct-1", MEETING_AT, outcome)
    )
    assert (rec.referral, rec.case_id) == (Referral.REFERRAL, "ct-1")


def test_a_social_care_outcome_while_the_childs_case_is_open_is_linked_not_a_referral() -> None:
    entries = (
        contact("ct-open", london(THU, 9)),
        confirm("dc-open", "ct-open", london(THU, 10)),
        contact("ct-2", london(FRI, 9), LEVEL_2),
        imm_decision("dc-1", "ct-2", MEETING_AT, ImmOutcome.CSC_ASSESSMENT),
    )
    rec = record("ct-2", *entries)
    assert (rec.route, rec.referral, rec.case_id) == (
        Route.SOCIAL_CARE,
        Referral.LINKED_TO_OPEN_CASE,
        "ct-open",
    )


def test_early_help_agreed_for_a_level_3_referral_means_it_opens_no_case() -> None:
    entries = (
        contact("ct-1", london(FRI, 9)),
        imm_decision("dc-1", "ct-1", MEETING_AT, ImmOutcome.EARLY_HELP),
        contact("ct-2", london(TUE, 9)),
        confirm("dc-2", "ct-2", london(TUE, 10)),
    )
    records = child_records("ck-1", *entries)
    assert (records["ct-1"].route, records["ct-1"].referral, records["ct-1"].case_id) == (
        Route.EARLY_HELP,
        Referral.NOT_REFERRED,
        None,
    )
    assert records["ct-2"].referral is Referral.REFERRAL  # the child's next social care contact refers


def test_a_second_outcome_from_the_same_meeting_is_kept_in_the_trail_but_ignored_whatever_the_order() -> None:
    first = imm_decision("dc-b", "ct-1", MEETING_AT, ImmOutcome.EARLY_HELP)
    second = imm_decision("dc-a", "ct-1", MEETING_AT + timedelta(minutes=5), ImmOutcome.NFA)
    base = contact("ct-1", london(FRI, 9))
    one = record("ct-1", base, first, second)
    other = record("ct-1", second, base, first)
    assert one == other
    assert (one.route, one.state) == (Route.EARLY_HELP, CaseState.DECIDED)
    assert [(t.decision_id, t.status) for t in one.trail] == [("dc-b", "applied"), ("dc-a", "ignored")]
    assert len(imm_outcomes(one)) == 1


def test_the_same_outcome_event_delivered_twice_is_applied_once() -> None:
    outcome = imm_decision("dc-1", "ct-1", MEETING_AT, ImmOutcome.EARLY_HELP)
    rec = record("ct-1", contact("ct-1", london(FRI, 9)), outcome, outcome)
    assert len(rec.trail) == 1


def test_a_late_outcome_is_applied_in_event_time_order() -> None:
    confirmed = confirm("dc-c", "ct-1", MEETING_AT + timedelta(hours=2))
    late = imm_decision("dc-m", "ct-1", MEETING_AT, ImmOutcome.EARLY_HELP)
    rec = record("ct-1", contact("ct-1", london(FRI, 9)), confirmed, late)
    assert [t.decision_id for t in rec.trail] == ["dc-m", "dc-c"]
    assert (rec.decided_at, rec.route) == (MEETING_AT, Route.EARLY_HELP)


def test_an_outcome_from_a_later_meeting_replaces_the_earlier_one() -> None:
    entries = (
        contact("ct-1", london(FRI, 9)),
        imm_decision("dc-1", "ct-1", MEETING_AT, ImmOutcome.EARLY_HELP),
        imm_decision("dc-2", "ct-1", london(TUE, 12, 30), ImmOutcome.CSC_ASSESSMENT, "imm-2026-09-01"),
    )
    rec = record("ct-1", *entries)
    assert (rec.route, rec.referral) == (Route.SOCIAL_CARE, Referral.REFERRAL)
    assert [t.status for t in rec.trail] == ["applied", "applied"]


def test_a_later_change_of_level_routes_by_the_level_again_but_a_change_of_rag_alone_does_not() -> None:
    base = (
        contact("ct-1", london(FRI, 9), LEVEL_2),
        imm_decision("dc-1", "ct-1", MEETING_AT, ImmOutcome.SINGLE_AGENCY),
    )
    rag_only = record("ct-1", *base, change("dc-2", "ct-1", london(TUE, 9), rag=Rag.AMBER))
    assert (rag_only.route, rag_only.rag) == (Route.SINGLE_AGENCY, Rag.AMBER)
    raised = record("ct-1", *base, change("dc-2", "ct-1", london(TUE, 9), level=4))
    assert (raised.route, raised.level, raised.imm_agenda) == (Route.SOCIAL_CARE, 4, False)


def test_an_outcome_for_a_case_that_closed_leaves_it_closed() -> None:
    entries = (
        contact("ct-1", london(FRI, 9)),
        confirm("dc-confirm", "ct-1", london(FRI, 9, 30)),
        case_closed("oc-1", london(FRI, 10)),
        imm_decision("dc-1", "ct-1", MEETING_AT, ImmOutcome.CSC_ASSESSMENT),
    )
    rec = record("ct-1", *entries)
    assert (rec.state, rec.case_closed_at) == (CaseState.CLOSED, london(FRI, 10))


# --- figures ---------------------------------------------------------------------------------------------


def test_imm_figures_count_agendas_discussion_carry_over_outcomes_attendance_and_timeliness() -> None:
    world = week_for_figures()
    result = imm_figures(world.log.agendas.values(), world.log.meetings.values(), world.records(), FRI, TUE)
    assert (result["meetings"], result["meetings_recorded"]) == (2, 2)
    assert (result["cases_on_agendas"], result["cases_discussed"], result["cases_carried_over"]) == (4, 3, 1)
    assert result["outcomes"] == {
        "nfa": 0,
        "advice_signpost": 0,
        "early_help": 1,
        "single_agency": 0,
        "csc_assessment": 1,
        "strategy_discussion": 1,
    }
    assert result["by_lead_agency"] == {"early_help": 3}
    assert result["attendance"] == {
        "police": {"meetings": 2, "rate": 1.0},
        "health": {"meetings": 2, "rate": 1.0},
    }
    # ct-1: Thursday 14:00 to Friday 12:30, 22.5 h; ct-3: 3 h; ct-2: Friday 09:00 to Tuesday 12:30, 99.5 h.
    assert result["contact_to_decision_hours"] == {"count": 3, "median": 22.5, "p90": 84.1, "max": 99.5}
    assert (result["decided_within_1_working_day"], result["decided_within_1_working_day_rate"]) == (
        2,
        0.666667,
    )
    assert result["by_meeting"]["imm-2026-09-01"] == {
        "cutoff_at": "2026-09-01T10:30:00+00:00",
        "on_agenda": 1,
        "ratification": 0,
        "carried_in": 1,
        "recorded": True,
        "discussed": 1,
        "carried_over": 0,
        "closed_before_meeting": 0,
        "agencies_present": ["health", "police"],
    }


def test_imm_figures_are_by_meeting_date_and_empty_periods_have_no_rates() -> None:
    world = week_for_figures()
    only_tuesday = imm_figures(
        world.log.agendas.values(), world.log.meetings.values(), world.records(), TUE, TUE
    )
    assert (only_tuesday["meetings"], only_tuesday["cases_discussed"]) == (1, 1)
    assert only_tuesday["outcomes"]["early_help"] == 1
    empty = imm_figures([], [], [], WED, WED)
    assert empty["decided_within_1_working_day_rate"] is None
    assert empty["contact_to_decision_hours"] == {"count": 0, "median": None, "p90": None, "max": None}
