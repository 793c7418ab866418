"""The keys that keep personal data out of Kafka: a child's identifiers and the contact ids
(mash.domain.identity)."""

from __future__ import annotations

from mash.domain.contact import Child
from mash.domain.identity import child_identity, contact_id, identifiers, reference_key

SECRET = b"unit-test-secret"


def test_a_childs_identifiers_are_stable_for_the_same_child_and_reveal_nothing() -> None:
    a = Child(given_name="Testa", family_name="Sample-Ford", date_of_birth="2015-03-02")  # type: ignore[arg-type]
    b = Child(given_name=" testa ", family_name="sample ford", date_of_birth="2015-03-02")  # type: ignore[arg-type]
    assert identifiers(SECRET, a) == identifiers(SECRET, b)  # spelling noise folded away
    assert identifiers(SECRET, a) != identifiers(b"another-secret", a)
    hashes = identifiers(SECRET, a).model_dump_json().lower()
    assert "testa" not in hashes
    assert "2015" not in hashes
    assert identifiers(SECRET, a).nhs is None  # the partner did not know it


def test_the_nhs_number_identifies_a_child_when_known() -> None:
    a = Child(given_name="A", family_name="B", date_of_birth="2015-03-02", nhs_number="9434765919")  # type: ignore[arg-type]
    b = Child(given_name="Other", family_name="Name", date_of_birth="2015-03-02", nhs_number="9434765919")  # type: ignore[arg-type]
    assert child_identity(a) == child_identity(b)


def test_contact_ids_are_deterministic_per_agency_reference_and_child() -> None:
    assert contact_id(SECRET, "police", "R1", 0) == contact_id(SECRET, "police", "R1", 0)
    assert contact_id(SECRET, "police", "R1", 0) != contact_id(SECRET, "police", "R1", 1)
    assert contact_id(SECRET, "police", "R1", 0) != contact_id(SECRET, "school", "R1", 0)
    assert reference_key(SECRET, "police", "R1") != reference_key(SECRET, "school", "R1")
