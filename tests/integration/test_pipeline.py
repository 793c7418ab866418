"""A contact posted over HTTP travels through Kafka and the worker and comes back screened."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from tests.integration.builders import child, submission
from tests.integration.conftest import Service
from tests.integration.kafka import read_topic


def wait_screened(
    client: httpx.Client, contact_id: str, auth: dict[str, str], timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/contacts/{contact_id}", headers=auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] == "screened":
            return body
        time.sleep(0.2)
    raise AssertionError(f"contact {contact_id} was not screened within {timeout} s")


def test_disclosure_of_abuse_is_level_4_red_to_social_care(service: Service) -> None:
    with service.client() as client:
        response = client.post("/v1/contacts", json=submission("disclosure_of_abuse"), headers=service.auth())
        assert response.status_code == 202, response.text
        [contact_id] = response.json()["contact_ids"]
        status = wait_screened(client, contact_id, service.auth())
    assert (status["level"], status["rag"], status["route"]) == (4, "red", "social_care")
    assert status["ruleset_version"] == "2026.1"


def test_no_unmet_needs_is_level_1_blue_universal(service: Service) -> None:
    with service.client() as client:
        response = client.post(
            "/v1/contacts", json=submission("no_unmet_needs"), headers=service.auth("school")
        )
        [contact_id] = response.json()["contact_ids"]
        status = wait_screened(client, contact_id, service.auth("school"))
    assert (status["level"], status["rag"], status["route"]) == (1, "blue", "universal")
    assert status["due_at"] is None


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
            assert wait_screened(client, contact_id, service.auth())["level"] == 4
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
    assert record["level"] == 3
    rules = {reason["rule"] for reason in record["reasons"]}
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
