"""The default ruleset, read as the council's threshold document.

Each test names one rule of the shipped `mash/rulesets/default.yaml`. The table below is written
by hand from the threshold document (docs: levels of need 1-4); it must list exactly the
ruleset's catalogue, so an indicator added to the file without a line here fails the suite.

Screening is tested on its own here: `screen(indicators, Known(...), received_at, ruleset)`,
where `Known` is what the service knew of the child just before the contact (earlier contacts'
times and own levels, whether a social care case is open, the child protection plans). A
screening is the service's recommendation; what people decide, and whether a contact becomes a
referral, is linked to an open case or is a re-referral, is `derive`'s job (test_derive).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mash.domain.case import ReasonKind
from mash.domain.ruleset import Rag, Route, Ruleset, load_ruleset, parse_ruleset
from mash.domain.screening import EarlierContact, Known, Plan, Screening, screen

RULESET = load_ruleset()
ROOT = Path(__file__).parents[3]

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
    2: (Rag.GREEN, Route.EARLY_HELP, "Early help assessment"),
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

LEVEL_3_NEEDS = ("persistent_absence", "chronic_neglect", "parent_in_prison")

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday, inside working hours
NOTHING_KNOWN = Known()
OPEN_CASE = Known(open_case=True)
PLAN_ENDED_IN_2019 = Known(plans=(Plan(datetime(2018, 5, 1, tzinfo=UTC), datetime(2019, 5, 1, tzinfo=UTC)),))


def decide(indicators: list[str], known: Known = NOTHING_KNOWN, received_at: datetime = NOW) -> Screening:
    return screen(indicators, known, received_at, RULESET)


def contacts_at(*received: datetime, level: int = 2) -> Known:
    """What is known of a child with earlier contacts at these times, each at `level` on its own
    indicators (and nothing else)."""
    return Known(earlier_contacts=tuple(EarlierContact(at, level) for at in received))


def outcome(screening: Screening) -> tuple[int, Rag, Route]:
    return screening.level, screening.rag, RULESET.routes[screening.level].route


def reason_rules(screening: Screening) -> list[str]:
    return [r.rule for r in screening.reasons]


# --- the catalogue ------------------------------------------------------------------------------


def test_the_hand_table_lists_exactly_the_ruleset_catalogue():
    assert set(EXPECTED_LEVEL) == RULESET.codes
    assert len(RULESET.indicators) == len(EXPECTED_LEVEL), "no indicator code appears twice"


def test_the_hard_overrides_are_exactly_the_level_4_indicators():
    assert sorted(i.code for i in RULESET.indicators if i.override) == OVERRIDES


def test_the_default_ruleset_is_version_2026_2_in_force_from_april_2024():
    assert RULESET.version == "2026.2"
    assert RULESET.effective_from.isoformat() == "2024-04-01"


def test_by_default_the_service_decides_only_information_only_contacts_about_children_with_no_history():
    assert RULESET.service_decides.levels == [1]
    assert RULESET.service_decides.only_without_history
    assert RULESET.service_decides.history_days == 365


def test_early_help_and_child_in_need_need_the_familys_consent():
    assert RULESET.needs_consent == [2, 3]


def test_each_level_has_its_rag_and_route():
    for level, (rag, route, pathway) in EXPECTED_OUTCOME.items():
        assert RULESET.rag[level] is rag
        assert RULESET.routes[level].route is route
        assert RULESET.routes[level].pathway == pathway


@pytest.mark.parametrize(("code", "level"), sorted(EXPECTED_LEVEL.items()), ids=sorted(EXPECTED_LEVEL))
def test_an_indicator_on_its_own_gives_its_level_rag_and_route(code: str, level: int):
    screening = decide([code])

    rag, route, pathway = EXPECTED_OUTCOME[level]
    assert outcome(screening) == (level, rag, route)
    assert RULESET.routes[screening.level].pathway == pathway
    assert screening.ruleset_version == "2026.2"
    assert reason_rules(screening) == [code]
    (reason,) = screening.reasons
    assert RULESET.catalogue[code].description in reason.text
    assert reason.level == level
    assert reason.kind is (ReasonKind.OVERRIDE if level == 4 else ReasonKind.INDICATOR)


def test_an_indicator_not_in_the_ruleset_is_listed_for_a_coordinator_and_does_not_raise_the_level():
    screening = decide(["no_unmet_needs", "made_up_code"])

    assert screening.level == 1
    assert screening.unknown_codes == ("made_up_code",)
    reason = next(r for r in screening.reasons if r.rule == "made_up_code")
    assert reason.text == (
        "Indicator 'made_up_code' is not in ruleset 2026.2: "
        "a coordinator must review it (on the review clock)"
    )


def test_an_unknown_indicator_puts_a_level_1_contact_on_the_coordinators_review_clock():
    # Level 1 is blue, no target: the unknown code would otherwise never fall due.
    assert (decide(["no_unmet_needs", "renamed_code"]).rag, RULESET.unknown_indicator_rag) == (
        Rag.AMBER,
        Rag.AMBER,
    )


def test_an_unknown_indicator_never_makes_a_contact_less_urgent():
    assert decide(["sexual_abuse", "renamed_code"]).rag is Rag.RED


def test_no_indicators_at_all_is_level_1():
    assert outcome(decide([])) == (1, Rag.BLUE, Route.UNIVERSAL)


# --- level 4 overrides and level 1 ------------------------------------------------------------


@pytest.mark.parametrize("code", OVERRIDES)
def test_an_override_is_level_4_even_alongside_no_unmet_needs(code: str):
    screening = decide(["no_unmet_needs", code])

    assert outcome(screening) == (4, Rag.RED, Route.SOCIAL_CARE)
    assert ReasonKind.OVERRIDE in {r.kind for r in screening.reasons}


def test_an_override_is_level_4_whatever_the_history_says():
    # Both default history rules fire; the override holds the child at 4 regardless, and the
    # reasons still say what was known.
    known = Known(
        earlier_contacts=(
            EarlierContact(NOW - timedelta(days=10), 2),
            EarlierContact(NOW - timedelta(days=5), 2),
        ),
        plans=(Plan(NOW - timedelta(days=900), NOW - timedelta(days=800)),),
    )

    screening = decide(["no_unmet_needs", "non_mobile_baby_injury", "missed_health_checks"], known)

    assert outcome(screening) == (4, Rag.RED, Route.SOCIAL_CARE)
    history = [(r.rule, r.level) for r in screening.reasons if r.kind is ReasonKind.HISTORY]
    assert history == [("repeat_contacts", 4), ("previous_cp_plan", 4)]


def test_no_unmet_needs_alone_for_a_child_with_no_history_is_level_1_blue_universal():
    screening = decide(["no_unmet_needs"])

    assert outcome(screening) == (1, Rag.BLUE, Route.UNIVERSAL)
    assert reason_rules(screening) == ["no_unmet_needs"]


# --- combinations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "two_of_three",
    [[a, b] for i, a in enumerate(TOXIC_TRIO) for b in TOXIC_TRIO[i + 1 :]],
    ids=lambda pair: "+".join(pair),
)
def test_two_of_the_toxic_trio_stay_at_level_3(two_of_three: list[str]):
    screening = decide(two_of_three)

    assert screening.level == 3
    assert "toxic_trio" not in reason_rules(screening)


def test_all_three_of_the_toxic_trio_together_raise_to_level_4():
    screening = decide(list(TOXIC_TRIO))

    assert outcome(screening) == (4, Rag.RED, Route.SOCIAL_CARE)
    reason = next(r for r in screening.reasons if r.rule == "toxic_trio")
    assert reason.kind is ReasonKind.COMBINATION
    assert reason.level == 4


def test_two_level_2_needs_stay_early_help():
    screening = decide(list(LEVEL_2_NEEDS[:2]))

    assert (screening.level, RULESET.routes[screening.level].route) == (2, Route.EARLY_HELP)
    assert "multiple_unmet_needs" not in reason_rules(screening)


def test_three_different_level_2_needs_are_multiple_unmet_needs_at_level_3():
    screening = decide(list(LEVEL_2_NEEDS))

    assert outcome(screening) == (3, Rag.AMBER, Route.SOCIAL_CARE)
    reason = next(r for r in screening.reasons if r.rule == "multiple_unmet_needs")
    assert reason.kind is ReasonKind.COMBINATION
    assert reason.level == 3


def test_the_same_need_reported_three_times_counts_once():
    screening = decide([LEVEL_2_NEEDS[0]] * 3)

    assert screening.level == 2
    assert reason_rules(screening) == [LEVEL_2_NEEDS[0]]


def test_no_unmet_needs_does_not_count_towards_multiple_unmet_needs():
    screening = decide([*LEVEL_2_NEEDS[:2], "no_unmet_needs"])

    assert screening.level == 2
    assert "multiple_unmet_needs" not in reason_rules(screening)


def test_a_combination_is_listed_as_a_reason_even_when_the_level_is_already_that_high():
    # Three level-3 needs: already level 3, and "three or more needs at level 2 or above" fires too.
    screening = decide(list(LEVEL_3_NEEDS))

    assert screening.level == 3
    assert "multiple_unmet_needs" in reason_rules(screening)


def test_the_toxic_trio_lists_both_combinations_that_fire():
    # The trio is also three needs at level 2 or above, so both rules are part of why.
    screening = decide(list(TOXIC_TRIO))

    combinations = [(r.rule, r.level) for r in screening.reasons if r.kind is ReasonKind.COMBINATION]
    assert combinations == [("toxic_trio", 4), ("multiple_unmet_needs", 3)]


def test_the_toxic_trio_is_listed_alongside_an_override():
    screening = decide([*TOXIC_TRIO, "sexual_abuse"])

    assert screening.level == 4
    assert "toxic_trio" in reason_rules(screening)
    assert "sexual_abuse" in reason_rules(screening)


def test_reasons_list_indicators_highest_level_first_then_combinations():
    screening = decide(["missed_health_checks", "no_unmet_needs", "chronic_neglect"])

    assert reason_rules(screening) == ["chronic_neglect", "missed_health_checks", "no_unmet_needs"]


# --- history ------------------------------------------------------------------------------------


def history_reason(screening: Screening, rule: str) -> str:
    return next(r.text for r in screening.reasons if r.rule == rule)


def test_a_third_separate_incident_in_90_days_raises_early_help_to_level_3_and_says_so():
    known = contacts_at(NOW - timedelta(days=40), NOW - timedelta(days=1))

    screening = decide(["missed_health_checks"], known)

    assert outcome(screening) == (3, Rag.AMBER, Route.SOCIAL_CARE)
    reason = next(r for r in screening.reasons if r.rule == "repeat_contacts")
    assert reason.kind is ReasonKind.HISTORY
    assert reason.text == "Raised from 2 to 3: 3rd contact in 90 days about this child (3 separate incidents)"
    assert reason.level == 3


def test_a_second_contact_in_90_days_does_not_raise_the_level():
    screening = decide(["missed_health_checks"], contacts_at(NOW - timedelta(days=1)))

    assert screening.level == 2
    assert "repeat_contacts" not in reason_rules(screening)


def test_information_only_contacts_are_never_raised_by_repetition_alone():
    known = contacts_at(*(NOW - timedelta(days=d) for d in (80, 60, 40, 20)))

    screening = decide(["no_unmet_needs"], known)

    assert outcome(screening) == (1, Rag.BLUE, Route.UNIVERSAL)
    assert "repeat_contacts" not in reason_rules(screening)


def test_earlier_information_only_contacts_do_not_count_towards_repetition():
    known = contacts_at(NOW - timedelta(days=40), NOW - timedelta(days=1), level=1)

    assert decide(["missed_health_checks"], known).level == 2


def test_the_same_incident_reported_by_several_agencies_within_a_day_counts_once():
    # Three police notifications of one domestic abuse incident, and the school's the next morning.
    same_night = contacts_at(NOW - timedelta(hours=14), NOW - timedelta(hours=13), NOW - timedelta(hours=12))

    screening = decide(["attendance_pattern_concern"], same_night)

    assert screening.level == 2
    assert "repeat_contacts" not in reason_rules(screening)


def test_contacts_a_day_or_more_apart_are_separate_incidents():
    known = contacts_at(NOW - timedelta(hours=48), NOW - timedelta(hours=24))

    screening = decide(["attendance_pattern_concern"], known)

    assert screening.level == 3
    assert history_reason(screening, "repeat_contacts").endswith("(3 separate incidents)")


def test_repetition_raises_a_level_at_most_to_3():
    known = contacts_at(NOW - timedelta(days=20), NOW - timedelta(days=10))

    screening = decide(["persistent_absence"], known)

    assert outcome(screening) == (3, Rag.AMBER, Route.SOCIAL_CARE)
    assert history_reason(screening, "repeat_contacts") == (
        "3rd contact in 90 days about this child (3 separate incidents) (noted: the level stays 3)"
    )


def test_a_contact_exactly_90_days_earlier_counts_as_within_90_days():
    known = contacts_at(NOW - timedelta(days=90), NOW - timedelta(days=1))

    assert decide(["missed_health_checks"], known).level == 3


def test_a_contact_90_days_and_a_second_earlier_is_outside_the_90_days():
    known = contacts_at(NOW - timedelta(days=90, seconds=1), NOW - timedelta(days=1))

    screening = decide(["missed_health_checks"], known)

    assert screening.level == 2
    assert "repeat_contacts" not in reason_rules(screening)


def test_the_reason_counts_every_contact_and_every_incident_in_the_window():
    known = contacts_at(*(NOW - timedelta(days=d) for d in (80, 60, 40, 20)))

    screening = decide(["missed_health_checks"], known)

    assert history_reason(screening, "repeat_contacts") == (
        "Raised from 2 to 3: 5th contact in 90 days about this child (5 separate incidents)"
    )


def test_an_open_case_does_not_raise_the_level_the_contact_goes_to_the_allocated_worker_instead():
    # A school's "no unmet needs" note about a child with an open case stays level 1, blue;
    # derive links it to the case (test_derive).
    screening = decide(["no_unmet_needs"], OPEN_CASE)

    assert outcome(screening) == (1, Rag.BLUE, Route.UNIVERSAL)
    assert [r.kind for r in screening.reasons] == [ReasonKind.INDICATOR]


def test_a_current_child_protection_plan_is_not_a_previous_plan():
    on_a_plan = Known(plans=(Plan(NOW - timedelta(days=100)),), open_case=True)

    screening = decide(["no_unmet_needs"], on_a_plan)

    assert outcome(screening) == (1, Rag.BLUE, Route.UNIVERSAL)
    assert "previous_cp_plan" not in reason_rules(screening)


@pytest.mark.parametrize(
    ("code", "raised_to"), [("no_unmet_needs", 2), ("young_carer", 3), ("privately_fostered", 4)]
)
def test_a_plan_that_has_ended_raises_the_level_by_one(code: str, raised_to: int):
    screening = decide([code], PLAN_ENDED_IN_2019)

    assert screening.level == raised_to
    assert history_reason(screening, "previous_cp_plan") == (
        f"Raised from {raised_to - 1} to {raised_to}: The child had a child protection plan that has ended"
    )


def test_a_plan_that_ended_at_the_same_instant_as_the_contact_is_not_before_it():
    ended_now = Known(plans=(Plan(NOW - timedelta(days=300), NOW),))

    assert decide(["no_unmet_needs"], ended_now).level == 1


def test_a_plan_that_ended_a_second_before_the_contact_counts():
    ended = Known(plans=(Plan(NOW - timedelta(days=300), NOW - timedelta(seconds=1)),))

    assert decide(["no_unmet_needs"], ended).level == 2


def test_history_rules_apply_after_combinations():
    # Three level-2 needs make level 3 (combination); a previous plan then adds 1: level 4.
    assert decide(list(LEVEL_2_NEEDS), PLAN_ENDED_IN_2019).level == 4


def council_ruleset(history: str) -> Ruleset:
    """The default ruleset with its history rules replaced."""
    text = (ROOT / "mash" / "rulesets" / "default.yaml").read_text()
    start, end = text.index("\nhistory:"), text.index("\nroutes:")
    return parse_ruleset(text[:start] + "\n" + history + text[end:], "council.yaml")


def test_a_council_may_raise_contacts_about_children_with_an_open_case_and_rules_apply_in_file_order():
    # The floor first lifts level 1 to 3, then the previous plan adds 1: level 4. The other order
    # would give max(1 + 1, 3) = 3.
    council = council_ruleset(
        """history:
  - id: open_case
    description: "The child has an open social care case"
    kind: open_case
    min_level: 3
  - id: previous_cp_plan
    description: "The child had a child protection plan"
    kind: previous_cp_plan
    raise_by: 1
"""
    )
    known = Known(open_case=True, plans=PLAN_ENDED_IN_2019.plans)

    screening = screen(["no_unmet_needs"], known, NOW, council)

    assert screening.level == 4
    assert [r.text for r in screening.reasons if r.kind is ReasonKind.HISTORY] == [
        "Raised from 1 to 3: The child has an open social care case",
        "Raised from 3 to 4: The child had a child protection plan",
    ]


def test_a_council_may_count_information_only_contacts_and_raise_them():
    council = council_ruleset(
        """history:
  - id: repeat_contacts
    description: "{count} contacts in {days} days"
    kind: repeat_contacts
    within_days: 90
    min_incidents: 3
    count_information_only: true
    raise_by: 1
"""
    )

    screening = screen(
        ["no_unmet_needs"],
        contacts_at(NOW - timedelta(days=9), NOW - timedelta(days=3), level=1),
        NOW,
        council,
    )

    assert (screening.level, history_reason(screening, "repeat_contacts")) == (
        2,
        "Raised from 1 to 2: 3 contacts in 90 days",
    )
