"""With Kafka unreachable, the intake says 503 with Retry-After: never a 202 for an unstored contact."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from mash.embedded import EmbeddedBroker, free_port
from mash.intake.agencies import write_demo_agencies
from tests.integration.builders import submission
from tests.integration.conftest import Proc, make_service


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


def test_an_intake_started_before_kafka_is_live_not_ready_and_refuses_with_503(tmp_path: Path) -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens here: Kafka is not up yet
    # Built by hand: make_service creates topics, which needs Kafka.
    keys = write_demo_agencies(tmp_path / "agencies.json", tmp_path / "demo-keys.json")
    port = free_port()
    env = {
        **os.environ,
        "MASH_MODE": "development",
        "MASH_KAFKA_BOOTSTRAP": nowhere,
        "MASH_CHILD_KEY_SECRET": "integration-test-secret",
        "MASH_AGENCIES_FILE": str(tmp_path / "agencies.json"),
        "MASH_INTAKE_PORT": str(port),
    }
    intake = Proc("intake", f"http://127.0.0.1:{port}", tmp_path / "intake.log", env)
    intake.start()
    try:
        deadline = time.monotonic() + 30
        live = None
        while time.monotonic() < deadline and live is None:
            try:
                live = httpx.get(f"{intake.url}/health/live", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert live is not None
        assert live.status_code == 200
        assert httpx.get(f"{intake.url}/health/ready", timeout=1).status_code == 503
        response = httpx.post(
            f"{intake.url}/v1/contacts",
            json=submission("young_carer"),
            headers={"Authorization": f"Bearer {keys['police']}"},
            timeout=10,
        )
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
    finally:
        intake.stop()
    assert intake.process is not None
    # uvicorn re-raises SIGTERM after its graceful shutdown; -9 would mean it had to be killed.
    assert intake.process.returncode in (0, -signal.SIGTERM), "SIGTERM stops it while it waits for Kafka"
