"""Triage of one contact: referral, linking to an open case, re-referral, consent, due time.

The statutory definitions being tested (docs: domain primer):
- a referral is a contact accepted by social care for a child with no open case; it opens a case;
- a contact about a child whose case is open is linked to that case, not a new referral;
- a re-referral is a referral with a previous referral on or after the same calendar date one year
  earlier (29 February maps to 28 February), by the local (Europe/London) date the contact arrived.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mash.domain.case import ReasonKind, Referral
from mash.domain.contact import (
    Child,
    CinSource,
    Consent,
    ConsentReason,
    ConsentStatus,
    ContactEvent,
    Referrer,
)
from mash.domain.history import ChildHistory, OpenCase
from mash.domain.ruleset import Rag, Route, load_ruleset
from mash.domain.triage import is_re_referral, one_year_earlier, triage

RULESET = load_ruleset()

LEVEL_1 = ["no_unmet_needs"]
LEVEL_2 = ["missed_health_checks"]
LEVEL_3 = ["persistent_absence"]
LEVEL_4 = ["non_mobile_baby_injury"]

TUESDAY_1030 = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)  # GMT, so 10:30 in London too
GIVEN = Consent(status=ConsentStatus.GIVEN)


def contact(
    contact_id: str = "ct-0001",
    *,
    received_at: datetime = TUESDAY_1030,
    indicators: list[str] | None = None,
    consent: Consent = GIVEN,
) -> ContactEvent:
    """A police contact about one fictional child (always the same child key)."""
    return ContactEvent(
        contact_id=contact_id,
        child_key="ck-fictional-child",
        agency="police",
        agency_reference=f"MP-{contact_id}",
        child_index=0,
        children_in_submission=1,
        received_at=received_at,
        accepted_at=received_at + timedelta(seconds=2),
        source=CinSource.POLICE,
        child=Child(given_name="Testo", family_name="Sampleford", date_of_birth=date(2018, 7, 19)),
        indicators=indicators if indicators is not None else LEVEL_3,
        narrative="Fictional narrative for a test.",
        consent=consent,
        referrer=Referrer(name="PC Example", role="police officer", email="pc.example@police.example"),
    )


def at_noon(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 12, 0, tzinfo=UTC)


def previously_referred_on(*dates: date) -> ChildHistory:
    """A child referred before on these dates, whose cases have all closed."""
    return ChildHistory(referral_dates=dates, open_case=None)


# --- referral and the open case -----------------------------------------------------------------


def test_routing_to_social_care_is_a_referral_that_opens_a_case_named_after_the_contact():
    result = triage(contact("ct-first"), ChildHistory(), RULESET)

    record = result.record
    assert (record.route, record.referral) == (Route.SOCIAL_CARE, Referral.REFERRAL)
    assert record.case_id == "ct-first"
    assert record.re_referral is False
    assert result.duplicate is False
    assert result.history.open_case == OpenCase(case_id="ct-first", opened_at=TUESDAY_1030)
    assert result.history.referral_dates == (date(2026, 3, 10),)
    assert result.history.contacts == (record,)


def test_a_second_social_care_contact_while_the_case_is_open_is_linked_not_referred():
    first = triage(contact("ct-first"), ChildHistory(), RULESET)

    second = triage(
        contact("ct-second", received_at=TUESDAY_1030 + timedelta(days=3)), first.history, RULESET
    )

    record = second.record
    assert record.referral is Referral.LINKED_TO_OPEN_CASE
    assert record.case_id == "ct-first"
    assert record.re_referral is False
    assert "linked_to_open_case" in [r.rule for r in record.reasons]
    assert second.history.open_case == first.history.open_case
    assert second.history.referral_dates == first.history.referral_dates
    assert second.history.contacts == (first.record, record)


def test_a_contact_about_a_child_with_an_open_case_is_linked_even_if_it_alone_would_be_universal():
    history = ChildHistory(open_case=OpenCase(case_id="ct-open", opened_at=TUESDAY_1030 - timedelta(days=7)))

    record = triage(contact(indicators=LEVEL_1), history, RULESET).record

    assert (record.level, record.referral, record.case_id) == (3, Referral.LINKED_TO_OPEN_CASE, "ct-open")


@pytest.mark.parametrize(("indicators", "route"), [(LEVEL_2, Route.EARLY_HELP), (LEVEL_1, Route.UNIVERSAL)])
def test_early_help_and_universal_contacts_are_not_referrals(indicators: list[str], route: Route):
    history = previously_referred_on(date(2026, 1, 5))

    result = triage(contact(indicators=indicators), history, RULESET)

    assert result.record.route is route
    assert result.record.referral is Referral.NOT_REFERRED
    assert result.record.case_id is None
    assert result.record.re_referral is False
    assert result.history.open_case is None
    assert result.history.referral_dates == history.referral_dates


# --- the same contact twice ---------------------------------------------------------------------


def test_a_duplicate_contact_id_returns_the_first_decision_and_leaves_history_unchanged():
    first = triage(contact("ct-dup"), ChildHistory(), RULESET)

    again = triage(contact("ct-dup"), first.history, RULESET)

    assert again.duplicate is True
    assert again.record == first.record
    assert again.history == first.history
    assert len(again.history.contacts) == 1


def test_a_redelivered_contact_keeps_its_first_decision_even_if_the_payload_differs():
    first = triage(contact("ct-dup", indicators=LEVEL_3), ChildHistory(), RULESET)

    again = triage(contact("ct-dup", indicators=LEVEL_4), first.history, RULESET)

    assert again.duplicate is True
    assert again.record == first.record
    assert again.record.level == 3


# --- re-referral --------------------------------------------------------------------------------


def test_a_previous_referral_on_the_same_calendar_date_a_year_earlier_makes_a_re_referral():
    result = triage(
        contact(received_at=at_noon(date(2027, 3, 10))), previously_referred_on(date(2026, 3, 10)), RULESET
    )

    assert result.record.referral is Referral.REFERRAL
    assert result.record.re_referral is True
    assert "re_referral" in [r.rule for r in result.record.reasons]


def test_a_previous_referral_one_day_more_than_a_year_earlier_is_not_a_re_referral():
    result = triage(
        contact(received_at=at_noon(date(2027, 3, 10))), previously_referred_on(date(2026, 3, 9)), RULESET
    )

    assert result.record.referral is Referral.REFERRAL
    assert result.record.re_referral is False
    assert "re_referral" not in [r.rule for r in result.record.reasons]


def test_a_29_february_referral_looks_back_to_28_february_the_year_before():
    received = at_noon(date(2028, 2, 29))

    on_28th = triage(contact(received_at=received), previously_referred_on(date(2027, 2, 28)), RULESET)
    on_27th = triage(contact(received_at=received), previously_referred_on(date(2027, 2, 27)), RULESET)

    assert on_28th.record.re_referral is True
    assert on_27th.record.re_referral is False


def test_one_year_earlier_is_the_same_calendar_date_and_29_february_maps_to_28_february():
    assert one_year_earlier(date(2027, 3, 10)) == date(2026, 3, 10)
    assert one_year_earlier(date(2028, 2, 29)) == date(2027, 2, 28)
    assert one_year_earlier(date(2029, 2, 28)) == date(2028, 2, 28)
    assert one_year_earlier(date(2028, 3, 1)) == date(2027, 3, 1)


def test_is_re_referral_counts_any_earlier_referral_in_the_window():
    assert is_re_referral((date(2020, 1, 1), date(2026, 6, 1)), date(2027, 3, 10)) is True
    assert is_re_referral((), date(2027, 3, 10)) is False


def test_a_referral_on_the_same_day_a_case_closed_is_a_re_referral():
    day = date(2026, 3, 10)
    closed = previously_referred_on(day)  # referred this morning; the case has since closed

    result = triage(contact("ct-again", received_at=at_noon(day)), closed, RULESET)

    assert result.record.referral is Referral.REFERRAL
    assert result.record.case_id == "ct-again"
    assert result.record.re_referral is True
    assert result.history.referral_dates == (day, day)


def test_the_referral_date_is_the_london_date_23_30_utc_on_30_june_is_1_july():
    received = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 BST on 1 July

    result = triage(contact(received_at=received), ChildHistory(), RULESET)

    assert result.history.referral_dates == (date(2026, 7, 1),)


def test_the_re_referral_window_uses_the_london_date():
    # By the UTC date (30 June 2026) a referral on 30 June 2025 would be inside the window;
    # by the London date (1 July 2026) the window starts on 1 July 2025, so it is not.
    received = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)

    result = triage(contact(received_at=received), previously_referred_on(date(2025, 6, 30)), RULESET)

    assert result.record.re_referral is False


def test_in_winter_the_london_date_is_the_utc_date():
    received = datetime(2026, 12, 30, 23, 30, tzinfo=UTC)  # GMT: still 30 December

    result = triage(contact(received_at=received), ChildHistory(), RULESET)

    assert result.history.referral_dates == (date(2026, 12, 30),)


# --- the IMM agenda and consent -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicators", "level", "on_agenda"),
    [(LEVEL_1, 1, False), (LEVEL_2, 2, True), (LEVEL_3, 3, True), (LEVEL_4, 4, True)],
)
def test_levels_2_to_4_go_on_the_integrated_mid_day_meeting_agenda(
    indicators: list[str], level: int, on_agenda: bool
):
    record = triage(contact(indicators=indicators), ChildHistory(), RULESET).record

    assert record.level == level
    assert record.imm_agenda is on_agenda


@pytest.mark.parametrize("indicators", [LEVEL_2, LEVEL_3], ids=["level 2", "level 3"])
def test_consent_not_given_at_level_2_or_3_is_recorded_with_its_reason(indicators: list[str]):
    refused = Consent(status=ConsentStatus.REFUSED, reason=ConsentReason.INCREASES_RISK)

    record = triage(contact(indicators=indicators, consent=refused), ChildHistory(), RULESET).record

    reason = next(r for r in record.reasons if r.kind is ReasonKind.CONSENT)
    assert reason.rule == "consent_refused"
    assert reason.text == "Consent refused; proceeding because: increases risk"
    assert (record.consent_status, record.consent_reason) == (
        ConsentStatus.REFUSED,
        ConsentReason.INCREASES_RISK,
    )


@pytest.mark.parametrize("indicators", [LEVEL_1, LEVEL_4], ids=["level 1", "level 4"])
def test_consent_is_not_a_reason_at_level_1_or_4(indicators: list[str]):
    not_sought = Consent(status=ConsentStatus.NOT_SOUGHT, reason=ConsentReason.SIGNIFICANT_HARM)

    record = triage(contact(indicators=indicators, consent=not_sought), ChildHistory(), RULESET).record

    assert ReasonKind.CONSENT not in {r.kind for r in record.reasons}
    assert record.consent_status is ConsentStatus.NOT_SOUGHT


def test_consent_given_adds_no_consent_reason():
    record = triage(contact(indicators=LEVEL_2), ChildHistory(), RULESET).record

    assert ReasonKind.CONSENT not in {r.kind for r in record.reasons}


# --- due time and what the record carries -------------------------------------------------------


def test_a_red_contact_is_due_4_clock_hours_after_receipt():
    received = datetime(2026, 11, 21, 2, 14, tzinfo=UTC)  # a Saturday night: red is worked out of hours

    record = triage(contact(received_at=received, indicators=LEVEL_4), ChildHistory(), RULESET).record

    assert record.rag is Rag.RED
    assert record.due_at == received + timedelta(hours=4)


def test_an_amber_contact_is_due_one_working_day_later():
    record = triage(contact(indicators=LEVEL_3), ChildHistory(), RULESET).record  # Tuesday 10:30

    assert record.rag is Rag.AMBER
    assert record.due_at == datetime(2026, 3, 11, 10, 30, tzinfo=UTC)


def test_a_blue_contact_has_no_due_time():
    record = triage(contact(indicators=LEVEL_1), ChildHistory(), RULESET).record

    assert record.rag is Rag.BLUE
    assert record.due_at is None


def test_the_record_carries_the_contact_identity_and_the_ruleset_version():
    event = contact("ct-carry")

    record = triage(event, ChildHistory(), RULESET).record

    assert record.contact_id == "ct-carry"
    assert record.child_key == event.child_key
    assert (record.agency, record.source) == ("police", CinSource.POLICE)
    assert (record.received_at, record.accepted_at) == (event.received_at, event.accepted_at)
    assert record.ruleset_version == "2026.1"
    assert record.children_in_submission == 1
