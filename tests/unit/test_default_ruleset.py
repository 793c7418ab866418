"""The default ruleset, read as the council's threshold document.

Each test names one rule of the shipped `mash/rulesets/default.yaml`. The table below is written
by hand from the threshold document (docs: levels of need 1-4); it must list exactly the
ruleset's catalogue, so an indicator added to the file without a line here fails the suite.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mash.domain.case import CaseRecord, ReasonKind, Referral
from mash.domain.contact import Child, CinSource, Consent, ConsentStatus, ContactEvent, Referrer
from mash.domain.history import ChildHistory, OpenCase
from mash.domain.ruleset import Rag, Route, load_ruleset
from mash.domain.triage import triage

RULESET = load_ruleset()

# code -> level of need, by hand from the threshold document.
EXPECTED_LEVEL: dict[str, int] = {
    # Level 4: hard overrides.
    "disclosure_of_abuse": 4,
    "non_accidental_injury": 4,
    "non_mobile_baby_injury": 4,
    "under_13_sexual_activity": 4,
    "sexual_abuse": 4,
    "child_sexual_exploitation": 4,
    "trafficking": 4,
    "fgm_or_honour_based_violence": 4,
    "fabricated_induced_illness": 4,
    "abandonment_or_severe_neglect": 4,
    "suicidal_ideation_with_plan": 4,
    "domestic_abuse_marac": 4,
    "sex_offender_in_household": 4,
    "frequently_missing": 4,
    # Level 3: targeted / child in need.
    "persistent_absence": 3,
    "risk_of_permanent_exclusion": 3,
    "regularly_missing": 3,
    "exploitation_vulnerability": 3,
    "regular_substance_use": 3,
    "domestic_abuse_in_home": 3,
    "parental_mental_health_significant": 3,
    "parental_substance_misuse_significant": 3,
    "chronic_neglect": 3,
    "homeless_16_17": 3,
    "unborn_pre_birth_assessment": 3,
    "privately_fostered": 3,
    "parent_in_prison": 3,
    "young_carer_outcomes_affected": 3,
    "teenage_pregnancy_serious_concern": 3,
    # Level 2: early help.
    "missed_health_checks": 2,
    "attendance_pattern_concern": 2,
    "fixed_term_exclusion": 2,
    "single_self_harm_episode": 2,
    "early_offending_or_substance_use": 2,
    "low_level_mental_health": 2,
    "young_carer": 2,
    "family_poverty_impact": 2,
    "parental_ill_health_some_impact": 2,
    "developmental_delay": 2,
    # Level 1: universal.
    "no_unmet_needs": 1,
}

# level -> (RAG, route, pathway), by hand from the threshold document.
EXPECTED_OUTCOME: dict[int, tuple[Rag, Route, str]] = {
    1: (Rag.BLUE, Route.UNIVERSAL, "Advice and signposting; no further action by the MASH"),
    2: (Rag.GREEN, Route.EARLY_HELP, "Early help assessment, with the family's consent"),
    3: (Rag.AMBER, Route.SOCIAL_CARE, "Children's social care assessment (child in need, s17)"),
    4: (Rag.RED, Route.SOCIAL_CARE, "Strategy discussion (s47); child protection"),
}

OVERRIDES = sorted(code for code, level in EXPECTED_LEVEL.items() if level == 4)
TOXIC_TRIO = (
    "domestic_abuse_in_home",
    "parental_mental_health_significant",
    "parental_substance_misuse_significant",
)
LEVEL_2_NEEDS = ("missed_health_checks", "attendance_pattern_concern", "family_poverty_impact")

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday, inside working hours
EMPTY = ChildHistory()


def contact(
    indicators: list[str], *, contact_id: str = "ct-default-1", received_at: datetime = NOW
) -> ContactEvent:
    """A consented contact from a school about one fictional child."""
    return ContactEvent(
        contact_id=contact_id,
        child_key="ck-fictional-child",
        agency="school",
        agency_reference=f"REF-{contact_id}",
        child_index=0,
        children_in_submission=1,
        received_at=received_at,
        accepted_at=received_at,
        source=CinSource.SCHOOLS,
        child=Child(given_name="Testa", family_name="Sampleford", date_of_birth=date(2015, 3, 2)),
        indicators=indicators,
        narrative="",
        consent=Consent(status=ConsentStatus.GIVEN),
        referrer=Referrer(name="Example Lead", role="DSL", email="dsl@school.example"),
    )


def decide(indicators: list[str], history: ChildHistory = EMPTY, received_at: datetime = NOW) -> CaseRecord:
    return triage(contact(indicators, received_at=received_at), history, RULESET).record


def history_with_contacts_at(*received: datetime) -> ChildHistory:
    """A child's history holding earlier information-only (level 1) contacts at these times."""
    history = EMPTY
    for n, at in enumerate(received):
        history = triage(
            contact(["no_unmet_needs"], contact_id=f"ct-earlier-{n}", received_at=at), history, RULESET
        ).history
    return history


