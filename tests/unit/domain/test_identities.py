"""The identities agent's step (mash.domain.identities): which child each event is about, and what
each child must be told.

A contact is a *sighting* (its identifiers, as tokens) and the entry the child's timeline holds; a
person's decision follows its contact; an identity decision moves sightings between children. Each
step returns the rows the agent keeps and a `ChildUpdate` per child whose history changed. The
children agent applies the updates to each child's timeline (`ChildTimeline.updated`), so a replay
of every update sent, child by child, is what the children end up holding. Tokens are plain labels
standing for the keyed hashes the intake makes of real identifiers (as in test_persons.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mash.domain.contact import CinSource, ConsentStatus
from mash.domain.decisions import DecisionAction, Role
from mash.domain.identities import Effects, Identities, PendingRow, SightingRow
from mash.domain.persons import IdentityAction, IdentityDecisionEvent, Sighting, child_key_of, resolve
from mash.domain.timeline import ChildTimeline, ChildUpdate, ContactEntry, DecisionEntry

T = datetime(2026, 3, 10, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Contact:
    """A contact as the identities agent takes it: its sighting and its timeline entry."""

    sighting: Sighting
    entry: ContactEntry

    @property
    def id(self) -> str:
        return self.sighting.id


def contact(
    contact_id: str,
    hours: int,
    *,
    nhs: str | None = None,
    name: str = "ada-greenway",
    dob: str = "2015-03-02",
) -> Contact:
    at = T + timedelta(hours=hours)
    entry = ContactEntry(
        id=contact_id,
        at=at,
        accepted_at=at + timedelta(seconds=1),
        agency="school",
        source=CinSource.SCHOOLS,
        indicators=("persistent_absence",),
        consent_status=ConsentStatus.GIVEN,
        consent_reason=None,
        children_in_submission=1,
        ruleset_version="2026.1",
    )
    return Contact(Sighting(contact_id, at, f"{name}|{dob}", dob, nhs), entry)


def decision(decision_id: str, contact_id: str, hours: int = 60) -> DecisionEntry:
    """A coordinator's decision about a contact."""
    return DecisionEntry(
        id=decision_id,
        at=T + timedelta(hours=hours),
        contact_id=contact_id,
        action=DecisionAction.CONFIRM,
        by="coordinator-7",
        role=Role.COORDINATOR,
        level=None,
        rag=None,
        rationale="Spoke to the school.",
        signs_off=None,
    )


def identity_decision(
    decision_id: str,
    action: IdentityAction,
    subjects: tuple[str, ...],
    others: tuple[str, ...],
    hours: int = 100,
) -> IdentityDecisionEvent:
    return IdentityDecisionEvent(
        decision_id=decision_id,
        action=action,
        subjects=list(subjects),
        others=list(others),
        decided_at=T + timedelta(hours=hours),
        by="coordinator-7",
        role=Role.COORDINATOR,
        rationale="Checked with the GP surgery.",
    )


Event = Contact | DecisionEntry | IdentityDecisionEvent


def feed(identities: Identities, event: Event) -> Effects:
    """One input event into the step, as the agent dispatches it."""
    if isinstance(event, Contact):
        return identities.sighting(event.sighting, event.entry)
    if isinstance(event, DecisionEntry):
        return identities.decision(event)
    return identities.identity_decision(event)


def ck(sighting_id: str) -> str:
    """The key of the child whose earliest sighting this is."""
    return child_key_of(sighting_id)


def by_child(effects: Effects) -> dict[str, ChildUpdate]:
    updates = {update.child_key: update for update in effects.updates}
    assert len(updates) == len(effects.updates), "one update per child per step"
    return updates


class Children:
    """Every child's timeline as the children agent keeps it: the updates sent, applied in order."""

    def __init__(self) -> None:
        self.timelines: dict[str, ChildTimeline] = {}

    def apply(self, updates: Iterable[ChildUpdate]) -> None:
        for update in updates:
            self.timelines[update.child_key] = self.timelines.get(update.child_key, ChildTimeline()).updated(
                update
            )

    def entries(self) -> dict[str, set[str]]:
        """Each child holding anything, with the ids of its entries."""
        return {key: {e.id for e in t.entries} for key, t in self.timelines.items() if t.entries}

    def entry(self, entry_id: str) -> ContactEntry:
        [found] = [e for t in self.timelines.values() for e in t.entries if e.id == entry_id]
        assert isinstance(found, ContactEntry)
        return found


