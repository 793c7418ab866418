"""`mash replay` lines: a contact, an outcome or a person's decision, as Kafka records.

A decision line names its contact as the partner did (agency, agency reference, child index)
and itself by a reference of its own (docs/figures.md, "Replay files").
`mash.domain.submissions.decision_event` turns it into the event on the decisions topic: the
contact id the intake gave the contact, the child key of the contact line before it (the
record's Kafka key, which the worker checks), and a decision id keyed from its reference.
`mash.cli.replay.LineReader` reads a file's lines in order and reports a bad line with a reason
that names no personal data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from mash.cli.replay import LineReader
from mash.config import Settings
from mash.domain.contact import SealedContactEvent
from mash.domain.decisions import DecisionAction, DecisionEvent, RecordedDecision, Role
from mash.domain.identity import contact_id
from mash.domain.ruleset import Rag, Ruleset, load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.sealed import Sealed
from mash.domain.submissions import UnknownContact, decision_event, decision_id
from mash.intake.agencies import DEMO_AGENCIES, Agency
from tests.support.keys import test_keyring

SECRET = b"a test secret, never a real one"
SETTINGS = Settings(mode="development", child_key_secret=SECRET.decode(), topic_prefix="t")
AGENCIES = {
    agency_id: Agency(id=agency_id, name=name, default_source=source, can_report_outcomes=outcomes)
    for agency_id, name, source, outcomes in DEMO_AGENCIES
}
RULESET = load_ruleset()
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

SIBLINGS = [
    {"given_name": "Testa", "family_name": "Sampleford", "date_of_birth": "2015-03-02"},
    {"given_name": "Proba", "family_name": "Sampleford", "date_of_birth": "2017-06-09"},
]
SECOND_CONTACT = contact_id(SECRET, "police", "POL-1", 1)


def contact_line(
    reference: str = "POL-1", received_at: str = "2025-05-06T09:00:00Z", **changes: Any
) -> bytes:
    submission = {
        "agency_reference": reference,
        "received_at": received_at,
        "children": SIBLINGS,
        "indicators": ["domestic_abuse_in_home"],
        "consent": {"status": "given"},
        "referrer": {"name": "PC Example", "role": "officer", "phone": "01632 960001"},
        **changes,
    }
    return orjson.dumps({"kind": "contact", "agency": "police", "submission": submission})


def recorded(**changes: Any) -> dict[str, Any]:
    """A coordinator's confirm of the second child's contact."""
    return {
        "contact": {"agency": "police", "agency_reference": "POL-1", "child": 1},
        "reference": "SIM-1-D000001",
        "action": "confirm",
        "decided_at": "2025-05-06T11:00:00Z",
        "by": "coordinator-3",
        "role": "coordinator",
        "level": 3,
        "rag": "amber",
        "rationale": "Agreed with the screening.",
        **changes,
    }


def decision_line(**changes: Any) -> bytes:
    return orjson.dumps({"kind": "decision", "decision": recorded(**changes)})


def event(**changes: Any) -> DecisionEvent:
    return decision_event(SECRET, RecordedDecision.model_validate(recorded(**changes)), {SECOND_CONTACT})


def reader(rulesets: RulesetHistory | None = None) -> LineReader:
    return LineReader(AGENCIES, rulesets or RulesetHistory.of(RULESET), SECRET, SETTINGS, NOW, test_keyring())


# --- the pure mapping ------------------------------------------------------------------------------------


def test_a_decision_names_the_contact_id_the_intake_gave_the_contact():
    e = event()
    assert e.contact_id == SECOND_CONTACT == contact_id(SECRET, "police", "POL-1", 1)
    assert e.child_key is None  # the worker finds the child from the contact
    assert (e.action, e.role, e.level, e.rag) == (DecisionAction.CONFIRM, Role.COORDINATOR, 3, Rag.AMBER)
    assert e.decided_at == datetime(2025, 5, 6, 11, 0, tzinfo=UTC)
    assert e.by == "coordinator-3"


def test_a_decision_id_is_a_keyed_hash_of_the_lines_reference_so_a_replay_again_gives_the_same_id():
    assert event().decision_id == event().decision_id == decision_id(SECRET, "SIM-1-D000001")
    assert event().decision_id.startswith("dc-")
    assert "SIM-1" not in event().decision_id
    assert event(reference="SIM-1-D000002").decision_id != event().decision_id
    other_secret = decision_event(
        b"another secret",
        RecordedDecision.model_validate(recorded()),
        {contact_id(b"another secret", "police", "POL-1", 1): "ck-x"},
    )
    assert other_secret.decision_id != event().decision_id


def test_a_sign_off_names_the_decision_it_approves_by_that_decisions_reference():
    change = event(action="change", level=3, rag="amber", reference="SIM-1-D000010")
    sign_off = event(
        action="sign_off",
        role="manager",
        by="manager-1",
        level=None,
        rag=None,
        reference="SIM-1-D000011",
        signs_off="SIM-1-D000010",
    )
    assert sign_off.signs_off == change.decision_id


def test_a_meetings_outcome_carries_the_meeting_and_what_it_agreed():
    e = event(
        action="imm_outcome",
        level=None,
        rag=None,
        meeting_id="imm-2025-05-07",
        outcome="early_help",
        lead_agency="early_help",
        consent_basis="given",
    )
    imm = e.imm_details()
    assert imm is not None
    assert (imm.meeting_id, imm.outcome.value, imm.lead_agency.value) == (
        "imm-2025-05-07",
        "early_help",
        "early_help",
    )


def test_a_decision_about_a_contact_with_no_line_before_it_is_refused_without_naming_it():
    with pytest.raises(UnknownContact) as caught:
        decision_event(SECRET, RecordedDecision.model_validate(recorded()), {})
    assert "POL-1" not in str(caught.value)
    assert "no line before it" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"level": None}, "a confirm names the level and RAG confirmed"),
        ({"action": "sign_off", "level": None, "rag": None, "signs_off": "X"}, "only a manager may sign off"),
        ({"action": "imm_outcome", "level": None, "rag": None}, "needs the meeting_id"),
        ({"rationale": "  "}, "a rationale is required"),
    ],
)
def test_a_decision_whose_fields_do_not_fit_its_action_is_refused_as_the_consoles_are(
    changes: dict[str, Any], why: str
):
    with pytest.raises(ValidationError, match=why):
        event(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"action": "rescreen"},  # a manager's act in the console, under the service's own versions
        {"contact": {"agency": "police", "agency_reference": "POL-1"}},
        {"contact": {"agency": "police", "agency_reference": "POL-1", "child": -1}},
        {"decided_at": "2025-05-06T11:00:00"},  # no time zone
        {"reference": ""},
        {"contact_id": "ct-123"},  # the file names contacts as partners do, never by the service's ids
    ],
)
def test_a_recorded_decision_outside_the_file_format_is_refused(changes: dict[str, Any]):
    with pytest.raises(ValidationError):
        RecordedDecision.model_validate(recorded(**changes))


# --- a file's lines, in order ----------------------------------------------------------------------------


def test_each_contact_gets_a_data_key_written_before_the_contact_sealed_under_it():
    lines = reader()
    kind, records = lines.records(contact_line())
    assert kind == "contact"
    assert [topic for topic, *_ in records] == [
        SETTINGS.topic(t) for t in ("keys", "keys", "contacts", "contacts")
    ]
    keys = {key.decode().rpartition("/")[0] for _, key, _, _ in records[:2]}
    contacts = [SealedContactEvent.model_validate_json(value) for _, _, value, _ in records[2:]]
    assert keys == {c.contact_id for c in contacts}
    assert [key for _, key, _, _ in records[2:]] == [c.contact_id.encode() for c in contacts]
    assert [lines.keyring.personal(c).child.given_name for c in contacts] == ["Testa", "Proba"]


def test_a_decision_after_its_contact_goes_to_the_decisions_topic_keyed_by_its_contact():
    lines = reader()
    kind, records = lines.records(contact_line())
    contacts = [r for r in records if r[0] == SETTINGS.topic("contacts")]
    assert (kind, len(contacts)) == ("contact", 2)
    kind, [(topic, key, value, headers)] = lines.records(decision_line())
    assert kind == "decision"
    assert topic == SETTINGS.topic("decisions")
    assert key == SECOND_CONTACT.encode() == contacts[1][1]
    # The rationale sealed under the contact's data key, the decision id bound in, as the console
    # seals it.
    written = DecisionEvent.model_validate_json(value)
    assert isinstance(written.rationale, Sealed)
    assert b"Agreed with the screening" not in value
    rationale = lines.keyring.open(written.rationale, f"{written.decision_id}/rationale".encode())
    assert written.model_copy(update={"rationale": rationale.decode()}) == event()
    assert headers == []


def test_a_decision_about_a_contact_whose_key_was_erased_writes_a_new_key_first():
    lines = reader()
    lines.records(contact_line())
    for key_id in lines.keyring.keys_of({SECOND_CONTACT}):
        lines.keyring.erase(key_id)
    kind, [(keys, key_id, _, _), (topic, _, value, _)] = lines.records(decision_line())
    assert (kind, keys, topic) == ("decision", SETTINGS.topic("keys"), SETTINGS.topic("decisions"))
    written = DecisionEvent.model_validate_json(value)
    assert isinstance(written.rationale, Sealed)
    assert written.rationale.key == key_id.decode()
    assert key_id.decode().startswith(f"{SECOND_CONTACT}/")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"kind": "rescreen"}', '"kind": "contact", "outcome" or "decision"'),
        (
            orjson.dumps({"kind": "decision", "decision": recorded(level=None)}),
            "decision: Value error, a confirm",
        ),
        (orjson.dumps({"kind": "decision", "decision": recorded(role="service")}), "a person's"),
        (orjson.dumps({"kind": "decision", "decision": recorded(level=7)}), "decision.level"),
        (orjson.dumps({"kind": "decision"}), "decision: Input should be a valid dictionary"),
    ],
)
def test_a_bad_decision_line_is_reported_with_its_reason(line: bytes, reason: str):
    lines = reader()
    lines.records(contact_line())
    with pytest.raises(ValueError, match=reason) as caught:
        lines.records(line)
    assert "Sampleford" not in str(caught.value)


def test_a_decision_before_its_contact_in_the_file_is_a_bad_line():
    lines = reader()
    with pytest.raises(ValueError, match="no line before it in the file"):
        lines.records(decision_line())
    lines.records(contact_line())
    assert lines.records(decision_line())[0] == "decision"


def test_a_decision_about_a_contact_whose_line_was_bad_is_a_bad_line_too():
    lines = reader()
    with pytest.raises(ValueError, match="unknown indicator codes"):
        lines.records(contact_line(indicators=["not_a_code"]))
    with pytest.raises(ValueError, match="no line before it"):
        lines.records(decision_line())


def next_year() -> Ruleset:
    """The thresholds from April 2026, with the FGM code renamed."""
    data = RULESET.model_dump()
    data.update(version="2027.1", effective_from=date(2026, 4, 1))
    for indicator in data["indicators"]:
        if indicator["code"] == "fgm_or_honour_based_violence":
            indicator["code"] = "fgm_risk"
    return Ruleset.model_validate(data)


def test_a_contacts_codes_are_checked_against_the_ruleset_in_force_on_the_day_it_was_received():
    lines = reader(RulesetHistory.of(RULESET, next_year()))
    old, new = ["fgm_or_honour_based_violence"], ["fgm_risk"]
    assert lines.records(contact_line("A", "2026-03-31T22:59:00Z", indicators=old))[0] == "contact"
    # 31 March 2026 23:30 UTC is 1 April in London (BST): next year's thresholds.
    with pytest.raises(ValueError, match=r"unknown indicator codes: fgm_or_honour_based_violence.*2027\.1"):
        lines.records(contact_line("B", "2026-03-31T23:30:00Z", indicators=old))
    assert lines.records(contact_line("C", "2026-04-01T09:00:00Z", indicators=new))[0] == "contact"
    with pytest.raises(ValueError, match=r"unknown indicator codes: fgm_risk.*2026\.2"):
        lines.records(contact_line("D", "2025-04-01T09:00:00Z", indicators=new))


def test_a_replay_loads_history_of_any_age_but_nothing_from_the_future():
    lines = reader()
    assert lines.records(contact_line("OLD", "2019-01-07T09:00:00Z"))[0] == "contact"
    with pytest.raises(ValueError, match="received_at: must not be more than 5 minutes in the future"):
        lines.records(contact_line("LATER", "2027-01-01T09:00:00Z"))
    with pytest.raises(ValueError, match="received_at is required in a replay"):
        lines.records(contact_line("NOW", received_at=None))
