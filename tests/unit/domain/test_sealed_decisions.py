"""What people type into decisions travels sealed, like a contact's personal details: a rationale,
an IMM dissent, each agreed action's what and owner, a single agency's name, and an identity
decision's rationale. Each is sealed under the data key of its contact (the token of a contact's
key is its contact id), the decision id and the field bound in, so it opens only where it was
sealed for. The worker copies sealed values unopened into the timeline and the trail.
"""

from __future__ import annotations

from datetime import date, timedelta

import orjson
import pytest

from mash.adapters.keyring import Keyring
from mash.adapters.sealing import Unreadable
from mash.domain.case import CaseRecord
from mash.domain.decisions import (
    ConsentBasis,
    DecisionAction,
    DecisionEvent,
    ImmAction,
    ImmOutcome,
    PartnerAgency,
    Role,
)
from mash.domain.persons import IdentityAction, IdentityDecisionEvent
from mash.domain.sealed import Sealed
from mash.domain.timeline import DecisionEntry
from tests.support.imm_world import FRI, contact, decision_event, london, record
from tests.support.keys import test_keyring

# Fictional free text, each piece unlike anything else in an event.
RATIONALE = "Kestrelwyn said her stepfather Baxendale hits her"
DISSENT = "Police disagree: Mrs Fothergilly refused entry"
WHAT = "Visit Thistlewood Close with the health visitor"
OWNER = "Ms Pendragonne, early help hub"
WHAT_2 = "Ask Larkspur Primary about attendance"
OWNER_2 = "Mr Quenbury, education welfare"
AGENCY = "Saltmarsh school nursing team"
TEXTS = (RATIONALE, DISSENT, WHAT, OWNER, WHAT_2, OWNER_2, AGENCY)
NAMES = ("Kestrelwyn", "Baxendale", "Fothergilly", "Thistlewood", "Pendragonne", "Larkspur", "Quenbury")


def keyring(*contacts: str) -> Keyring:
    """The test master key, and a data key for each contact."""
    ring = test_keyring()
    for contact_id in contacts:
        ring.add(ring.new_key(contact_id)[0])
    return ring


def outcome(decision_id: str = "dc-1", contact_id: str = "ct-1") -> DecisionEvent:
    """A meeting's single agency outcome with every kind of free text, as the console makes it."""
    return decision_event(
        decision_id,
        contact_id,
        london(FRI, 12),
        DecisionAction.IMM_OUTCOME,
        rationale=RATIONALE,
        meeting_id="imm-2026-08-28",
        outcome=ImmOutcome.SINGLE_AGENCY,
        lead_agency=PartnerAgency.HEALTH,
        single_agency_name=AGENCY,
        consent_basis=ConsentBasis.GIVEN,
        actions=[
            ImmAction(what=WHAT, owner=OWNER, due=date(2026, 9, 4)),
            ImmAction(what=WHAT_2, owner=OWNER_2, due=date(2026, 9, 11)),
        ],
        dissent=DISSENT,
    )


def opened(ring: Keyring, sealed: str | Sealed | None, record_id: str) -> str:
    assert isinstance(sealed, Sealed), f"{record_id} is not sealed"
    return ring.open(sealed, record_id.encode()).decode()


def no_byte_of_the_texts(raw: str) -> None:
    for text in (*TEXTS, *NAMES, "Saltmarsh", "stepfather", "attendance"):
        assert text.lower() not in raw.lower(), text


def test_a_sealed_decision_holds_no_byte_of_what_was_typed():
    event = outcome()
    raw = event.sealed(keyring("ct-1").seal).model_dump_json()
    no_byte_of_the_texts(raw)
    # Still a valid decision event, as the worker reads it.
    parsed = DecisionEvent.model_validate_json(raw)
    assert (parsed.outcome, parsed.lead_agency, parsed.actions[1].due) == (
        ImmOutcome.SINGLE_AGENCY,
        PartnerAgency.HEALTH,
        date(2026, 9, 11),
    )
    # The plain event held all of it.
    assert all(text in event.model_dump_json() for text in TEXTS)


def test_each_sealed_text_opens_to_what_was_typed_with_the_keyring():
    ring = keyring("ct-1", "ct-2")
    sealed = outcome().sealed(ring.seal)
    parsed = DecisionEvent.model_validate_json(sealed.model_dump_json())
    assert opened(ring, parsed.rationale, "dc-1/rationale") == RATIONALE
    assert opened(ring, parsed.dissent, "dc-1/dissent") == DISSENT
    assert opened(ring, parsed.single_agency_name, "dc-1/single_agency_name") == AGENCY
    assert [
        (opened(ring, a.what, f"dc-1/actions/{n}/what"), opened(ring, a.owner, f"dc-1/actions/{n}/owner"))
        for n, a in enumerate(parsed.actions)
    ] == [(WHAT, OWNER), (WHAT_2, OWNER_2)]
    # Under the data key of the decision's own contact.
    assert isinstance(parsed.rationale, Sealed)
    assert parsed.rationale.key == ring.live["ct-1"]