class InProcess:
    """The step, with the rows it wrote (the identities table) and the children it told."""

    def __init__(self, identities: Identities | None = None) -> None:
        self.identities = identities or Identities()
        self.table: dict[str, bytes] = {}
        self.children = Children()

    def feed(self, *events: Event) -> Effects:
        """Each event in turn; the effects of the last."""
        effects = Effects()
        for event in events:
            effects = feed(self.identities, event)
            self.table.update(effects.rows)
            self.children.apply(effects.updates)
        return effects

    def stored(self) -> list[tuple[bytes, bytes]]:
        return [(key.encode(), value) for key, value in self.table.items()]


# --- a sighting, and the child it is about --------------------------------------------------------


def test_a_new_childs_first_sighting_goes_to_a_child_named_after_it():
    ada = contact("ada", 1, nhs="N1")

    effects = Identities().sighting(ada.sighting, ada.entry)

    assert effects.updates == [ChildUpdate(child_key=ck("ada"), add=(ada.entry,))]
    row = SightingRow.model_validate_json(effects.rows["s:ada"])
    assert (row.sighting, row.entry, row.sent_to) == (
        ("ada", "ada-greenway|2015-03-02", "2015-03-02", "N1"),
        ada.entry,
        [ck("ada")],
    )
    assert set(effects.rows) == {"s:ada"}


def test_a_later_sighting_of_the_child_goes_to_that_child_alone():
    agent = InProcess()
    agent.feed(contact("ada", 1, nhs="N1"))
    later = contact("later", 2, nhs="N1", name="someone-else")  # the NHS number is enough

    effects = agent.feed(later)

    assert effects.updates == [ChildUpdate(child_key=ck("ada"), add=(later.entry,))]
    assert agent.children.entries() == {ck("ada"): {"ada", "later"}}


def test_a_tying_sighting_moves_the_earlier_sighting_with_its_decisions_to_the_tied_child():
    # The GP knows the NHS number, the school only the name and date of birth: two children, until
    # a contact carries both. The school's contact, and its decision, move to the GP's child.
    gp, school = contact("gp", 1, nhs="N1", name="x-y"), contact("school", 2)
    school_decided = decision("dc-school", "school")
    agent = InProcess()
    agent.feed(gp, school, school_decided)
    assert agent.children.entries() == {ck("gp"): {"gp"}, ck("school"): {"school", "dc-school"}}
    tie = contact("tie", 3, nhs="N1")

    effects = agent.feed(tie)

    moved = school.entry.model_copy(update={"placement": 1})  # its first move to another child
    assert by_child(effects) == {
        ck("gp"): ChildUpdate(child_key=ck("gp"), add=(moved, school_decided, tie.entry)),
        ck("school"): ChildUpdate(child_key=ck("school"), remove=("school", "dc-school")),
    }
    assert agent.children.entries() == {ck("gp"): {"gp", "school", "dc-school", "tie"}}
    assert SightingRow.model_validate_json(effects.rows["s:school"]).sent_to == [ck("school"), ck("gp")]


def test_a_tying_sighting_earlier_than_both_renames_both_children_after_itself():
    agent = InProcess()
    agent.feed(contact("gp", 2, nhs="N1", name="x-y"), contact("school", 3))

    effects = agent.feed(contact("tie", 1, nhs="N1"))  # received first, read last

    assert {u.child_key: set(u.remove) for u in effects.updates if u.remove} == {
        ck("gp"): {"gp"},
        ck("school"): {"school"},
    }
    assert agent.children.entries() == {ck("tie"): {"tie", "gp", "school"}}


# --- a person's decisions follow their contact ----------------------------------------------------


def test_a_decision_before_its_contact_waits_and_comes_with_the_contact():
    ada, confirmed = contact("ada", 1), decision("dc-1", "ada")
    identities = Identities()

    waiting = identities.decision(confirmed)

    assert waiting.updates == []  # nobody knows whose it is yet
    assert set(waiting.rows) == {"p:ada"}
    assert PendingRow.model_validate_json(waiting.rows["p:ada"]).decisions == {"dc-1": confirmed}

    effects = identities.sighting(ada.sighting, ada.entry)

    assert effects.updates == [ChildUpdate(child_key=ck("ada"), add=(ada.entry, confirmed))]
    assert PendingRow.model_validate_json(effects.rows["p:ada"]).decisions == {}
    assert SightingRow.model_validate_json(effects.rows["s:ada"]).decisions == {"dc-1": confirmed}


