"""A contact posted over HTTP travels through Kafka and the worker and comes back screened."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from tests.integration.conftest import Service
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic
from tests.support.people import case_record, decide


def wait_screened(
    client: httpx.Client, contact_id: str, auth: dict[str, str], timeout: float = 20.0
) -> dict[str, Any]:
    """The partner's view of the contact once the worker has screened it (any state but received)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/contacts/{contact_id}", headers=auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "received":
            return body
        time.sleep(0.2)
    raise AssertionError(f"contact {contact_id} was not screened within {timeout} s")


def test_disclosure_of_abuse_is_recommended_level_4_red_to_social_care_and_waits_for_a_person(
    service: Service,
) -> None:
    with service.client() as client:
        response = client.post("/v1/contacts", json=submission("disclosure_of_abuse"), headers=service.auth())
        assert response.status_code == 202, response.text
        [contact_id] = response.json()["contact_ids"]
        status = wait_screened(client, contact_id, service.auth())
    # The partner sees that it waits, under a red clock; not the recommendation, which is not a decision.
    assert (status["status"], status["rag"]) == ("awaiting_decision", "red")
    assert "level" not in status
    record = case_record(service, contact_id)
    recommended = record["recommendation"]
    assert (recommended["level"], recommended["rag"], recommended["route"]) == (4, "red", "social_care")
    assert recommended["ruleset_version"] == "2026.2"
    assert (record["state"], record["referral"]) == ("awaiting_decision", "not_referred")


def test_a_level_3_contact_is_a_referral_only_once_a_coordinator_confirms_it(service: Service) -> None:
    with service.client() as client:
        body = submission("persistent_absence", children=[child("Waiting", "Fordecision", dob="2012-02-02")])
        [contact_id] = client.post("/v1/contacts", json=body, headers=service.auth("school")).json()[
            "contact_ids"
        ]
        waiting = wait_screened(client, contact_id, service.auth("school"))
        assert (waiting["status"], case_record(service, contact_id)["referral"]) == (
            "awaiting_decision",
            "not_referred",
        )

        decide(service, contact_id)

        record = case_record(service, contact_id, until=lambda r: r["state"] == "decided")
        assert (record["referral"], record["case_id"], record["decided_by"]) == (
            "referral",
            contact_id,
            "coordinator",
        )
        decided = client.get(f"/v1/contacts/{contact_id}", headers=service.auth("school")).json()
    assert (decided["status"], decided["level"], decided["route"]) == ("decided", 3, "social_care")


def test_information_only_about_a_child_with_no_history_is_closed_by_the_service(service: Service) -> None:
    with service.client() as client:
        body = submission("no_unmet_needs", children=[child("Onlyinfo", "Noted", dob="2016-06-06")])
        response = client.post("/v1/contacts", json=body, headers=service.auth("school"))
        [contact_id] = response.json()["contact_ids"]
        status = wait_screened(client, contact_id, service.auth("school"))
    assert (status["status"], status["level"], status["route"], status["due_at"]) == (
        "closed",
        1,
        "universal",
        None,
    )
    assert case_record(service, contact_id)["decided_by"] == "service"


def test_a_contact_without_a_consent_reason_is_accepted_and_flagged_where_consent_matters(
    service: Service,
) -> None:
    # A police report of a bruised baby, and a health visitor's missed checks, consent not sought
    # and no reason given: neither is refused. Early help needs consent, so that one is flagged.
    no_reason = {"consent": {"status": "not_sought"}, "referrer": {"name": "PC Example", "role": "officer"}}
    baby = submission(
        "non_mobile_baby_injury", children=[child("Bruised", "Baby", dob="2026-09-01")], **no_reason
    )
    checks = submission(
        "missed_health_checks", children=[child("Missed", "Checks", dob="2024-01-01")], **no_reason
    )
    with service.client() as client:
        statuses = []
        for body in (baby, checks):
            response = client.post("/v1/contacts", json=body, headers=service.auth())
            assert response.status_code == 202, response.text
            [contact_id] = response.json()["contact_ids"]
            statuses.append((contact_id, wait_screened(client, contact_id, service.auth())))
    (_, red), (checks_id, green) = statuses
    assert (red["status"], red["rag"], red["data_quality"]) == (
        "awaiting_decision",
        "red",
        ["referrer_unreachable"],
    )
    assert green["data_quality"] == ["consent_basis_missing", "referrer_unreachable"]
    assert case_record(service, checks_id)["pathway"] == "Early help assessment (consent to be sought)"


def test_three_children_make_three_contacts_each_screened_once(service: Service) -> None:
    children = [
        child("Testa", dob="2015-03-02"),
        child("Testo", dob="2018-07-19"),
        child("Testi", dob="2022-01-05"),
    ]
    with service.client() as client:
        response = client.post(
            "/v1/contacts", json=submission("domestic_abuse_marac", children=children), headers=service.auth()
        )
        ids = response.json()["contact_ids"]
        assert len(set(ids)) == 3
        for contact_id in ids:
            assert wait_screened(client, contact_id, service.auth())["rag"] == "red"
    cases = read_topic(service.bootstrap, service.topic("cases"), at_least=3)
    records = [orjson.loads(r.value) for r in cases]
    assert sorted(r["contact_id"] for r in records) == sorted(ids)
    assert {r["children_in_submission"] for r in records} == {3}
    assert len({r["child_key"] for r in records}) == 3


def test_case_record_explains_the_decision_without_personal_data(service: Service) -> None:
    body = submission("persistent_absence", "parental_mental_health_significant", "missed_health_checks")
    with service.client() as client:
        [contact_id] = client.post("/v1/contacts", json=body, headers=service.auth("school")).json()[
            "contact_ids"
        ]
        wait_screened(client, contact_id, service.auth("school"))
    [record] = [
        orjson.loads(r.value) for r in read_topic(service.bootstrap, service.topic("cases"), at_least=1)
    ]
    assert record["recommendation"]["level"] == 3
    rules = {reason["rule"] for reason in record["recommendation"]["reasons"]}
    assert {"persistent_absence", "parental_mental_health_significant", "multiple_unmet_needs"} <= rules
    text = orjson.dumps(record).decode()
    for personal in ("Testa", "Sampleford", "2015-03-02", "fictional concern"):
        assert personal not in text


def test_status_is_visible_only_to_the_submitting_agency(service: Service) -> None:
    with service.client() as client:
        [contact_id] = client.post(
            "/v1/contacts", json=submission("young_carer"), headers=service.auth("police")
        ).json()["contact_ids"]
        assert client.get(f"/v1/contacts/{contact_id}", headers=service.auth("police")).status_code == 200
        other = client.get(f"/v1/contacts/{contact_id}", headers=service.auth("school"))
        assert other.status_code == 404
        assert client.get("/v1/contacts/ct-unknown", headers=service.auth("police")).status_code == 404
        assert client.get(f"/v1/contacts/{contact_id}").status_code == 401