def reason_rules(record: CaseRecord) -> list[str]:
    return [r.rule for r in record.reasons]


# --- the catalogue ------------------------------------------------------------------------------


def test_the_hand_table_lists_exactly_the_ruleset_catalogue():
    assert set(EXPECTED_LEVEL) == RULESET.codes
    assert len(RULESET.indicators) == len(EXPECTED_LEVEL), "no indicator code appears twice"


def test_the_hard_overrides_are_exactly_the_level_4_indicators():
    assert sorted(i.code for i in RULESET.indicators if i.override) == OVERRIDES


def test_the_default_ruleset_is_version_2026_1():
    assert RULESET.version == "2026.1"


def test_each_level_has_its_rag_and_route():
    for level, (rag, route, pathway) in EXPECTED_OUTCOME.items():
        assert RULESET.rag[level] is rag
        assert RULESET.routes[level].route is route
        assert RULESET.routes[level].pathway == pathway


@pytest.mark.parametrize(("code", "level"), sorted(EXPECTED_LEVEL.items()), ids=sorted(EXPECTED_LEVEL))
def test_an_indicator_on_its_own_gives_its_level_rag_and_route(code: str, level: int):
    record = decide([code])

    rag, route, pathway = EXPECTED_OUTCOME[level]
    assert (record.level, record.rag, record.route, record.pathway) == (level, rag, route, pathway)
    assert record.ruleset_version == "2026.1"
    indicator = RULESET.catalogue[code]
    reason = next(r for r in record.reasons if r.rule == code)
    assert indicator.description in reason.text
    assert reason.level == level
    assert reason.kind is (ReasonKind.OVERRIDE if level == 4 else ReasonKind.INDICATOR)


# --- level 4 overrides and level 1 ------------------------------------------------------------


@pytest.mark.parametrize("code", OVERRIDES)
def test_an_override_is_level_4_even_alongside_no_unmet_needs(code: str):
    record = decide(["no_unmet_needs", code])

    assert (record.level, record.rag, record.route) == (4, Rag.RED, Route.SOCIAL_CARE)
    assert ReasonKind.OVERRIDE in {r.kind for r in record.reasons}


def test_an_override_is_level_4_whatever_the_history_says():
    history = history_with_contacts_at(NOW - timedelta(days=10), NOW - timedelta(days=5)).model_copy(
        update={
            "open_case": OpenCase(case_id="ct-open", opened_at=NOW - timedelta(days=30)),
            "cp_plans_started": (NOW - timedelta(days=800),),
        }
    )

    record = decide(["no_unmet_needs", "non_mobile_baby_injury", "missed_health_checks"], history)

    assert (record.level, record.rag, record.route) == (4, Rag.RED, Route.SOCIAL_CARE)
    assert record.referral is Referral.LINKED_TO_OPEN_CASE


def test_no_unmet_needs_alone_for_a_child_with_no_history_is_level_1_blue_universal():
    record = decide(["no_unmet_needs"])

    assert (record.level, record.rag, record.route) == (1, Rag.BLUE, Route.UNIVERSAL)
    assert record.due_at is None
    assert reason_rules(record) == ["no_unmet_needs"]


# --- combinations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "two_of_three",
    [[a, b] for i, a in enumerate(TOXIC_TRIO) for b in TOXIC_TRIO[i + 1 :]],
    ids=lambda pair: "+".join(pair),
)
def test_two_of_the_toxic_trio_stay_at_level_3(two_of_three: list[str]):
    record = decide(two_of_three)

    assert record.level == 3
    assert "toxic_trio" not in reason_rules(record)


def test_all_three_of_the_toxic_trio_together_raise_to_level_4():
    record = decide(list(TOXIC_TRIO))

    assert (record.level, record.rag, record.route) == (4, Rag.RED, Route.SOCIAL_CARE)
    reason = next(r for r in record.reasons if r.rule == "toxic_trio")
    assert reason.kind is ReasonKind.COMBINATION
    assert reason.level == 4


def test_two_level_2_needs_stay_early_help():
    record = decide(list(LEVEL_2_NEEDS[:2]))

    assert (record.level, record.route) == (2, Route.EARLY_HELP)
    assert "multiple_unmet_needs" not in reason_rules(record)