def test_a_decision_after_its_contact_goes_to_the_contacts_child():
    agent = InProcess()
    agent.feed(contact("ada", 1), contact("other", 2, name="bo-other"))
    confirmed = decision("dc-1", "ada")

    effects = agent.feed(confirmed)

    assert effects.updates == [ChildUpdate(child_key=ck("ada"), add=(contact("ada", 1).entry, confirmed))]
    assert agent.children.entries() == {ck("ada"): {"ada", "dc-1"}, ck("other"): {"other"}}


def test_a_decision_about_a_contact_that_moved_goes_to_its_new_child_and_never_to_the_old():
    agent = InProcess()
    agent.feed(contact("gp", 1, nhs="N1", name="x-y"), contact("school", 2), contact("tie", 3, nhs="N1"))

    effects = agent.feed(decision("dc-school", "school"))

    assert ck("gp") in by_child(effects)
    assert "dc-school" in by_child(effects)[ck("school")].remove  # the old child is told again
    assert agent.children.entries() == {ck("gp"): {"gp", "school", "tie", "dc-school"}}


def test_a_contact_to_check_names_the_same_conflicting_contact_whatever_order_they_arrived_in():
    ada, early = contact("ada", 1, nhs="N1"), contact("early", 0, nhs="N1")
    wrong = contact("wrong", 2, nhs="N1", name="bo-other", dob="2019-06-06")
    in_time, early_last = InProcess(), InProcess()

    in_time.feed(early, ada, wrong)
    early_last.feed(ada, wrong, early)  # the child's earliest contact read last

    assert early_last.children.entries() == in_time.children.entries()
    assert early_last.children.entry("wrong") == in_time.children.entry("wrong")


# --- redelivery -----------------------------------------------------------------------------------


def test_a_redelivered_sighting_sends_its_components_updates_again_and_changes_nothing():
    gp, school, tie = (
        contact("gp", 1, nhs="N1", name="x-y"),
        contact("school", 2),
        contact("tie", 3, nhs="N1"),
    )
    school_decided = decision("dc-school", "school")
    agent = InProcess()
    agent.feed(gp, school, school_decided, tie)
    index = dict(agent.identities.index.child_of)
    children = agent.children.entries()

    # A crash after the rows were kept and before the updates reached Kafka: the event comes again.
    effects = agent.feed(school)

    moved = school.entry.model_copy(update={"placement": 1})
    assert by_child(effects) == {
        ck("gp"): ChildUpdate(child_key=ck("gp"), add=(gp.entry, moved, school_decided, tie.entry)),
        ck("school"): ChildUpdate(child_key=ck("school"), remove=("school", "dc-school")),
    }
    assert set(effects.rows) == {"s:gp", "s:school", "s:tie"}
    assert agent.identities.index.child_of == index
    assert agent.children.entries() == children


def test_a_redelivered_identity_decision_sends_the_updates_again_and_changes_nothing():
    one, other = contact("one", 1, name="aisha-khan"), contact("other", 2, name="ayesha-khan")
    link = identity_decision("dc-link", IdentityAction.LINK, ("other",), ("one",))
    agent = InProcess()
    first = agent.feed(one, other, link)

    again = agent.feed(link)

    assert by_child(again) == by_child(first)
    assert agent.children.entries() == {ck("one"): {"one", "other"}}


# --- identity decisions ---------------------------------------------------------------------------


def test_an_identity_to_check_is_a_child_of_its_own_flagged_with_the_child_it_conflicts_with():
    # A date of birth mistyped: the NHS number is already another date of birth's.
    agent = InProcess()
    agent.feed(contact("ada", 1, nhs="N1"))

    effects = agent.feed(contact("typo", 2, nhs="N1", dob="2015-03-20"))

    [update] = effects.updates
    assert update.child_key == ck("typo")
    [flagged] = update.add
    assert isinstance(flagged, ContactEntry)
    assert (flagged.identity_to_check, flagged.identity_conflict) == (True, "ada")
    # The row keeps the contact as it came; the flag is the index's to give.
    kept = SightingRow.model_validate_json(effects.rows["s:typo"]).entry
    assert kept == contact("typo", 2, nhs="N1", dob="2015-03-20").entry


