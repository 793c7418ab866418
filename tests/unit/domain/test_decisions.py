"""What a decision or an outcome event must carry before the service accepts it.

Decisions (`mash.decisions.v1`): every decision is a person's and has a rationale; a confirm
names the level and RAG the coordinator confirmed; a change gives a new level or RAG; only those
two set a level or RAG; a sign-off names the decision it approves and, like a rescreen (which
names the ruleset version), is made by a manager.
Outcomes (`POST /v1/outcomes`): "no further action" is only meaningful when a case closes; a
plan's own id (`plan_id`) only on a plan's start or end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from mash.domain.contact import Child, Identifiers
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.outcomes import OutcomeEvent, OutcomeSubmission, OutcomeType
from mash.domain.ruleset import Rag
from mash.domain.timeline import DecisionEntry, OutcomeEntry

DECIDED_AT = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


def decision(**overrides: Any) -> DecisionEvent:
    fields: dict[str, Any] = {
        "decision_id": "dc-0001",
        "contact_id": "ct-0001",
        "child_key": "ck-fictional-child",
        "action": DecisionAction.CONFIRM,
        "decided_at": DECIDED_AT,
        "by": "coordinator-7",
        "role": Role.COORDINATOR,
        "rationale": "Agree with the screening: persistent absence despite school support.",
        "level": 3,
        "rag": Rag.AMBER,
    }
    if overrides.get("action", DecisionAction.CONFIRM) is not DecisionAction.CONFIRM:
        fields.update(level=None, rag=None)
    return DecisionEvent(**(fields | overrides))


def outcome_submission(**overrides: Any) -> OutcomeSubmission:
    fields: dict[str, Any] = {
        "type": OutcomeType.CASE_CLOSED,
        "child": Child(given_name="Testa", family_name="Sampleford", date_of_birth=date(2015, 3, 2)),
        "occurred_at": DECIDED_AT,
    }
    return OutcomeSubmission(**(fields | overrides))


# --- decisions: what each action accepts --------------------------------------------------------


def test_a_confirm_naming_what_it_confirms_with_a_rationale_is_accepted():
    event = decision()

    assert (event.action, event.level, event.rag, event.signs_off) == (
        DecisionAction.CONFIRM,
        3,
        Rag.AMBER,
        None,
    )
    assert event.schema_version == 1


@pytest.mark.parametrize(("level", "rag"), [(3, None), (None, Rag.RED)], ids=["no rag", "no level"])
def test_a_confirm_that_does_not_say_what_it_confirms_is_refused(level: int | None, rag: Rag | None):
    with pytest.raises(ValidationError, match="a confirm names the level and RAG confirmed"):
        decision(level=level, rag=rag)


def test_a_managers_rescreen_names_the_ruleset_version():
    event = decision(action=DecisionAction.RESCREEN, role=Role.MANAGER, ruleset_version="2027.1")

    assert (event.action, event.ruleset_version) == (DecisionAction.RESCREEN, "2027.1")


def test_a_coordinator_may_not_rescreen_and_a_rescreen_must_name_a_version():
    with pytest.raises(ValidationError, match="only a manager may rescreen"):
        decision(action=DecisionAction.RESCREEN, role=Role.COORDINATOR, ruleset_version="2027.1")
    with pytest.raises(ValidationError, match="ruleset_version is given with, and only with, a rescreen"):
        decision(action=DecisionAction.RESCREEN, role=Role.MANAGER)
    with pytest.raises(ValidationError, match="ruleset_version is given with, and only with, a rescreen"):
        decision(ruleset_version="2027.1")


def test_a_decision_event_is_always_a_persons():
    with pytest.raises(ValidationError, match="a decision event is a person's"):
        decision(role=Role.SERVICE)


@pytest.mark.parametrize(
    ("level", "rag"), [(3, None), (None, Rag.RED), (2, Rag.AMBER)], ids=["level", "rag", "both"]
)
def test_a_change_with_a_new_level_or_rag_or_both_is_accepted(level: int | None, rag: Rag | None):
    event = decision(action=DecisionAction.CHANGE, level=level, rag=rag)

    assert (event.level, event.rag) == (level, rag)


def test_a_managers_sign_off_naming_the_decision_it_approves_is_accepted():
    event = decision(action=DecisionAction.SIGN_OFF, role=Role.MANAGER, signs_off="dc-0000")

    assert event.signs_off == "dc-0000"


# --- decisions: what is refused -----------------------------------------------------------------


def test_a_decision_without_a_rationale_is_refused():
    without = decision().model_dump(exclude={"rationale"})

    with pytest.raises(ValidationError, match=r"rationale\n  Field required"):
        DecisionEvent.model_validate(without)


def test_an_empty_rationale_is_refused():
    with pytest.raises(ValidationError, match="at least 1 character"):
        decision(rationale="")


@pytest.mark.parametrize("blank", ["   ", "\n\t "], ids=["spaces", "whitespace"])
@pytest.mark.parametrize("action", ["confirm", "change", "sign_off"])
def test_a_blank_rationale_is_refused_for_every_action(blank: str, action: str):
    extras: dict[str, dict[str, Any]] = {
        "confirm": {"level": 3, "rag": Rag.AMBER},
        "change": {"level": 3},
        "sign_off": {"role": Role.MANAGER, "signs_off": "dc-0000"},
    }

    with pytest.raises(ValidationError, match="a rationale is required for every decision"):
        decision(action=DecisionAction(action), rationale=blank, **extras[action])


def test_a_rationale_over_5000_characters_is_refused():
    decision(rationale="x" * 5000)
    with pytest.raises(ValidationError, match="at most 5000 characters"):
        decision(rationale="x" * 5001)


def test_a_change_with_neither_level_nor_rag_is_refused():
    with pytest.raises(ValidationError, match="a change needs a new level or RAG"):
        decision(action=DecisionAction.CHANGE)


@pytest.mark.parametrize(("level", "rag"), [(3, None), (None, Rag.AMBER)], ids=["level", "rag"])
def test_a_sign_off_may_not_set_a_level_or_rag(level: int | None, rag: Rag | None):
    with pytest.raises(ValidationError, match="only a confirm or a change sets a level or RAG"):
        decision(action=DecisionAction.SIGN_OFF, role=Role.MANAGER, signs_off="dc-0000", level=level, rag=rag)


def test_a_sign_off_must_name_the_decision_it_approves():
    with pytest.raises(ValidationError, match="signs_off is given with, and only with, a sign_off"):
        decision(action=DecisionAction.SIGN_OFF, role=Role.MANAGER)


@pytest.mark.parametrize(
    ("action", "extra"),
    [(DecisionAction.CONFIRM, {"level": 3, "rag": Rag.AMBER}), (DecisionAction.CHANGE, {"level": 3})],
    ids=["confirm", "change"],
)
def test_only_a_sign_off_names_a_decision_it_approves(action: DecisionAction, extra: dict[str, Any]):
    with pytest.raises(ValidationError, match="signs_off is given with, and only with, a sign_off"):
        decision(action=action, signs_off="dc-0000", **extra)


def test_a_coordinator_may_not_sign_off():
    with pytest.raises(ValidationError, match="only a manager may sign off"):
        decision(action=DecisionAction.SIGN_OFF, role=Role.COORDINATOR, signs_off="dc-0000")


@pytest.mark.parametrize("level", [0, 5])
def test_a_change_to_a_level_outside_1_to_4_is_refused(level: int):
    with pytest.raises(ValidationError, match="level"):
        decision(action=DecisionAction.CHANGE, level=level)


def test_a_decision_must_say_who_made_it():
    with pytest.raises(ValidationError, match="at least 1 character"):
        decision(by="")


def test_a_decision_time_without_a_time_zone_is_refused():
    with pytest.raises(ValidationError, match="timezone"):
        decision(decided_at=datetime(2026, 3, 10, 11, 0))  # naive on purpose


def test_a_decision_with_an_unknown_field_is_refused():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        decision(comment="not part of the contract")


# --- decisions and outcomes as timeline entries -------------------------------------------------


def test_a_decision_becomes_a_timeline_entry_carrying_everything_derive_needs():
    event = decision(action=DecisionAction.CHANGE, level=2, rationale="Family engaging with school.")

    entry = DecisionEntry.of(event)

    assert entry.kind == "decision"
    assert (entry.id, entry.at, entry.contact_id) == ("dc-0001", DECIDED_AT, "ct-0001")
    assert (entry.action, entry.by, entry.role) == (DecisionAction.CHANGE, "coordinator-7", Role.COORDINATOR)
    assert (entry.level, entry.rag, entry.signs_off) == (2, None, None)
    assert entry.rationale == "Family engaging with school."


def test_an_outcome_becomes_a_timeline_entry_without_the_childs_identity():
    event = OutcomeEvent(
        outcome_id="oc-0001",
        identifiers=Identifiers(nhs="id-nhs", name_dob="id-name-dob", dob="id-dob"),
        agency="case-system",
        type=OutcomeType.CASE_CLOSED,
        occurred_at=DECIDED_AT,
        nfa=True,
        accepted_at=DECIDED_AT,
    )

    entry = OutcomeEntry.of(event)

    assert entry.model_dump() == {
        "kind": "outcome",
        "id": "oc-0001",
        "at": DECIDED_AT,
        "type": OutcomeType.CASE_CLOSED,
        "nfa": True,
        "plan_ref": None,
        "placement": 0,  # not moved between children (the identities agent counts moves)
    }


# --- outcome submissions ------------------------------------------------------------------------


@pytest.mark.parametrize("nfa", [True, False])
def test_a_case_closed_may_say_whether_it_was_no_further_action(nfa: bool):
    assert outcome_submission(nfa=nfa).nfa is nfa


@pytest.mark.parametrize("kind", [OutcomeType.CP_PLAN_STARTED, OutcomeType.CP_PLAN_ENDED])
def test_no_further_action_is_refused_on_anything_but_a_case_closed(kind: OutcomeType):
    with pytest.raises(ValidationError, match="nfa is only meaningful on case_closed"):
        outcome_submission(type=kind, nfa=True)


@pytest.mark.parametrize("kind", list(OutcomeType))
def test_nfa_defaults_to_false_for_every_outcome(kind: OutcomeType):
    assert outcome_submission(type=kind).nfa is False


def test_an_outcome_time_without_a_time_zone_is_refused():
    with pytest.raises(ValidationError, match="timezone"):
        outcome_submission(occurred_at=datetime(2026, 3, 10, 11, 0))  # naive on purpose


def test_an_outcome_of_an_unknown_type_is_refused():
    with pytest.raises(ValidationError, match="type"):
        outcome_submission(type="child_adopted")


def test_an_outcome_reference_is_trimmed_and_may_not_be_blank():
    assert outcome_submission(reference="  CS-123  ").reference == "CS-123"
    with pytest.raises(ValidationError, match="at least 1 character"):
        outcome_submission(reference="   ")


def test_a_plans_own_id_is_given_only_with_a_plans_start_or_end():
    assert outcome_submission(type=OutcomeType.CP_PLAN_STARTED, plan_id="CP-9").plan_id == "CP-9"
    with pytest.raises(ValidationError, match="plan_id is only for cp_plan_started and cp_plan_ended"):
        outcome_submission(plan_id="CP-9")
