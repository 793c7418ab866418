"""Possible matches, rule by rule (mash.views.matches): which other child's record looks like this
child though no identifier ties them, how sure the console is, and why, in words. Fictional names."""

from __future__ import annotations

from datetime import date

import pytest

from mash.views.matches import (
    DateRelation,
    Match,
    Person,
    best,
    compare,
    date_relation,
    letters,
    related_dates,
)
from tests.support.console_world import child_contact, contact_event

BORN = date(2014, 6, 21)


def person(
    contact_id: str = "ct-b",
    given: str = "Orla",
    family: str = "Pennywhistle",
    born: date = BORN,
    postcode: str | None = None,
    name_dob: str | None = None,
    nhs: str | None = None,
) -> Person:
    # Each contact its own keyed identifiers unless a test says two share one.
    return Person(contact_id, given, family, born, postcode, name_dob or f"name-{contact_id}", nhs)


def match(subject: Person, other: Person) -> Match:
    found = compare(subject, other)
    assert found is not None, f"{other} should match {subject}"
    return found


# --- the same date of birth ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "family", "why"),
    [
        ("John", "Smith", "same date of birth, similar given name, same family name"),
        ("Jon", "Smyth", "same date of birth, same given name, similar family name"),
        ("John", "Smyth", "same date of birth, similar given name, similar family name"),
    ],
)
def test_the_same_date_of_birth_and_a_spelling_variant_of_a_name_is_a_likely_match(
    given: str, family: str, why: str
) -> None:
    found = match(person("ct-a", "Jon", "Smith"), person("ct-b", given, family))
    assert (found.strength, found.why) == ("likely", why)


@pytest.mark.parametrize(("one", "other"), [("Katie", "Katy"), ("Aiden", "Aidan"), ("Stephen", "Steven")])
def test_names_that_sound_alike_and_are_spelt_alike_are_one_name_spelt_two_ways(one: str, other: str) -> None:
    assert "similar given name" in match(person("ct-a", one), person("ct-b", other)).why


@pytest.mark.parametrize(("one", "other"), [("Lily", "Lola"), ("Noah", "Nora"), ("Amelia", "Oliver")])
def test_two_different_names_are_not_a_spelling_variant(one: str, other: str) -> None:
    assert compare(person("ct-a", one), person("ct-b", other)) is None


def test_a_short_form_of_the_given_name_with_the_same_date_of_birth_is_a_possible_match() -> None:
    found = match(person("ct-a", "Samuel"), person("ct-b", "Sam"))
    assert (found.strength, found.why) == (
        "possible",
        "same date of birth, given name a short form, same family name",
    )


def test_a_short_form_needs_three_letters() -> None:
    assert compare(person("ct-a", "Alfie"), person("ct-b", "Al")) is None


def test_the_family_name_is_never_matched_by_a_short_form() -> None:
    assert compare(person("ct-a", family="Pennywhistle"), person("ct-b", family="Penny")) is None


def test_twins_are_not_a_match_though_they_share_a_date_of_birth_a_family_name_and_a_postcode() -> None:
    one = person("ct-a", "Orla", postcode="ZZ1 1AA")
    assert compare(one, person("ct-b", "Torben", postcode="ZZ1 1AA")) is None


# --- a transposed date of birth -----------------------------------------------------------------


def test_a_date_of_birth_with_the_day_and_month_swapped_and_the_same_name_is_a_likely_match() -> None:
    found = match(person("ct-a", born=date(2014, 4, 3)), person("ct-b", born=date(2014, 3, 4)))
    assert (found.strength, found.why) == (
        "likely",
        "date of birth with the day and month swapped, same given name, same family name",
    )


def test_a_date_of_birth_with_two_digits_swapped_and_a_similar_name_is_a_possible_match() -> None:
    # 21/06/2014 typed 12/06/2014; and "Orla" typed "Orlagh".
    found = match(person("ct-a", "Orla", born=BORN), person("ct-b", "Orlah", born=date(2014, 6, 12)))
    assert found.strength == "possible"
    assert found.why == "date of birth with two digits swapped, similar given name, same family name"