def test_a_sealed_text_cannot_be_moved_to_another_decision_or_field():
    ring = keyring("ct-1", "ct-2")
    first = outcome("dc-1").sealed(ring.seal)
    assert isinstance(first.dissent, Sealed)
    assert isinstance(first.actions[0].what, Sealed)
    with pytest.raises(Unreadable):  # to another decision about the same contact
        opened(ring, first.rationale, "dc-2/rationale")
    with pytest.raises(Unreadable):  # to another field of the same decision
        opened(ring, first.dissent, "dc-1/rationale")
    with pytest.raises(Unreadable):
        opened(ring, first.actions[0].what, "dc-1/actions/0/owner")
    with pytest.raises(Unreadable):
        opened(ring, first.actions[0].what, "dc-1/actions/1/what")
    # Copied into a decision about another contact, it still names the first contact's key, and
    # does not open as that decision's.
    moved = outcome("dc-3", "ct-2").sealed(ring.seal).model_copy(update={"rationale": first.rationale})
    with pytest.raises(Unreadable):
        opened(ring, moved.rationale, "dc-3/rationale")


def test_sealing_needs_the_contacts_data_key_and_keeps_what_is_sealed_already():
    with pytest.raises(Unreadable):
        outcome(contact_id="ct-without-key").sealed(keyring("ct-1").seal)
    ring = keyring("ct-1")
    sealed = outcome().sealed(ring.seal)
    assert sealed.sealed(ring.seal) == sealed


def test_text_in_clear_stays_allowed_and_validated():
    """Events written before decisions were sealed, and the tests' own, carry plain text."""
    event = outcome()
    assert event.rationale == RATIONALE
    assert DecisionEvent.model_validate_json(event.model_dump_json()) == event
    with pytest.raises(ValueError, match="a rationale is required"):
        decision_event("dc-1", "ct-1", london(FRI, 12), level=3, rag="amber", rationale="   ")


def worker_record(event: DecisionEvent) -> CaseRecord:
    """The case record the worker derives from a contact and the decision about it."""
    return record("ct-1", contact("ct-1", london(FRI, 9)), DecisionEntry.of(event))


def test_the_worker_copies_sealed_text_unopened_into_the_timeline_and_the_trail():
    ring = keyring("ct-1")
    sealed = outcome().sealed(ring.seal)
    entry = DecisionEntry.of(sealed)
    assert entry.rationale == sealed.rationale
    assert entry.imm is not None
    assert entry.imm.actions == tuple(sealed.actions)
    case = worker_record(sealed)
    [step] = case.trail
    assert step.rationale == sealed.rationale
    assert step.imm is not None
    assert (step.imm.dissent, step.imm.single_agency_name) == (sealed.dissent, sealed.single_agency_name)
    assert opened(ring, step.rationale, f"{step.decision_id}/rationale") == RATIONALE
    # The pathway is in clear (partners see it): it names the route, never the typed agency name.
    assert case.pathway.startswith("Single agency support (agreed at the integrated mid-day meeting)")
    no_byte_of_the_texts(case.model_dump_json())
    assert CaseRecord.model_validate_json(case.model_dump_json()) == case


def test_text_in_clear_from_before_sealing_is_kept_in_the_trail_as_it_was():
    case = worker_record(outcome())
    assert case.trail[0].rationale == RATIONALE
    assert case.pathway.startswith(f"Single agency support: {AGENCY}")


def test_the_services_own_decision_stays_in_clear():
    case = record("ct-1", contact("ct-1", london(FRI, 9), ("no_unmet_needs",)))
    [step] = case.trail
    assert step.role is Role.SERVICE
    assert isinstance(step.rationale, str)
    assert step.rationale.startswith("Decided by the service")


def test_an_identity_decisions_rationale_is_sealed_under_its_first_subjects_key():
    ring = keyring("ct-2", "ct-1")
    event = IdentityDecisionEvent(
        decision_id="id-1",
        action=IdentityAction.SAME_CHILD,
        subjects=["ct-2"],
        others=["ct-1"],
        decided_at=london(FRI, 12) + timedelta(hours=1),
        by="coordinator-7",
        role=Role.COORDINATOR,
        rationale=RATIONALE,
    )
    sealed = event.sealed(ring.seal)
    raw = sealed.model_dump_json()
    no_byte_of_the_texts(raw)
    parsed = IdentityDecisionEvent.model_validate_json(raw)
    assert isinstance(parsed.rationale, Sealed)
    assert parsed.rationale.key == ring.live["ct-2"]
    assert opened(ring, parsed.rationale, "id-1/rationale") == RATIONALE
    with pytest.raises(Unreadable):
        opened(ring, parsed.rationale, "id-2/rationale")
    assert orjson.loads(raw)["subjects"] == ["ct-2"]
