"""Contacts as the intake publishes them, and the case records the worker derives from them, for the
console's tests: the console reads both (the record for the queues, the contact for the child).

Times are Tuesday 10 March 2026 (GMT, so London time too) unless a test says otherwise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from mash.domain.case import CaseRecord
from mash.domain.contact import Child as ChildDetails
from mash.domain.contact import CinSource, Consent, ConsentStatus, ContactEvent, Identifiers, Referrer
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.derive import derive
from mash.domain.ruleset import Ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildTimeline, ContactEntry, DecisionEntry, Entry
from mash.views.queues import ConsoleView
from tests.support.imm_world import RAG_OF, RULESET, RULESETS
from tests.support.keys import sealed_json, test_keyring

NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)  # Tuesday, inside working hours


def next_year_ruleset() -> Ruleset:
    """Next year's thresholds, registered beside this year's: persistent absence is early help."""
    data = RULESET.model_dump()
    data.update(version="2027.1", effective_from=date(2026, 4, 1))
    for indicator in data["indicators"]:
        if indicator["code"] == "persistent_absence":
            indicator["level"] = 2
    return Ruleset.model_validate(data)


NEXT_YEAR = next_year_ruleset()
BOTH = RulesetHistory.of(RULESET, NEXT_YEAR)
NARRATIVE = "Fictional narrative: the school reports a worrying pattern at home."


def contact_event(
    contact_id: str,
    *indicators: str,
    at: datetime = NOW - timedelta(hours=1),
    child_key: str = "ck-1",
    given: str = "Quillon",
    family: str = "Marchbank",
    born: date | None = date(2013, 9, 30),
    expected: date | None = None,
    consent: Consent | None = None,
    referrer: Referrer | None = None,
    narrative: str = NARRATIVE,
) -> ContactEvent:
    """A school's contact about one child (born 30 September 2013 unless told: unborn with `expected`)."""
    return ContactEvent(
        contact_id=contact_id,
        # The child's identifiers, as keyed hashes: each test child is known by its own.
        identifiers=Identifiers(nhs=None, name_dob=f"name-{child_key}", dob=f"dob-{child_key}"),
        agency="school",
        agency_reference=f"REF-{contact_id}",
        child_index=0,
        children_in_submission=1,
        received_at=at,
        accepted_at=at + timedelta(seconds=1),
        source=CinSource.SCHOOLS,
        child=ChildDetails(
            given_name=given,
            family_name=family,
            date_of_birth=None if expected else born,
            unborn=expected is not None,
            expected_date=expected,
        ),
        indicators=list(indicators or ("persistent_absence",)),
        narrative=narrative,
        consent=consent if consent is not None else Consent(status=ConsentStatus.GIVEN),
        referrer=referrer
        if referrer is not None
        else Referrer(name="A Teacher", role="teacher", phone="0151"),
    )


def decision_event(
    contact_id: str, action: DecisionAction, *, child_key: str = "ck-1", **fields: Any
) -> DecisionEvent:
    values: dict[str, Any] = {
        "decision_id": f"dc-{action.value}-{contact_id}",
        "contact_id": contact_id,
        "child_key": child_key,
        "action": action,
        "decided_at": NOW - timedelta(minutes=30),
        "by": "coordinator-7",
        "role": Role.COORDINATOR,
        "rationale": "Spoke to the school; recorded in the case notes.",
    }
    return DecisionEvent(**(values | fields))


def confirm_event(contact_id: str, level: int = 3, **fields: Any) -> DecisionEvent:
    return decision_event(contact_id, DecisionAction.CONFIRM, level=level, rag=RAG_OF[level], **fields)


def records(
    *events: ContactEvent | DecisionEvent, rulesets: RulesetHistory = RULESETS, child_key: str = "ck-1"
) -> dict[str, CaseRecord]:
    """The records the worker derives for one child from these events."""
    timeline = ChildTimeline()
    for event in events:
        entry: Entry = (
            ContactEntry.of(event, RULESET.version)
            if isinstance(event, ContactEvent)
            else DecisionEntry.of(event)
        )
        timeline = timeline.with_entry(entry)
    return derive(child_key, timeline, rulesets).records


def child_key_of(event: ContactEvent | DecisionEvent) -> str:
    """The child key a test gave the event (`contact_event(child_key=...)`)."""
    if isinstance(event, DecisionEvent):
        assert event.child_key is not None
        return event.child_key
    return event.identifiers.name_dob.removeprefix("name-")


def view_with(*events: ContactEvent | DecisionEvent, rulesets: RulesetHistory = RULESETS) -> ConsoleView:
    """A console view that has read these events' contacts and the records derived from them
    (each child's events derived together)."""
    view = ConsoleView(test_keyring())
    by_child: dict[str, list[ContactEvent | DecisionEvent]] = {}
    for event in events:
        by_child.setdefault(child_key_of(event), []).append(event)
        if isinstance(event, ContactEvent):
            view.add_contact(event.contact_id, sealed_json(view.keyring, event))
    for child_key, theirs in by_child.items():
        for record in records(*theirs, rulesets=rulesets, child_key=child_key).values():
            view.apply_case(record)
    return view


def child_contact(
    contact_id: str,
    *indicators: str,
    postcode: str | None = None,
    nhs: str | None = None,
    **fields: Any,
) -> ContactEvent:
    """`contact_event` with the child's postcode, and the keyed hash of an NHS number (`nhs`, e.g.
    "nhs-1": two contacts with the same one share the identifier), for the identity pages."""
    event = contact_event(contact_id, *indicators, **fields)
    child = event.child.model_copy(update={"postcode": postcode})
    identifiers = event.identifiers.model_copy(update={"nhs": nhs})
    return event.model_copy(update={"child": child, "identifiers": identifiers})


def identity_to_check(view: ConsoleView, contact_id: str, conflict: str) -> CaseRecord:
    """The contact's record as the worker publishes an identity to check: its identifiers conflict
    with those of `conflict`'s child (a contact or outcome id)."""
    record = view.records[contact_id].model_copy(
        update={"identity_to_check": True, "identity_conflict": conflict}
    )
    view.apply_case(record)
    return record
