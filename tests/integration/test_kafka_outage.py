"""With Kafka unreachable, the intake says 503 with Retry-After: never a 202 for an unstored contact."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson

from mash.cli.embedded import EmbeddedBroker
from tests.integration.conftest import make_service
from tests.support.builders import submission
from tests.support.kafka_topics import read_topic


def test_kafka_outage_gives_503_with_retry_after(tmp_path: Path) -> None:
    with EmbeddedBroker() as own_broker:  # this test stops its broker, so it doesn't share one
        service = make_service(own_broker.bootstrap, tmp_path)
        service.intake.start()
        try:
            service.intake.wait_ready()
            with service.client() as client:
                assert (
                    client.post(
                        "/v1/contacts", json=submission("young_carer"), headers=service.auth()
                    ).status_code
                    == 202
                )
                own_broker.stop()
                started = time.monotonic()
                response = client.post("/v1/contacts", json=submission("young_carer"), headers=service.auth())
                took = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0
            assert "try again" in response.json()["detail"]
            assert took < 15, "the client must get an answer, not hang"
        finally:
            service.intake.stop()


def wait_live(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not live after {timeout} s")


def test_an_intake_started_without_kafka_is_live_refuses_writes_and_recovers(tmp_path: Path) -> None:
    """Kafka unreachable at start-up: the adapter serves HTTP (live, not ready), answers writes
    and status reads 503 with Retry-After, and accepts once Kafka is there, by itself."""
    with EmbeddedBroker() as first:
        service = make_service(first.bootstrap, tmp_path)
    port = int(service.bootstrap.rsplit(":", 1)[1])
    service.intake.start()
    try:
        wait_live(service.intake.url)
        time.sleep(1.5)  # a couple of failed connection attempts
        with service.client() as client:
            assert client.get("/health/ready").status_code == 503
            refused = client.post("/v1/contacts", json=submission("young_carer"), headers=service.auth())
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) > 0
            assert "try again" in refused.json()["detail"]
            status = client.get("/v1/contacts/ct-unknown", headers=service.auth())
            assert status.status_code == 503, status.text
            # Checks that need no Kafka still answer.
            assert client.post("/v1/contacts", json={}, headers=service.auth()).status_code == 422
            assert client.post("/v1/contacts", json=submission("young_carer")).status_code == 401
        # The broker comes (empty, as an embedded one restarts): the guard sets it up first.
        with EmbeddedBroker(port=port):
            service.intake.wait_ready()
            with service.client() as client:
                body = submission("young_carer")
                accepted = client.post("/v1/contacts", json=body, headers=service.auth())
                assert accepted.status_code == 202, accepted.text
                [contact_id] = accepted.json()["contact_ids"]
                status = client.get(f"/v1/contacts/{contact_id}", headers=service.auth())
                assert status.status_code == 200, status.text
            [event] = read_topic(service.bootstrap, service.topic("contacts"), at_least=1)
            assert orjson.loads(event.value)["contact_id"] == contact_id
    finally:
        service.intake.stop()
    assert "intake_waiting_for_kafka" in service.intake.log_text()