def test_a_transposed_date_of_birth_needs_the_same_or_a_similar_name_not_a_short_form() -> None:
    assert compare(person("ct-a", "Samuel"), person("ct-b", "Sam", born=date(2014, 6, 12))) is None


def test_a_date_of_birth_that_is_not_a_transposition_never_matches() -> None:
    assert compare(person("ct-a"), person("ct-b", born=date(2014, 6, 22))) is None
    assert compare(person("ct-a"), person("ct-b", born=date(2012, 6, 21))) is None


@pytest.mark.parametrize(
    ("one", "other", "relation"),
    [
        (date(2014, 6, 21), date(2014, 6, 21), DateRelation.SAME),
        (date(2014, 5, 12), date(2014, 12, 5), DateRelation.DAY_MONTH_SWAPPED),
        (date(2014, 6, 21), date(2014, 6, 12), DateRelation.DIGITS_SWAPPED),
        (date(2014, 6, 21), date(2041, 6, 21), DateRelation.DIGITS_SWAPPED),
        (date(2014, 6, 21), date(2014, 6, 23), None),
    ],
)
def test_how_two_dates_of_birth_are_related(one: date, other: date, relation: DateRelation | None) -> None:
    assert date_relation(one, other) is relation


def test_the_dates_looked_up_are_every_date_the_rules_call_transposed() -> None:
    dates = related_dates(date(2014, 5, 12))
    assert {date(2014, 5, 12), date(2014, 12, 5), date(2014, 5, 21), date(2014, 5, 12)} <= dates
    assert all(date_relation(date(2014, 5, 12), d) is not None for d in dates)


# --- the postcode, identifiers and order --------------------------------------------------------


def test_the_same_postcode_raises_the_score_but_never_makes_a_match_alone() -> None:
    here = person("ct-a", "Samuel", postcode="zz1 1aa")
    nearby = match(here, person("ct-b", "Sam", postcode="ZZ11AA"))
    elsewhere = match(here, person("ct-c", "Sam", postcode="ZZ9 9ZZ"))
    assert nearby.score > elsewhere.score
    assert (nearby.strength, elsewhere.strength) == ("likely", "possible")
    assert nearby.why.endswith(", same postcode")
    assert compare(here, person("ct-d", "Torben", "Quayle", postcode="ZZ1 1AA")) is None


def test_contacts_an_exact_identifier_ties_are_not_possible_matches() -> None:
    """The worker decides about those: the same child, or kept apart on purpose (an identity to
    check, or a person's decision)."""
    here = person("ct-a", name_dob="name-x", nhs="nhs-1")
    assert compare(here, person("ct-b", "Orlah", name_dob="name-x")) is None
    assert compare(here, person("ct-c", "Orlah", nhs="nhs-1")) is None
    assert compare(here, person("ct-d", "Orlah", nhs="nhs-2")) is not None


def test_accents_case_and_punctuation_do_not_make_two_names() -> None:
    assert letters(" Zoë-O'Hara ") == "zoeohara"
    found = match(person("ct-a", "Zoë", "O'Hara"), person("ct-b", "zoe", "OHARA"))
    assert found.why == "same date of birth, same given name, same family name"


def test_matches_are_listed_best_first_and_never_the_contact_itself() -> None:
    here = person("ct-a", "Samuel")
    candidates = [here, person("ct-b", "Sam"), person("ct-c", "Samual"), person("ct-d", "Torben")]
    assert [m.contact_id for m in best(here, candidates)] == ["ct-c", "ct-b"]


def test_a_contact_is_read_for_matching_with_its_identifiers_and_an_unborn_child_never() -> None:
    contact = child_contact("ct-a", given="Orla", family="Pennywhistle", born=BORN, postcode="ZZ1 1AA")
    assert Person.of(contact) == Person(
        "ct-a", "Orla", "Pennywhistle", BORN, "ZZ1 1AA", contact.identifiers.name_dob, None
    )
    assert Person.of(contact_event("ct-u", born=None, expected=date(2026, 6, 1))) is None
