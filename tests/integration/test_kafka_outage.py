"""With Kafka unreachable, the intake says 503 with Retry-After: never a 202 for an unstored contact."""

from __future__ import annotations

import time
from pathlib import Path

from mash.embedded import EmbeddedBroker
from tests.integration.builders import submission
from tests.integration.conftest import make_service


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
