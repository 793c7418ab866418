"""Referrals, outcomes, replay, a re-screen and the report, end to end through Kafka and a real
worker."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from mash.adapters.ruleset_registry import Registry
from mash.domain.decisions import DecisionEvent
from mash.domain.ruleset import Ruleset, load_ruleset
from mash.domain.sealed import Sealed
from mash.services.privacy import read_keyring
from tests.integration.conftest import Service
from tests.support.builders import child, submission
from tests.support.independent_figures import history_from_lines, report_figures
from tests.support.kafka_topics import read_topic
from tests.support.people import case_record, decide

FIXTURES = Path(__file__).parents[1] / "fixtures"


def latest_cases(service: Service, at_least: int) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in read_topic(service.bootstrap, service.topic("cases"), at_least=at_least):
        value = orjson.loads(record.value)
        latest[value["contact_id"]] = value
    return latest


def mash(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mash", *args],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_outcome_before_its_contact_and_decision_is_kept_and_applied_in_event_time(
    service: Service,
) -> None:
    # Received three hours ago, referred two hours ago, closed an hour ago; the closure arrives first.
    now = datetime.now(UTC).replace(microsecond=0)
    kid = child("Early", "Closure", dob="2014-04-04")
    closed_at = (now - timedelta(hours=1)).isoformat()
    closure = {"type": "case_closed", "nfa": True, "child": kid, "occurred_at": closed_at}
    with service.client() as client:
        outcome = client.post("/v1/outcomes", json=closure, headers=service.auth("case-system"))
        assert outcome.status_code == 202, outcome.text
        body = submission(
            "disclosure_of_abuse", children=[kid], received_at=(now - timedelta(hours=3)).isoformat()
        )
        [contact_id] = client.post("/v1/contacts", json=body, headers=service.auth()).json()["contact_ids"]
    assert case_record(service, contact_id)["state"] == "awaiting_decision"

    decide(service, contact_id, at=now - timedelta(hours=2))

    record = case_record(service, contact_id, until=lambda r: r["state"] == "closed")
    assert (record["referral"], record["nfa"]) == ("referral", True)
    assert datetime.fromisoformat(record["case_closed_at"]) == datetime.fromisoformat(closed_at)


def test_only_the_case_system_may_report_outcomes(service: Service) -> None:
    closure = {"type": "case_closed", "child": child(), "occurred_at": "2026-06-10T12:00:00Z"}
    with service.client() as client:
        assert client.post("/v1/outcomes", json=closure, headers=service.auth("police")).status_code == 403
        assert client.post("/v1/outcomes", json=closure).status_code == 401
        bad = {**closure, "type": "cp_plan_started", "nfa": True}
        response = client.post("/v1/outcomes", json=bad, headers=service.auth("case-system"))
        assert response.status_code == 422
        assert "nfa" in response.json()["detail"][0]["msg"]


def test_replay_then_report_gives_the_hand_computed_figures(service: Service, tmp_path: Path) -> None:
    """Two children over two years, by hand; every referral is a person's decision:
    A: referral 2025-03-01 (decided that day; closed NFA 2025-04-01), referral 2026-03-01
       (re-referral: exactly 12 months), early-help contact 2026-03-05, linked to the case the
       second referral opened.
    B: a plan in 2020 (it opened a case, closed after the plan), referral 2025-06-01, a contact
       2025-06-15 linked to its open case and never decided, plan started 2025-07-01: second or
       subsequent.
    Plus two bad lines, skipped and reported: one not JSON, and a decision about a contact that
    is not in the file.
    """
    a, b = child("Alpha", "Replay", dob="2012-01-01"), child("Beta", "Replay", dob="2013-01-01")

    def contact(ref: str, who: dict[str, Any], at: str, *codes: str) -> dict[str, Any]:
        return {
            "kind": "contact",
            "agency": "police",
            "submission": submission(*codes, children=[who], agency_reference=ref, received_at=at),
        }

    def outcome(kind: str, who: dict[str, Any], at: str, **extra: Any) -> dict[str, Any]:
        return {
            "kind": "outcome",
            "agency": "case-system",
            "event": {"type": kind, "child": who, "occurred_at": at, **extra},
        }

    def confirm(ref: str, at: str, level: int, rag: str) -> dict[str, Any]:
        decision = {
            "contact": {"agency": "police", "agency_reference": ref, "child": 0},
            "reference": f"D-{ref}",
            "action": "confirm",
            "decided_at": at,
            "by": "coordinator-1",
            "role": "coordinator",
            "level": level,
            "rag": rag,
            "rationale": "Agreed with the screening.",
        }
        return {"kind": "decision", "decision": decision}

    lines = [
        outcome("cp_plan_started", b, "2020-01-01T10:00:00Z", plan_id="CP-1"),
        outcome("cp_plan_ended", b, "2020-09-01T10:00:00Z", plan_id="CP-1"),
        outcome("case_closed", b, "2020-10-01T10:00:00Z"),
        contact("R1", a, "2025-03-01T10:00:00Z", "disclosure_of_abuse"),
        confirm("R1", "2025-03-01T11:00:00Z", 4, "red"),
        outcome("case_closed", a, "2025-04-01T10:00:00Z", nfa=True),
        contact("R2", b, "2025-06-01T10:00:00Z", "sexual_abuse"),
        confirm("R2", "2025-06-01T12:00:00Z", 4, "red"),
        contact("R3", b, "2025-06-15T10:00:00Z", "persistent_absence"),
        outcome("cp_plan_started", b, "2025-07-01T10:00:00Z", plan_id="CP-2"),
        contact("R4", a, "2026-03-01T10:00:00Z", "trafficking"),
        confirm("R4", "2026-03-01T12:00:00Z", 4, "red"),
        contact("R5", a, "2026-03-05T10:00:00Z", "young_carer"),
        confirm("R5", "2026-03-05T15:00:00Z", 2, "green"),
    ]
    not_in_the_file = confirm("R9", "2026-03-05T15:00:00Z", 2, "green")
    history = tmp_path / "history.jsonl"
    history.write_text(
        "\n".join(json.dumps(line) for line in lines[:4])
        + "\n{not json\n"
        + json.dumps(not_in_the_file)
        + "\n"
        + "\n".join(json.dumps(line) for line in lines[4:])
        + "\n"
    )

    replayed = mash(service, "replay", str(history), "--quiet")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 5 contacts and 5 outcomes" in replayed.stdout
    assert "with 4 decisions; 2 bad lines skipped" in replayed.stdout
    assert f"{history}:5: skipped: not valid JSON" in replayed.stderr
    assert f"{history}:6: skipped: the decision names a contact with no line before it" in replayed.stderr
    # The decisions' rationales are sealed on Kafka, as the console seals them.
    written = read_topic(service.bootstrap, service.topic("decisions"), at_least=4)
    assert len(written) == 4
    assert not [r for r in written if b"Agreed with the screening" in r.value]

    reported = mash(service, "report", "--from", "2025-01-01", "--to", "2026-12-31")
    now = datetime.now(UTC)
    assert reported.returncode == 0, reported.stderr
    figures = json.loads(reported.stdout)
    # R5 is level 2, but A's case opened by R4 is open: linked, whatever its level.
    expected = {
        "contacts": 5,
        "awaiting_decision": 1,  # R3: linked, but nobody has decided it
        "referrals": 3,
        "re_referrals": 1,
        "linked_to_open_case": 2,
        "referrals_nfa": 1,
        "cp_plans_started": 1,
        "cp_plan_children": 1,
        "cp_plan_children_second_or_subsequent": 1,
        "conversion_rate": 0.6,
        "re_referral_rate": round(1 / 3, 6),
    }
    assert {k: figures[k] for k in expected} == expected
    assert figures["by_source"] == {"6": {"contacts": 5, "referrals": 3, "re_referrals": 1}}
    assert figures["by_month"]["2026-03"]["re_referrals"] == 1
    assert figures["by_month"]["2025-06"]["linked_to_open_case"] == 1
    # The independent count (test_report_checks.py checks it on two years of simulated history)
    # gives the hand-computed figures here too, and everything else the report says.
    agencies = json.loads((service.tmp / "agencies.json").read_text())["agencies"]
    by_hand = history_from_lines(lines, default_sources={a["id"]: a["default_source"] for a in agencies})
    independent = report_figures(by_hand.contacts, by_hand.plans, date(2025, 1, 1), date(2026, 12, 31), now)
    assert {k: independent[k] for k in expected} == expected
    assert {k: v for k, v in figures.items() if k != "imm"} == independent
    # A period that cuts through the year: only March 2026.
    march = json.loads(mash(service, "report", "--from", "2026-03-01", "--to", "2026-03-31").stdout)
    assert (march["contacts"], march["referrals"], march["re_referrals"]) == (2, 1, 1)

    csv_text = mash(service, "report", "--from", "2025-01-01", "--to", "2026-12-31", "--format", "csv").stdout
    assert csv_text.splitlines()[1].startswith("2025-01-01..2026-12-31,5,3,0.6,1,")

    # Replaying the same file again changes nothing.
    assert mash(service, "replay", str(history), "--quiet").returncode == 0
    again = json.loads(mash(service, "report", "--from", "2025-01-01", "--to", "2026-12-31").stdout)
    assert again == figures


def test_mash_rules_rescreen_seals_the_managers_rationale_under_each_contacts_key(service: Service) -> None:
    data = load_ruleset().model_dump()
    data.update(version="2099.1", effective_from=date(2099, 4, 1))
    asyncio.run(Registry(service.settings).register(Ruleset.model_validate(data)))
    with service.client() as client:
        body = submission("persistent_absence", children=[child("Rescreen", "Waiting", dob="2014-02-02")])
        [contact_id] = client.post("/v1/contacts", json=body, headers=service.auth()).json()["contact_ids"]
    case_record(service, contact_id, until=lambda r: r["state"] == "awaiting_decision")

    why = "Ms Grizelda Waitings asked the school to look again"
    done = mash(service, "rules", "rescreen", "--version", "2099.1", "--by", "manager-1", "--rationale", why)
    assert done.returncode == 0, done.stderr
    assert "re-screening 1 waiting contacts under ruleset 2099.1" in done.stdout
    [record] = read_topic(service.bootstrap, service.topic("decisions"), at_least=1)
    assert b"Grizelda" not in record.value
    event = DecisionEvent.model_validate_json(record.value)
    assert (event.action, event.contact_id, event.by) == ("rescreen", contact_id, "manager-1")
    assert isinstance(event.rationale, Sealed)
    keyring = asyncio.run(read_keyring(service.settings, opens=True))
    assert keyring.open(event.rationale, f"{event.decision_id}/rationale".encode()).decode() == why
    applied = case_record(
        service, contact_id, until=lambda r: any(t["action"] == "rescreen" for t in r["trail"])
    )
    assert applied["recommendation"]["ruleset_version"] == "2099.1"
    assert "Grizelda" not in orjson.dumps(applied).decode()
