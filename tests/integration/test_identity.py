"""One child, one history, through the real pipeline: identifiers tie contacts into one child
whatever each partner knows; conflicting identifiers are flagged, never merged; coordinators'
links and splits derive the records again (docs/identity.md)."""

from __future__ import annotations

from typing import Any

from mash.domain.persons import IdentityAction
from tests.integration.conftest import Service
from tests.support.builders import child, submission
from tests.support.people import case_record, decide, decide_identity

NHS = "9434765919"  # a valid, fictional NHS number


def post(service: Service, agency: str, kid: dict[str, Any], indicator: str = "young_carer") -> str:
    with service.client() as client:
        response = client.post(
            "/v1/contacts", json=submission(indicator, children=[kid]), headers=service.auth(agency)
        )
    assert response.status_code == 202, response.text
    [contact_id] = response.json()["contact_ids"]
    return contact_id


def child_of(service: Service, contact_id: str, **expected: Any) -> str:
    record = case_record(service, contact_id, lambda r: all(r[k] == v for k, v in expected.items()))
    return str(record["child_key"])


def test_a_child_known_by_nhs_number_to_one_partner_and_by_name_to_another_is_one_child_once_tied(
    service: Service,
) -> None:
    gp = post(service, "health", {**child("Robert", "Tiewell", dob="2016-04-04"), "nhs_number": NHS})
    school = post(service, "school", child("Bobby", "Tiewell", dob="2016-04-04"))
    assert child_of(service, gp) != child_of(service, school)  # nothing ties them yet

    # The health visitor knows both the NHS number and the name the school uses.
    tie = post(service, "health", {**child("Bobby", "Tiewell", dob="2016-04-04"), "nhs_number": NHS})

    one = child_of(service, tie)
    assert child_of(service, school, child_key=one) == one
    assert child_of(service, gp, child_key=one) == one
    # The tie is the child's third contact: a repeat contact, seen with the others as history.
    record = case_record(service, tie)
    assert not record["identity_to_check"]


def test_an_nhs_number_given_for_a_child_of_another_date_of_birth_is_flagged_and_not_merged(
    service: Service,
) -> None:
    ada = post(service, "police", {**child("Ada", "Rightful", dob="2015-03-02"), "nhs_number": NHS})
    ada_child = child_of(service, ada)
    before = case_record(service, ada)
    # Four years younger, given Ada's NHS number by mistake.
    wrong = post(service, "school", {**child("Other", "Youngling", dob="2019-06-06"), "nhs_number": NHS})

    flagged = case_record(service, wrong, lambda r: r["identity_to_check"])
    assert flagged["child_key"] != ada_child  # screened on its own facts
    assert flagged["identity_conflict"] == ada
    assert case_record(service, ada)["child_key"] == ada_child
    assert case_record(service, ada)["recommendation"] == before["recommendation"]

    # A coordinator checks: a different child. The flag goes; the contact stays apart.
    decide_identity(service, IdentityAction.DIFFERENT_CHILD, [wrong], [ada])
    settled = case_record(service, wrong, lambda r: not r["identity_to_check"])
    assert settled["child_key"] != ada_child


def test_a_coordinators_same_child_joins_a_flagged_contact_to_the_childs_history(service: Service) -> None:
    first = post(service, "police", {**child("Cleo", "Typoford", dob="2014-01-10"), "nhs_number": NHS})
    # The same child, her date of birth mistyped by the school nurse.
    typo = post(service, "health", {**child("Cleo", "Typoford", dob="2014-10-01"), "nhs_number": NHS})
    case_record(service, typo, lambda r: r["identity_to_check"])

    decide_identity(service, IdentityAction.SAME_CHILD, [typo], [first])

    joined = child_of(service, first)
    assert child_of(service, typo, identity_to_check=False, child_key=joined) == joined


def test_a_coordinator_links_two_records_as_one_child_and_splits_them_again(service: Service) -> None:
    a = post(service, "police", child("Dina", "Linkmore", dob="2013-05-05"), "disclosure_of_abuse")
    decide(service, a)  # referred: Dina's social care case is open
    case_record(service, a, lambda r: r["referral"] == "referral")
    b = post(service, "school", child("Deena", "Linkmore", dob="2013-05-05"))  # another spelling
    apart = child_of(service, a), child_of(service, b)
    assert apart[0] != apart[1]
    assert case_record(service, b)["referral"] == "not_referred"

    decide_identity(service, IdentityAction.LINK, [b], [a])
    linked = child_of(service, b, child_key=apart[0])
    # Derived again as one child: the school's contact is about a child whose case is open.
    assert case_record(service, b, lambda r: r["referral"] == "linked_to_open_case")["child_key"] == linked

    decide_identity(service, IdentityAction.SPLIT, [b], [a])
    assert case_record(service, b, lambda r: r["child_key"] == apart[1])["referral"] == "not_referred"
    assert child_of(service, a, child_key=apart[0]) == apart[0]
