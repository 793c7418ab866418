"""The same agency_reference from the same agency gives the original ids and writes nothing new."""

from __future__ import annotations

from tests.integration.conftest import Service
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic


def test_a_repeated_submission_returns_the_original_ids_even_after_an_intake_restart(
    intake_only: Service,
) -> None:
    body = submission("young_carer", children=[child("Testa"), child("Testo", dob="2018-07-19")])
    with intake_only.client() as client:
        first = client.post("/v1/contacts", json=body, headers=intake_only.auth())
        assert first.status_code == 202
        again = client.post("/v1/contacts", json=body, headers=intake_only.auth())
        assert again.status_code == 202
        assert again.json()["contact_ids"] == first.json()["contact_ids"]
        assert again.headers["Idempotent-Replayed"] == "true"
    assert len(read_topic(intake_only.bootstrap, intake_only.topic("contacts"), at_least=2, timeout=3)) == 2

    intake_only.intake.stop()
    intake_only.intake.start()
    intake_only.intake.wait_ready()

    with intake_only.client() as client:
        after = client.post("/v1/contacts", json=body, headers=intake_only.auth())
        assert after.status_code == 202
        assert after.json()["contact_ids"] == first.json()["contact_ids"]
        assert after.json()["replayed"] is True
        # The rebuilt ledger also remembers whose contacts they are.
        [contact_id, _] = first.json()["contact_ids"]
        assert client.get(f"/v1/contacts/{contact_id}", headers=intake_only.auth()).status_code == 200
    assert len(read_topic(intake_only.bootstrap, intake_only.topic("contacts"), timeout=2)) == 2


def test_the_same_reference_from_another_agency_is_a_different_submission(intake_only: Service) -> None:
    body = submission("young_carer")
    with intake_only.client() as client:
        police = client.post("/v1/contacts", json=body, headers=intake_only.auth("police")).json()[
            "contact_ids"
        ]
        school = client.post("/v1/contacts", json=body, headers=intake_only.auth("school")).json()[
            "contact_ids"
        ]
    assert set(police).isdisjoint(school)
