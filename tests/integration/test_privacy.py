"""No child's name, date of birth, NHS number, address or narrative in logs, metrics or on Kafka."""

from __future__ import annotations

import httpx

from tests.integration.conftest import Service
from tests.integration.test_pipeline import wait_screened
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic, write_topic

MARKERS = {
    "given_name": "Marigoldina",
    "family_name": "Zephyrwhistle",
    "date_of_birth": "2014-02-27",
    "nhs_number": "9434765919",
    "postcode": "ZZ9 9ZZ",
    "narrative": "Quokka-lantern-narrative",
}


def test_personal_data_never_reaches_logs_metrics_or_keys(service: Service) -> None:
    kid = child(
        MARKERS["given_name"],
        MARKERS["family_name"],
        dob=MARKERS["date_of_birth"],
        nhs_number=MARKERS["nhs_number"],
        postcode=MARKERS["postcode"],
    )
    body = submission("disclosure_of_abuse", children=[kid], narrative=MARKERS["narrative"])
    invalid = submission(
        "not_a_code", children=[{**kid, "nhs_number": "9434765910"}], narrative=MARKERS["narrative"]
    )
    with service.client() as client:
        [contact_id] = client.post("/v1/contacts", json=body, headers=service.auth()).json()["contact_ids"]
        assert client.post("/v1/contacts", json=invalid, headers=service.auth()).status_code == 422
        wait_screened(client, contact_id, service.auth())
        intake_metrics = client.get("/metrics").text
    # A schema-invalid copy of a real event, so the dead-letter path sees personal data too.
    [event] = read_topic(service.bootstrap, service.topic("contacts"), at_least=1)
    write_topic(
        service.bootstrap,
        service.topic("contacts"),
        [(event.key, event.value.replace(b'"schema_version":2', b'"schema_version":2,"extra":1'))],
    )
    letters = read_topic(service.bootstrap, service.topic("dlq"), at_least=1)
    worker_metrics = httpx.get(f"{service.worker.url}/metrics").text

    service.intake.stop()
    service.worker.stop()
    logs = service.intake.log_text() + service.worker.log_text()
    # The scan is of real logs.
    assert "contacts_accepted" in logs
    assert "dead_letter" in logs
    records = [
        r
        for t in ("contacts", "resolved", "cases", "dlq")
        for r in read_topic(service.bootstrap, service.topic(t))
    ]
    keys = b"".join(r.key or b"" for r in records)
    # Values too: the personal details are sealed (a marker this long is never in ciphertext by chance).
    values = b"".join(r.value or b"" for r in records)
    reasons = b"".join(letter.value.split(b'"failed_at"')[0] for letter in letters)
    for field, marker in MARKERS.items():
        for where, text in (
            ("logs", logs),
            ("intake metrics", intake_metrics),
            ("worker metrics", worker_metrics),
        ):
            assert marker not in text, f"{field} found in {where}"
        assert marker.encode() not in keys, f"{field} found in a Kafka key"
        assert marker.encode() not in values, f"{field} found in a Kafka value"
        assert marker.encode() not in reasons, f"{field} found in a dead-letter reason"