def test_same_child_moves_an_identity_to_check_to_that_child_and_clears_the_flag():
    agent = InProcess()
    agent.feed(contact("ada", 1, nhs="N1"), contact("typo", 2, nhs="N1", dob="2015-03-20"))
    typo_decided = decision("dc-typo", "typo")
    agent.feed(typo_decided)
    same = identity_decision("dc-same", IdentityAction.SAME_CHILD, ("typo",), ("ada",))

    effects = agent.feed(same)

    assert by_child(effects)[ck("typo")].remove == ("typo", "dc-typo")
    assert agent.children.entries() == {ck("ada"): {"ada", "typo", "dc-typo"}}
    assert (
        agent.children.entry("typo").identity_to_check,
        agent.children.entry("typo").identity_conflict,
    ) == (
        False,
        None,
    )
    assert IdentityDecisionEvent.model_validate_json(effects.rows["i:dc-same"]) == same


def test_different_child_keeps_it_apart_joins_it_to_its_own_name_and_clears_the_flag():
    # A child given another child's NHS number, and a later contact knowing them by name alone.
    ada = contact("ada", 1, nhs="N1")
    wrong = contact("wrong", 2, nhs="N1", name="bo-other", dob="2019-06-06")
    bo = contact("bo", 3, name="bo-other", dob="2019-06-06")
    agent = InProcess()
    agent.feed(ada, wrong, bo)
    assert agent.children.entries() == {ck("ada"): {"ada"}, ck("wrong"): {"wrong"}, ck("bo"): {"bo"}}
    assert agent.children.entry("wrong").identity_to_check

    agent.feed(identity_decision("dc-diff", IdentityAction.DIFFERENT_CHILD, ("wrong",), ("ada",)))

    assert agent.children.entries() == {ck("ada"): {"ada"}, ck("wrong"): {"wrong", "bo"}}
    assert not agent.children.entry("wrong").identity_to_check


def test_a_link_makes_two_records_one_child_and_a_later_split_makes_them_two_again():
    # Records no exact identifier ties: a name spelled two ways.
    one, other = contact("one", 1, name="aisha-khan"), contact("other", 2, name="ayesha-khan")
    agent = InProcess()
    agent.feed(one, other, decision("dc-other", "other"))

    agent.feed(identity_decision("dc-link", IdentityAction.LINK, ("other",), ("one",)))
    assert agent.children.entries() == {ck("one"): {"one", "other", "dc-other"}}

    agent.feed(identity_decision("dc-split", IdentityAction.SPLIT, ("other",), ("one",), hours=200))
    assert agent.children.entries() == {ck("one"): {"one"}, ck("other"): {"other", "dc-other"}}


def test_a_split_keeps_apart_contacts_their_identifiers_would_tie():
    agent = InProcess()
    agent.feed(contact("a", 1, nhs="N1"), contact("b", 2, nhs="N1"))
    assert agent.children.entries() == {ck("a"): {"a", "b"}}

    effects = agent.feed(identity_decision("dc-split", IdentityAction.SPLIT, ("b",), ("a",)))

    assert by_child(effects)[ck("a")].remove == ("b",)
    assert agent.children.entries() == {ck("a"): {"a"}, ck("b"): {"b"}}


def test_an_identity_decision_before_its_contacts_holds_once_they_come():
    agent = InProcess()
    split = identity_decision("dc-split", IdentityAction.SPLIT, ("b",), ("a",))
    assert agent.feed(split).updates == []

    agent.feed(contact("a", 1, nhs="N1"), contact("b", 2, nhs="N1"))

    assert agent.children.entries() == {ck("a"): {"a"}, ck("b"): {"b"}}


# --- a worker taking the identities over ----------------------------------------------------------


