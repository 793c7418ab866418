"""Every refused request gets a clear status and reason, and writes nothing to Kafka."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Service
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic

INVALID = [
    json.loads(line) for line in (Path(__file__).parents[1] / "fixtures" / "invalid-contacts.jsonl").open()
]
# Where each invalid sample's problem must be reported.
EXPECTED_FIELD = {
    "bad NHS number check digit": ["body", "children", 0, "nhs_number"],
    "unknown indicator": ["body", "indicators"],
    "received_at in the future": ["body", "received_at"],
    "no children": ["body", "children"],
    "date of birth after received_at": ["body", "children", 0, "date_of_birth"],
    "unborn without expected date": ["body", "children", 0],
}


def assert_nothing_produced(service: Service) -> None:
    assert read_topic(service.bootstrap, service.topic("contacts"), timeout=1.0) == []


def test_every_sample_invalid_submission_is_refused_naming_the_field(intake_only: Service) -> None:
    assert {case["why_invalid"] for case in INVALID} == set(EXPECTED_FIELD)
    with intake_only.client() as client:
        for case in INVALID:
            response = client.post(
                "/v1/contacts", json=case["submission"], headers=intake_only.auth("school")
            )
            assert response.status_code == 422, (case["why_invalid"], response.text)
            problems: list[dict[str, Any]] = response.json()["detail"]
            assert EXPECTED_FIELD[case["why_invalid"]] in [p["loc"] for p in problems], (case, problems)
            assert all(p["msg"] for p in problems)
    assert_nothing_produced(intake_only)


def test_a_contact_dated_more_than_a_day_back_is_refused_pointing_to_replay(intake_only: Service) -> None:
    body = submission("young_carer", received_at="2026-01-05T10:00:00Z")
    with intake_only.client() as client:
        response = client.post("/v1/contacts", json=body, headers=intake_only.auth())
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", "received_at"], "backdated_too_far")
    assert "mash replay" in problem["msg"]
    assert_nothing_produced(intake_only)


def test_missing_paperwork_is_never_a_reason_to_refuse_a_safeguarding_contact(intake_only: Service) -> None:
    # No consent reason, no referrer's phone or e-mail: accepted, and flagged on the case.
    body = submission(
        "persistent_absence",
        consent={"status": "not_sought"},
        referrer={"name": "Designated Safeguarding Lead", "role": "DSL"},
    )
    anonymous = submission("disclosure_of_abuse")
    del anonymous["consent"], anonymous["referrer"]
    with intake_only.client() as client:
        for accepted in (body, anonymous):
            response = client.post("/v1/contacts", json=accepted, headers=intake_only.auth())
            assert response.status_code == 202, response.text


def test_unknown_indicator_codes_are_listed_with_where_to_find_valid_ones(intake_only: Service) -> None:
    body = submission("feeling_worried", "disclosure_of_abuse", "made_up_code")
    with intake_only.client() as client:
        response = client.post("/v1/contacts", json=body, headers=intake_only.auth())
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert "feeling_worried" in problem["msg"]
        assert "made_up_code" in problem["msg"]
        assert "GET /v1/indicators" in problem["msg"]
        catalogue = client.get("/v1/indicators").json()
        assert "disclosure_of_abuse" in {i["code"] for i in catalogue["indicators"]}
    assert_nothing_produced(intake_only)


def test_errors_never_echo_personal_data(intake_only: Service) -> None:
    body = submission(
        "no_unmet_needs",
        children=[child("Zebedee", "Quillfeather", dob="2030-01-01", nhs_number="9434765910")],
    )
    with intake_only.client() as client:
        response = client.post("/v1/contacts", json=body, headers=intake_only.auth())
    assert response.status_code == 422
    for personal in ("Zebedee", "Quillfeather", "2030-01-01", "9434765910"):
        assert personal not in response.text


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no key"),
        ({"Authorization": "Bearer mash_police_not-a-real-key"}, "unknown key"),
        ({"Authorization": "Basic abc"}, "wrong scheme"),
    ],
)
def test_a_request_without_a_valid_key_is_401(
    intake_only: Service, headers: dict[str, str], reason: str
) -> None:
    with intake_only.client() as client:
        response = client.post("/v1/contacts", json=submission("young_carer"), headers=headers)
        assert response.status_code == 401, reason
        assert response.headers["WWW-Authenticate"] == "Bearer"
        # The key is checked before the body: a bad body without a key is still 401.
        assert client.post("/v1/contacts", json={"nonsense": True}, headers=headers).status_code == 401
    assert_nothing_produced(intake_only)


def test_an_oversized_request_is_413(intake_only: Service) -> None:
    body = submission("young_carer", narrative="x" * 300_000)
    with intake_only.client() as client:
        response = client.post("/v1/contacts", json=body, headers=intake_only.auth())
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert_nothing_produced(intake_only)


def test_malformed_json_is_422(intake_only: Service) -> None:
    with intake_only.client() as client:
        response = client.post(
            "/v1/contacts",
            content=b'{"agency_reference": ',
            headers={**intake_only.auth(), "Content-Type": "application/json"},
        )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert_nothing_produced(intake_only)


def test_the_api_is_described_by_openapi(intake_only: Service) -> None:
    with intake_only.client() as client:
        spec = client.get("/openapi.json").json()
        assert "/v1/contacts" in spec["paths"]
        assert {"202", "401", "413", "422", "503"} <= set(spec["paths"]["/v1/contacts"]["post"]["responses"])
        assert client.get("/docs").status_code == 200
