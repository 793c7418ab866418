"""What a partner may submit: the contact submission v1 model and the checks that need context.

A safeguarding contact is never refused for missing paperwork (consent, its reason, the
referrer's details): it is accepted and the gap is flagged on the case (tests/unit/domain/
test_derive.py). What is refused is what is wrong: a bad NHS number, a date that cannot be.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mash.domain.contact import ContactSubmission, submission_problems
from mash.domain.nhs import nhs_number_problem

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "agency_reference": "REF-1",
        "children": [{"given_name": "Testa", "family_name": "Sampleford", "date_of_birth": "2015-03-02"}],
        "indicators": ["young_carer"],
        "consent": {"status": "given"},
        "referrer": {"name": "PC Example", "role": "officer", "phone": "0151 000 0000"},
    }
    base.update(changes)
    return base


def errors_at(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        ContactSubmission.model_validate(data)
    return [err["loc"] for err in caught.value.errors()]


@pytest.mark.parametrize("number", ["9434765919", "4010232137", "1234567881"])
def test_valid_nhs_numbers_pass_the_modulus_11_check(number: str) -> None:
    assert nhs_number_problem(number) is None


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("9434765910", "check digit"),
        ("123456789", "10 digits"),
        ("12345678a0", "10 digits"),
        ("1234567890", "check"),
    ],
)
def test_invalid_nhs_numbers_are_refused_with_a_reason(number: str, why: str) -> None:
    problem = nhs_number_problem(number)
    assert problem is not None
    assert why in problem
    assert number not in problem


@given(st.from_regex(r"[0-9]{9}", fullmatch=True))
def test_exactly_one_check_digit_or_none_completes_any_nine_digits(stem: str) -> None:
    valid = [d for d in "0123456789" if nhs_number_problem(stem + d) is None]
    assert len(valid) <= 1


def test_a_minimal_submission_is_valid() -> None:
    submission = ContactSubmission.model_validate(body())
    assert submission.received_at is None
    assert submission.source is None


@pytest.mark.parametrize(
    "consent",
    [{"status": "not_sought"}, {"status": "refused"}, None],
    ids=["not sought, no reason", "refused, no reason", "no consent at all"],
)
def test_a_contact_without_a_consent_basis_is_accepted(consent: dict[str, str] | None) -> None:
    changes: dict[str, Any] = {"consent": consent} if consent else {}
    data = body(**changes)
    if consent is None:
        del data["consent"]

    submission = ContactSubmission.model_validate(data)

    assert submission.consent is None or submission.consent.reason is None


def test_a_reason_to_proceed_without_consent_contradicts_consent_given() -> None:
    assert ("consent",) in errors_at(body(consent={"status": "given", "reason": "significant_harm"}))


def test_an_unborn_child_needs_an_expected_date_and_no_date_of_birth() -> None:
    assert ("children", 0) in errors_at(
        body(children=[{"given_name": "U", "family_name": "P", "unborn": True}])
    )
    unborn = {"given_name": "U", "family_name": "P", "unborn": True, "expected_date": "2027-02-20"}
    assert ContactSubmission.model_validate(body(children=[unborn])).children[0].unborn


def test_between_one_and_twenty_children() -> None:
    assert ("children",) in errors_at(body(children=[]))
    assert ("children",) in errors_at(body(children=body()["children"] * 21))


def test_received_at_needs_an_offset() -> None:
    assert ("received_at",) in errors_at(body(received_at="2026-11-23T10:05:00"))


def test_unknown_fields_are_refused_rather_than_ignored() -> None:
    assert ("colour",) in errors_at(body(colour="blue"))


def test_a_referrer_without_a_phone_or_email_or_no_referrer_at_all_is_accepted() -> None:
    unreachable = ContactSubmission.model_validate(body(referrer={"name": "A", "role": "B"}))
    anonymous = body()
    del anonymous["referrer"]

    assert unreachable.referrer is not None
    assert not unreachable.referrer.reachable
    assert ContactSubmission.model_validate(anonymous).referrer is None


def test_a_referrers_email_must_look_like_one() -> None:
    assert ("referrer", "email") in errors_at(body(referrer={"name": "A", "role": "B", "email": "no-at"}))


def check(
    submission: ContactSubmission, received_at: datetime, max_backdate: timedelta | None = None
) -> list[str]:
    problems = submission_problems(
        submission,
        received_at=received_at,
        now=NOW,
        known_indicators=frozenset({"young_carer"}),
        catalogue_source="x",
        max_backdate=max_backdate,
    )
    return [p.type for p in problems]


def test_received_at_up_to_five_minutes_ahead_is_clock_skew_beyond_is_refused() -> None:
    submission = ContactSubmission.model_validate(body())
    assert check(submission, NOW + timedelta(minutes=5)) == []
    assert check(submission, NOW + timedelta(minutes=5, seconds=1)) == ["future_datetime"]


def test_unknown_indicator_codes_are_named() -> None:
    submission = ContactSubmission.model_validate(body(indicators=["young_carer", "nope", "also_nope"]))
    [problem] = submission_problems(
        submission,
        received_at=NOW,
        now=NOW,
        known_indicators=frozenset({"young_carer"}),
        catalogue_source="GET x",
    )
    assert "also_nope, nope" in problem.msg
    assert "GET x" in problem.msg


def test_a_child_cannot_be_born_after_the_contact() -> None:
    child = {"given_name": "Late", "family_name": "Born", "date_of_birth": "2026-11-25"}
    assert check(ContactSubmission.model_validate(body(children=[child])), NOW) == ["date_after_received"]


def test_a_partner_may_date_a_contact_back_only_within_the_window_so_no_closed_year_is_rewritten() -> None:
    submission = ContactSubmission.model_validate(body())
    day = timedelta(hours=24)

    assert check(submission, NOW - day, max_backdate=day) == []
    assert check(submission, NOW - day - timedelta(seconds=1), max_backdate=day) == ["backdated_too_far"]
    # History is loaded with `mash replay`, which sets no window.
    assert check(submission, NOW - timedelta(days=3 * 365)) == []


def test_the_backdating_refusal_says_how_far_back_and_where_older_history_goes() -> None:
    submission = ContactSubmission.model_validate(body())
    [problem] = submission_problems(
        submission,
        received_at=NOW - timedelta(days=2),
        now=NOW,
        known_indicators=frozenset({"young_carer"}),
        catalogue_source="x",
        max_backdate=timedelta(hours=24),
    )
    assert (problem.loc, problem.msg) == (
        ["body", "received_at"],
        "must not be more than 24 hours in the past; older history is loaded with `mash replay`",
    )


@pytest.mark.parametrize(
    ("expected", "problems"),
    [
        ("2026-10-13", []),  # six weeks before the contact: overdue, but it happens
        ("2026-10-12", ["expected_date_out_of_range"]),
        ("2027-09-28", []),  # 44 weeks ahead
        ("2027-09-29", ["expected_date_out_of_range"]),
        ("2019-05-01", ["expected_date_out_of_range"]),
    ],
)
def test_an_unborn_childs_expected_date_is_near_the_contact(expected: str, problems: list[str]) -> None:
    unborn = {"given_name": "U", "family_name": "P", "unborn": True, "expected_date": expected}

    assert check(ContactSubmission.model_validate(body(children=[unborn])), NOW) == problems


def test_a_date_of_birth_is_checked_against_the_london_date_of_receipt() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in London: a baby born on 1 July may be the subject.
    born_1_july = {"given_name": "New", "family_name": "Born", "date_of_birth": "2026-07-01"}
    received = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)

    problems = submission_problems(
        ContactSubmission.model_validate(body(children=[born_1_july])),
        received_at=received,
        now=received,
        known_indicators=frozenset({"young_carer"}),
        catalogue_source="x",
    )

    assert problems == []
