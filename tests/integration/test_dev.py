"""`mash dev` (what `make run` starts) brings the whole service up and stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mash.embedded import free_port
from tests.integration.builders import child, submission
from tests.integration.test_pipeline import wait_screened


def test_mash_dev_runs_the_service_with_demo_agencies_and_stops_on_sigterm(tmp_path: Path) -> None:
    intake_port, worker_port = free_port(), free_port()
    out = (tmp_path / "dev.out").open("wb")
    dev = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mash",
            "dev",
            "--intake-port",
            str(intake_port),
            "--worker-port",
            str(worker_port),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while "posted" not in (tmp_path / "dev.out").read_text() and time.monotonic() < deadline:
            assert dev.poll() is None, (tmp_path / "dev.out").read_text()
            time.sleep(0.5)
        printed = (tmp_path / "dev.out").read_text()
        assert "posted 8 demo contacts" in printed, printed
        keys = json.loads((tmp_path / "state" / "demo-keys.json").read_text())
        assert set(keys) == {"police", "school", "health", "early-help", "case-system"}
        assert keys["police"] in printed  # shown once, at start
        auth = {"Authorization": f"Bearer {keys['police']}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{intake_port}", timeout=10) as client:
            [urgent] = client.post(
                "/v1/contacts", json=submission("disclosure_of_abuse"), headers=auth
            ).json()["contact_ids"]
            # Another child: the first now has an open case, which would raise any later contact.
            other = submission("no_unmet_needs", children=[child("Newly", "Known", dob="2012-05-05")])
            [info] = client.post("/v1/contacts", json=other, headers=auth).json()["contact_ids"]
            red = wait_screened(client, urgent, auth)
            blue = wait_screened(client, info, auth)
        assert (red["level"], red["rag"], red["route"]) == (4, "red", "social_care")
        assert (blue["level"], blue["rag"], blue["route"]) == (1, "blue", "universal")
        assert httpx.get(f"http://127.0.0.1:{worker_port}/metrics").status_code == 200
    finally:
        dev.send_signal(signal.SIGTERM)
        code = dev.wait(timeout=60)
        out.close()
    assert code == 0
    assert "stopped" in (tmp_path / "dev.out").read_text()
    for port in (intake_port, worker_port):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
            raise AssertionError(f"something still answers on port {port} after mash dev stopped")
        except httpx.ConnectError:
            pass
