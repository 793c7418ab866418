"""`mash simulate --post`: the simulation's contacts and outcomes posted to a running intake
through the partner API (mash/simulate/writer.py). The intake is a mock transport here."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest

from mash.intake.agencies import DEMO_AGENCIES
from mash.simulate import PostError, SimulationConfig, post_to_service, simulate

DEMO_IDS = {agency_id for agency_id, *_ in DEMO_AGENCIES}
SHORT = SimulationConfig(seed=3, children=200, days=45, start=date(2026, 3, 1), contacts_per_day=4)


@pytest.mark.timeout(30)
async def test_post_to_service_sends_contacts_and_outcomes_with_their_agency_key_and_retries_503() -> None:
    keys = {agency_id: f"key-{agency_id}" for agency_id in DEMO_IDS}
    lines = list(simulate(SHORT))
    seen: list[tuple[str, str, dict[str, Any]]] = []
    busy_once: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        reference = body.get("agency_reference") or body["reference"]
        if reference not in busy_once and len(busy_once) < 3:
            busy_once.add(reference)
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})
        seen.append((request.url.path, request.headers["Authorization"], body))
        return httpx.Response(202, json={})

    result = await post_to_service(
        SHORT, "http://intake.test/", keys, rate_per_s=5000, transport=httpx.MockTransport(handler)
    )
    posted = [line for line in lines if line["kind"] != "decision"]
    assert result.posted == len(posted) == len(seen)
    # People decide in the console: the partner API takes no decision, so they are skipped.
    assert result.decisions_skipped == len(lines) - len(posted) > 0
    expected = sorted(
        (
            "/v1/contacts" if line["kind"] == "contact" else "/v1/outcomes",
            f"Bearer key-{line['agency']}",
            json.dumps(line.get("submission") or line["event"], sort_keys=True),
        )
        for line in posted
    )
    assert sorted((p, a, json.dumps(b, sort_keys=True)) for p, a, b in seen) == expected
    assert {p for p, _, _ in seen} == {"/v1/contacts", "/v1/outcomes"}


async def test_post_to_service_skips_refused_lines_and_stops_on_a_bad_key() -> None:
    keys = {agency_id: f"key-{agency_id}" for agency_id in DEMO_IDS}
    refused: list[int] = []

    def unprocessable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": "no"})

    result = await post_to_service(
        SHORT,
        "http://intake.test",
        keys,
        rate_per_s=5000,
        on_refused=lambda line, status, body: refused.append(status),
        transport=httpx.MockTransport(unprocessable),
    )
    assert result.posted == 0
    assert len(refused) == sum(line["kind"] != "decision" for line in simulate(SHORT))
    assert set(refused) == {422}

    def unauthorised(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"detail": "bad key"})

    with pytest.raises(PostError):
        await post_to_service(
            SHORT, "http://intake.test", keys, rate_per_s=5000, transport=httpx.MockTransport(unauthorised)
        )
    with pytest.raises(ValueError, match="no key"):
        await post_to_service(SHORT, "http://intake.test", {"police": "k"}, rate_per_s=1)
