"""One child, one history: which sightings (contacts, outcomes) are about the same child.

The rules (docs/identity.md): a sighting carrying two identifiers ties them; conflicting
identifiers never merge silently, and make the sighting "identity to check", a child of its own,
until a coordinator decides; coordinators link and split records; the children found never depend
on the order the sightings arrived in. Tokens here are plain labels standing for the keyed hashes
the intake makes of real identifiers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mash.domain.persons import (
    IdentityAction,
    IdentityDecision,
    PersonIndex,
    Sighting,
    child_key_of,
    resolve,
)

T = datetime(2026, 3, 10, 10, tzinfo=UTC)


def seen(
    sighting_id: str,
    hours: int,
    *,
    nhs: str | None = None,
    name: str = "ada-greenway",
    dob: str = "2015-03-02",
) -> Sighting:
    return Sighting(id=sighting_id, at=T + timedelta(hours=hours), name_dob=f"{name}|{dob}", dob=dob, nhs=nhs)


def decided(
    decision_id: str,
    action: IdentityAction,
    subjects: tuple[str, ...],
    others: tuple[str, ...],
    hours: int = 100,
) -> IdentityDecision:
    return IdentityDecision(decision_id, T + timedelta(hours=hours), action, subjects, others)


def children(*sightings: Sighting, decisions: tuple[IdentityDecision, ...] = ()) -> list[set[str]]:
    """The children found, each as the set of its sightings, in a fixed order."""
    by_child: dict[str, set[str]] = {}
    for sighting, child in resolve(sightings, decisions).child_of.items():
        by_child.setdefault(child, set()).add(sighting)
    return sorted(by_child.values(), key=sorted)


def test_a_contact_with_an_nhs_number_and_a_name_and_date_of_birth_ties_them_for_later_contacts():
    # The GP knows the NHS number; the school only the name and date of birth.
    gp, tie, school = seen("gp", 1, nhs="N1", name="x|y"), seen("tie", 2, nhs="N1"), seen("school", 3)

    assert children(gp, tie, school) == [{"gp", "school", "tie"}]


def test_one_partner_knowing_the_nhs_number_and_another_the_name_are_two_children_until_a_contact_ties_them():
    gp, school = seen("gp", 1, nhs="N1", name="someone|else"), seen("school", 2)

    assert children(gp, school) == [{"gp"}, {"school"}]
    assert children(gp, school, seen("tie", 3, nhs="N1")) == [{"gp", "school", "tie"}]


def test_the_same_nhs_number_with_another_date_of_birth_is_to_check_and_not_merged():
    # A contact for a child four years younger, given a demo child's NHS number by mistake.
    ada = seen("ada", 1, nhs="N1")
    wrong = seen("wrong", 2, nhs="N1", name="bo-other", dob="2019-06-06")

    result = resolve([ada, wrong])

    assert result.to_check == {"wrong"}
    assert result.child_of["wrong"] != result.child_of["ada"]
    assert result.conflict_with == {"wrong": "ada"}  # what the coordinator is asked about


def test_a_name_and_date_of_birth_already_tied_to_another_nhs_number_is_to_check():
    result = resolve([seen("first", 1, nhs="N1"), seen("second", 2, nhs="N2")])

    assert result.to_check == {"second"}
    assert result.child_of["second"] != result.child_of["first"]


def test_an_identity_to_check_ties_nothing_so_later_contacts_are_not_drawn_into_it():
    ada, wrong = seen("ada", 1, nhs="N1"), seen("wrong", 2, nhs="N1", name="bo-other", dob="2019-06-06")
    bo = seen("bo", 3, name="bo-other", dob="2019-06-06")

    assert children(ada, wrong, bo) == [{"ada"}, {"bo"}, {"wrong"}]


def test_same_child_joins_the_contact_to_that_child_and_it_is_checked():
    ada, typo = seen("ada", 1, nhs="N1"), seen("typo", 2, nhs="N1", dob="2015-03-20", name="ada-greenway")
    same = decided("dc-1", IdentityAction.SAME_CHILD, ("typo",), ("ada",))

    result = resolve([ada, typo], [same])

    assert result.to_check == set()
    assert result.child_of["typo"] == result.child_of["ada"]


def test_different_child_leaves_it_apart_and_joins_it_to_its_own_name_and_date_of_birth():
    ada, wrong = seen("ada", 1, nhs="N1"), seen("wrong", 2, nhs="N1", name="bo-other", dob="2019-06-06")
    bo = seen("bo", 3, name="bo-other", dob="2019-06-06")
    different = decided("dc-1", IdentityAction.DIFFERENT_CHILD, ("wrong",), ("ada",))

    assert children(ada, wrong, bo, decisions=(different,)) == [{"ada"}, {"bo", "wrong"}]
    assert resolve([ada, wrong, bo], [different]).to_check == set()


def test_a_coordinator_links_two_records_as_one_child_and_splits_them_again():
    # Records no exact identifier ties: a name spelled two ways.
    one, other = seen("one", 1, name="aisha-khan"), seen("other", 2, name="ayesha-khan")
    link = decided("dc-link", IdentityAction.LINK, ("other",), ("one",))
    split = decided("dc-split", IdentityAction.SPLIT, ("other",), ("one",), hours=200)

    assert children(one, other) == [{"one"}, {"other"}]
    assert children(one, other, decisions=(link,)) == [{"one", "other"}]
    assert children(one, other, decisions=(link, split)) == [{"one"}, {"other"}]


def test_a_split_keeps_apart_contacts_their_identifiers_would_tie():
    a, b = seen("a", 1, nhs="N1"), seen("b", 2, nhs="N1")
    split = decided("dc-split", IdentityAction.SPLIT, ("b",), ("a",))

    assert children(a, b, decisions=(split,)) == [{"a"}, {"b"}]


def test_a_child_is_named_after_its_earliest_sighting_whatever_the_order_they_arrived_in():
    early, late = seen("early", 1, nhs="N1"), seen("late", 2, nhs="N1")

    assert resolve([late, early]).child_of == {"early": child_key_of("early"), "late": child_key_of("early")}


def test_the_index_says_what_a_new_sighting_changed():
    index = PersonIndex()
    index.add_sighting(seen("school", 2))
    index.add_sighting(seen("gp", 3, nhs="N1", name="x|y"))

    changes = index.add_sighting(seen("tie", 1, nhs="N1"))  # earlier than both: the child's new first

    assert changes.moved == {
        "tie": (None, child_key_of("tie")),
        "school": (child_key_of("school"), child_key_of("tie")),
        "gp": (child_key_of("gp"), child_key_of("tie")),
    }


def test_the_index_says_when_a_decision_settles_an_identity_to_check():
    index = PersonIndex()
    index.add_sighting(seen("ada", 1, nhs="N1"))
    assert index.add_sighting(seen("typo", 2, nhs="N1", dob="2015-03-20")).to_check == {"typo": True}

    changes = index.add_decision(decided("dc-1", IdentityAction.SAME_CHILD, ("typo",), ("ada",)))

    assert changes.to_check == {"typo": False}
    assert changes.moved == {"typo": (child_key_of("typo"), child_key_of("ada"))}


# --- the key guarantee: any arrival order, the same children ---------------------------------------

NAMES = ("ada-greenway", "bo-other", "cy-third")
DOBS = ("2015-03-02", "2019-06-06", "2015-03-20")


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Sighting], list[IdentityDecision]]:
    count = draw(st.integers(min_value=1, max_value=9))
    sightings = [
        seen(
            f"s{i}",
            draw(st.integers(min_value=0, max_value=50)),
            nhs=draw(st.sampled_from([None, "N1", "N2"])),
            name=draw(st.sampled_from(NAMES)),
            dob=draw(st.sampled_from(DOBS)),
        )
        for i in range(count)
    ]
    ids = [s.id for s in sightings]
    decisions = [
        decided(
            f"d{i}",
            draw(st.sampled_from(list(IdentityAction))),
            (draw(st.sampled_from(ids)),),
            (draw(st.sampled_from(ids)),),
            hours=draw(st.integers(min_value=0, max_value=60)),
        )
        for i in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    return sightings, decisions


def test_an_index_loaded_at_once_is_the_index_fed_one_at_a_time():
    sightings = [
        seen("ada", 1, nhs="N1"),
        seen("wrong", 2, nhs="N1", name="bo-other", dob="2019-06-06"),
        seen("school", 3),
        seen("bo", 4, name="bo-other", dob="2019-06-06"),
    ]
    link = decided("dc-1", IdentityAction.LINK, ("bo",), ("wrong",))
    fed, loaded = PersonIndex(), PersonIndex()
    for s in sightings:
        fed.add_sighting(s)
    fed.add_decision(link)
    loaded.load(sightings, [link])
    assert (loaded.child_of, loaded.to_check, loaded.conflict_with) == (
        fed.child_of,
        fed.to_check,
        fed.conflict_with,
    )
    assert fed.component("bo") == {"bo", "wrong", "ada", "school"}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories().flatmap(lambda h: st.tuples(st.just(h), st.permutations([*h[0], *h[1]]))))
def test_the_index_fed_in_any_order_finds_the_children_that_resolving_everything_does(
    case: tuple[tuple[list[Sighting], list[IdentityDecision]], list[Sighting | IdentityDecision]],
):
    (sightings, decisions), arrivals = case
    index = PersonIndex()
    for event in arrivals:
        if isinstance(event, Sighting):
            index.add_sighting(event)
        else:
            index.add_decision(event)

    everything = resolve(sightings, decisions)
    assert index.child_of == dict(everything.child_of)
    assert index.to_check == set(everything.to_check)
