"""The decision form: what a coordinator's or manager's form becomes (a DecisionEvent), or why it is
refused, in words they can act on. Records are derived the way the worker derives them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from mash.console.forms import Refused, decision_from_form, pending_sign_offs, rescreen_versions
from mash.console.users import ConsoleRole, User
from mash.domain.case import CaseRecord
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.ruleset import Rag
from tests.support.console_world import confirm_event, contact_event, decision_event, records

NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
COORDINATOR = User(username="cora", role=ConsoleRole.COORDINATOR, password_hash="$argon2id$x")
MANAGER = User(username="mani", role=ConsoleRole.MANAGER, password_hash="$argon2id$x")
REGISTERED = ("2026.2", "2027.1")


def waiting(*indicators: str) -> CaseRecord:
    """A contact waiting for a decision (level 3, amber, unless the indicators say otherwise)."""
    return records(contact_event("ct-1", *indicators))["ct-1"]


def lowered_level_4() -> CaseRecord:
    """A level 4 contact a coordinator lowered to level 3: waiting for a manager's sign-off."""
    lowered = decision_event("ct-1", DecisionAction.CHANGE, level=3, decision_id="dc-lower")
    return records(contact_event("ct-1", "disclosure_of_abuse"), lowered)["ct-1"]


def form(record: CaseRecord, **fields: str) -> dict[str, str]:
    """The fields the case page sends, with the level and RAG it showed."""
    return {"seen_level": str(record.level), "seen_rag": record.rag.value, **fields}


@pytest.mark.parametrize("rationale", ["", "   \n  "])
def test_a_decision_without_a_rationale_is_refused(rationale: str) -> None:
    record = waiting()
    outcome = decision_from_form(
        form(record, action="confirm", rationale=rationale), record, COORDINATOR, NOW
    )
    assert isinstance(outcome, Refused)
    assert any("rationale" in e for e in outcome.errors)


def test_a_confirm_names_the_level_and_rag_the_page_showed() -> None:
    record = waiting("persistent_absence")
    fields = form(record, action="confirm", rationale="Agree with the recommendation.")
    event = decision_from_form(fields, record, COORDINATOR, NOW)
    assert isinstance(event, DecisionEvent)
    assert (event.action, event.level, event.rag) == (DecisionAction.CONFIRM, 3, Rag.AMBER)


def test_a_confirm_ignores_a_level_or_rag_sent_with_it() -> None:
    record = waiting("persistent_absence")
    fields = form(record, action="confirm", level="1", rag="blue", rationale="Agree.")
    event = decision_from_form(fields, record, COORDINATOR, NOW)
    assert isinstance(event, DecisionEvent)
    assert (event.level, event.rag) == (3, Rag.AMBER)


def test_a_change_of_level_becomes_a_decision_event_with_who_when_and_why() -> None:
    record = waiting()
    fields = form(record, action="change", level="2", rag="", rationale="Family engaging; early help fits.")
    event = decision_from_form(fields, record, COORDINATOR, NOW)
    assert isinstance(event, DecisionEvent)
    assert (event.action, event.level, event.rag) == (DecisionAction.CHANGE, 2, None)
    assert (event.by, event.role, event.decided_at, event.child_key, event.contact_id) == (
        "cora",
        Role.COORDINATOR,
        NOW,
        "ck-1",
        "ct-1",
    )
    assert re.fullmatch(r"dc-[0-9a-f]{32}", event.decision_id)


def test_a_change_of_rag_only_keeps_the_level() -> None:
    record = waiting()
    event = decision_from_form(
        form(record, action="change", level="3", rag="red", rationale="why"), record, MANAGER, NOW
    )
    assert isinstance(event, DecisionEvent)
    assert (event.level, event.rag, event.role) == (None, Rag.RED, Role.MANAGER)


def test_a_change_that_changes_nothing_is_refused() -> None:
    record = waiting()
    outcome = decision_from_form(
        form(record, action="change", level="3", rag="", rationale="why"), record, COORDINATOR, NOW
    )
    assert isinstance(outcome, Refused)
    assert "choose 'Confirm'" in outcome.errors[0]


def test_a_decision_on_a_stale_view_of_the_case_is_refused() -> None:
    record = waiting()
    fields = {"seen_level": "4", "seen_rag": "red", "action": "confirm", "rationale": "why"}
    outcome = decision_from_form(fields, record, COORDINATOR, NOW)
    assert isinstance(outcome, Refused)
    assert any("changed while you had it open" in e for e in outcome.errors)