def test_three_different_level_2_needs_are_multiple_unmet_needs_at_level_3():
    record = decide(list(LEVEL_2_NEEDS))

    assert (record.level, record.rag, record.route) == (3, Rag.AMBER, Route.SOCIAL_CARE)
    reason = next(r for r in record.reasons if r.rule == "multiple_unmet_needs")
    assert reason.kind is ReasonKind.COMBINATION


def test_the_same_need_reported_three_times_counts_once():
    record = decide([LEVEL_2_NEEDS[0]] * 3)

    assert record.level == 2


def test_no_unmet_needs_does_not_count_towards_multiple_unmet_needs():
    record = decide([*LEVEL_2_NEEDS[:2], "no_unmet_needs"])

    assert record.level == 2


# --- history ------------------------------------------------------------------------------------


def test_a_third_contact_in_90_days_raises_the_level_by_one():
    history = history_with_contacts_at(NOW - timedelta(days=40), NOW - timedelta(days=1))

    record = decide(["no_unmet_needs"], history)

    assert (record.level, record.route) == (2, Route.EARLY_HELP)
    reason = next(r for r in record.reasons if r.rule == "repeat_contacts")
    assert reason.kind is ReasonKind.HISTORY
    assert reason.text == "3 contacts about this child in the last 90 days"


def test_a_second_contact_in_90_days_does_not_raise_the_level():
    history = history_with_contacts_at(NOW - timedelta(days=1))

    record = decide(["no_unmet_needs"], history)

    assert record.level == 1
    assert "repeat_contacts" not in reason_rules(record)


def test_a_contact_exactly_90_days_earlier_counts_as_within_90_days():
    history = history_with_contacts_at(NOW - timedelta(days=90), NOW - timedelta(days=1))

    assert decide(["no_unmet_needs"], history).level == 2


def test_a_contact_91_days_earlier_is_outside_the_90_days():
    history = history_with_contacts_at(NOW - timedelta(days=91), NOW - timedelta(days=1))

    record = decide(["no_unmet_needs"], history)

    assert record.level == 1
    assert "repeat_contacts" not in reason_rules(record)


def test_repeat_contacts_raise_level_3_to_level_4():
    history = history_with_contacts_at(NOW - timedelta(days=20), NOW - timedelta(days=10))

    assert decide(["persistent_absence"], history).level == 4


def test_an_open_case_puts_the_child_at_level_3_at_least():
    history = ChildHistory(open_case=OpenCase(case_id="ct-open", opened_at=NOW - timedelta(days=30)))

    record = decide(["no_unmet_needs"], history)

    assert (record.level, record.route) == (3, Route.SOCIAL_CARE)
    reason = next(r for r in record.reasons if r.rule == "open_case")
    assert reason.text == "The child has an open social care case"


def test_an_open_case_does_not_raise_a_level_3_contact_further():
    history = ChildHistory(open_case=OpenCase(case_id="ct-open", opened_at=NOW - timedelta(days=30)))

    assert decide(["chronic_neglect"], history).level == 3


@pytest.mark.parametrize(
    ("code", "raised_to"), [("no_unmet_needs", 2), ("young_carer", 3), ("privately_fostered", 4)]
)
def test_a_previous_child_protection_plan_raises_the_level_by_one(code: str, raised_to: int):
    history = ChildHistory(cp_plans_started=(datetime(2019, 5, 1, tzinfo=UTC),))

    record = decide([code], history)

    assert record.level == raised_to
    reason = next(r for r in record.reasons if r.rule == "previous_cp_plan")
    assert reason.text == "The child has had a child protection plan before"


def test_a_child_protection_plan_started_after_the_contact_does_not_count():
    history = ChildHistory(cp_plans_started=(NOW + timedelta(days=1),))

    assert decide(["no_unmet_needs"], history).level == 1


def test_history_rules_apply_in_file_order_open_case_floor_then_previous_plan_raise():
    # open_case first lifts level 1 to 3, then previous_cp_plan adds 1: level 4.
    # (The other order would give max(1 + 1, 3) = 3.)
    history = ChildHistory(
        open_case=OpenCase(case_id="ct-open", opened_at=NOW - timedelta(days=30)),
        cp_plans_started=(datetime(2019, 5, 1, tzinfo=UTC),),
    )

    record = decide(["no_unmet_needs"], history)

    assert record.level == 4
    history_rules = [r.rule for r in record.reasons if r.kind is ReasonKind.HISTORY]
    assert history_rules == ["open_case", "previous_cp_plan"]