def test_loaded_from_the_rows_a_run_wrote_it_is_the_same_index_and_sends_the_same_updates():
    ran = InProcess()
    ran.feed(
        contact("ada", 1, nhs="N1"),
        contact("school", 2, name="ada-g", dob="2015-03-02"),
        decision("dc-early", "late"),  # its contact comes after the takeover
        contact("typo", 3, nhs="N1", dob="2015-03-20"),
        decision("dc-ada", "ada"),
        identity_decision("dc-link", IdentityAction.LINK, ("school",), ("ada",)),
    )

    loaded = Identities()
    loaded.load(ran.stored())

    index, original = loaded.index, ran.identities.index
    assert (index.child_of, index.to_check, index.conflict_with) == (
        original.child_of,
        original.to_check,
        original.conflict_with,
    )
    assert loaded.rows == ran.identities.rows
    assert loaded.identity_decisions == ran.identities.identity_decisions == {"dc-link"}
    waiting = {sid: row for sid, row in loaded.pending.items() if row.decisions}
    assert waiting == ran.identities.pending

    # The same later events give the same updates and rows, whichever of the two takes them.
    later: list[Event] = [
        contact("late", 4, name="ada-g", dob="2015-03-02"),
        contact("typo", 3, nhs="N1", dob="2015-03-20"),  # a redelivery
        identity_decision("dc-same", IdentityAction.SAME_CHILD, ("typo",), ("ada",)),
        decision("dc-typo", "typo"),
    ]
    for event in later:
        from_run, from_load = feed(ran.identities, event), feed(loaded, event)
        assert (from_load.updates, from_load.rows) == (from_run.updates, from_run.rows)


# --- the guarantee: any arrival order, the children that resolving everything finds -------------

NAMES = ("ada-greenway", "bo-other", "cy-third")
DOBS = ("2015-03-02", "2019-06-06", "2015-03-20")


@dataclass(frozen=True)
class History:
    contacts: list[Contact]
    decisions: list[DecisionEntry]
    identity_decisions: list[IdentityDecisionEvent]

    def events(self) -> list[Event]:
        return [*self.contacts, *self.decisions, *self.identity_decisions]


@st.composite
def histories(draw: st.DrawFn) -> History:
    contacts = [
        contact(
            f"c{i}",
            draw(st.integers(min_value=0, max_value=40)),
            nhs=draw(st.sampled_from([None, "N1", "N2"])),
            name=draw(st.sampled_from(NAMES)),
            dob=draw(st.sampled_from(DOBS)),
        )
        for i in range(draw(st.integers(min_value=1, max_value=7)))
    ]
    ids = [c.id for c in contacts]
    decisions = [
        decision(f"dc{i}", draw(st.sampled_from(ids)), hours=draw(st.integers(min_value=0, max_value=60)))
        for i in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    identity_decisions = [
        identity_decision(
            f"id{i}",
            draw(st.sampled_from(list(IdentityAction))),
            (draw(st.sampled_from(ids)),),
            (draw(st.sampled_from(ids)),),
            hours=draw(st.integers(min_value=0, max_value=60)),
        )
        for i in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    return History(contacts, decisions, identity_decisions)


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[History, list[Event]]:
    """A history, and its events in some arrival order, some of them delivered twice."""
    history = draw(histories())
    events = history.events()
    again = draw(st.lists(st.sampled_from(events), max_size=3))
    return history, draw(st.permutations([*events, *again]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_in_any_arrival_order_every_entry_ends_with_the_child_resolving_everything_finds(
    case: tuple[History, list[Event]],
):
    history, arrived = case
    agent = InProcess()
    agent.feed(*arrived)

    everything = resolve(
        [c.sighting for c in history.contacts], [d.decision() for d in history.identity_decisions]
    )
    expected: dict[str, set[str]] = {}
    for c in history.contacts:
        expected.setdefault(everything.child_of[c.id], set()).add(c.id)
    for d in history.decisions:
        expected[everything.child_of[d.contact_id]].add(d.id)
    assert agent.children.entries() == expected
    # And every contact is flagged as resolving everything flags it.
    assert {c.id for c in history.contacts if agent.children.entry(c.id).identity_to_check} == set(
        everything.to_check
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals(), st.data())
def test_a_worker_taking_over_at_any_point_sends_what_the_one_before_would_have(
    case: tuple[History, list[Event]], data: st.DataObject
):
    _, arrived = case
    taken_over = data.draw(st.integers(min_value=0, max_value=len(arrived)), label="taken over after")
    ran = InProcess()
    ran.feed(*arrived[:taken_over])
    loaded = Identities()
    loaded.load(ran.stored())

    for event in arrived[taken_over:]:
        from_run, from_load = feed(ran.identities, event), feed(loaded, event)
        assert (from_load.updates, from_load.rows) == (from_run.updates, from_run.rows)