def test_a_confirm_from_a_page_shown_before_a_colleagues_change_is_refused_not_applied_to_the_new_level() -> (
    None
):
    shown = waiting()
    changed = records(
        contact_event("ct-1"), decision_event("ct-1", DecisionAction.CHANGE, level=2, by="colleague")
    )["ct-1"]
    outcome = decision_from_form(form(shown, action="confirm", rationale="Agree."), changed, COORDINATOR, NOW)
    assert isinstance(outcome, Refused)
    assert "it is now level 2, green" in outcome.errors[0]


def test_a_form_with_no_action_asks_for_one() -> None:
    record = waiting()
    outcome = decision_from_form(form(record, rationale="why"), record, COORDINATOR, NOW)
    assert isinstance(outcome, Refused)
    assert outcome.errors == ["Choose whether to confirm the recommendation or change it."]


def test_no_decisions_on_a_closed_case() -> None:
    record = records(contact_event("ct-1"), decision_event("ct-1", DecisionAction.CHANGE, level=1))["ct-1"]
    outcome = decision_from_form(form(record, action="confirm", rationale="why"), record, COORDINATOR, NOW)
    assert isinstance(outcome, Refused)
    assert "This case is closed" in outcome.errors[0]


# --- sign-off ---------------------------------------------------------------------------------------


def test_only_a_manager_signs_off_and_only_a_decision_awaiting_it() -> None:
    record = lowered_level_4()
    assert pending_sign_offs(record) == {"dc-lower"}
    fields = form(record, action="sign_off", signs_off="dc-lower", rationale="Agreed.")
    refused = decision_from_form(fields, record, COORDINATOR, NOW)
    assert isinstance(refused, Refused)
    assert refused.errors == ["Only a manager can sign off a decision."]
    event = decision_from_form(fields, record, MANAGER, NOW)
    assert isinstance(event, DecisionEvent)
    assert (event.action, event.signs_off, event.role) == (DecisionAction.SIGN_OFF, "dc-lower", Role.MANAGER)
    other = form(record, action="sign_off", signs_off="dc-nope", rationale="Agreed.")
    assert isinstance(decision_from_form(other, record, MANAGER, NOW), Refused)


def test_a_signed_off_change_no_longer_waits_for_sign_off() -> None:
    signed = decision_event(
        "ct-1",
        DecisionAction.SIGN_OFF,
        decision_id="dc-sign",
        signs_off="dc-lower",
        role=Role.MANAGER,
        by="mani",
        decided_at=NOW - timedelta(minutes=10),
    )
    lowered = decision_event("ct-1", DecisionAction.CHANGE, level=3, decision_id="dc-lower")
    record = records(contact_event("ct-1", "disclosure_of_abuse"), lowered, signed)["ct-1"]
    assert pending_sign_offs(record) == set()
    assert record.level == 3


# --- rescreen ---------------------------------------------------------------------------------------


def test_a_managers_rescreen_names_the_version_chosen() -> None:
    record = waiting()
    fields = form(record, action="rescreen", ruleset_version="2027.1", rationale="The new thresholds apply.")
    event = decision_from_form(fields, record, MANAGER, NOW, REGISTERED)
    assert isinstance(event, DecisionEvent)
    assert (event.action, event.ruleset_version, event.role, event.level, event.rag) == (
        DecisionAction.RESCREEN,
        "2027.1",
        Role.MANAGER,
        None,
        None,
    )


def test_a_rescreen_may_choose_any_registered_version_but_the_contacts_own() -> None:
    assert rescreen_versions(waiting(), ["2027.1", "2026.2", "2025.9", "2027.1"]) == ["2025.9", "2027.1"]
    assert rescreen_versions(waiting(), ["2026.2"]) == []


@pytest.mark.parametrize(
    ("who", "version", "record", "error"),
    [
        (COORDINATOR, "2027.1", waiting, "Only a manager can have a contact screened again"),
        (MANAGER, "2026.2", waiting, "already screened under ruleset 2026.2"),
        (MANAGER, "2099.1", waiting, "Choose a registered ruleset version"),
        (
            MANAGER,
            "2027.1",
            lambda: records(contact_event("ct-1"), confirm_event("ct-1"))["ct-1"],
            "only a contact awaiting a decision can be re-screened",
        ),
    ],
    ids=["a coordinator", "its own version", "an unregistered version", "a decided contact"],
)
def test_a_rescreen_is_refused_for(
    who: User, version: str, record: Callable[[], CaseRecord], error: str
) -> None:
    shown = record()
    fields = form(shown, action="rescreen", ruleset_version=version, rationale="why")
    outcome = decision_from_form(fields, shown, who, NOW, REGISTERED)
    assert isinstance(outcome, Refused)
    assert any(error in e for e in outcome.errors), outcome.errors
