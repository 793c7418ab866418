"""A worker killed mid-stream resumes without losing or duplicating a contact's decision."""

from __future__ import annotations

import signal
import threading
import time
from collections import defaultdict
from typing import Any

import orjson

from tests.integration.builders import child, submission
from tests.integration.conftest import Service
from tests.integration.kafka import read_topic

CHILDREN = 8
PER_CHILD = 15


def post_all(service: Service, accepted: list[str]) -> None:
    with service.client() as client:
        for _ in range(PER_CHILD):
            for n in range(CHILDREN):
                body = submission(
                    "domestic_abuse_in_home", children=[child(f"Child{n}", dob="2016-01-0" + str(1 + n % 9))]
                )
                response = client.post("/v1/contacts", json=body, headers=service.auth())
                assert response.status_code == 202, response.text
                accepted.extend(response.json()["contact_ids"])
            time.sleep(0.02)


def test_sigkill_mid_stream_loses_and_duplicates_nothing(service: Service) -> None:
    accepted: list[str] = []
    poster = threading.Thread(target=post_all, args=(service, accepted))
    poster.start()
    while len(accepted) < CHILDREN * PER_CHILD // 3:
        time.sleep(0.01)
    service.worker.stop(signal.SIGKILL)
    at_kill = len(accepted)
    time.sleep(1.0)
    service.worker.start()
    poster.join()
    service.worker.wait_ready()
    total = CHILDREN * PER_CHILD
    assert len(accepted) == total
    assert 0 < at_kill < total, "the kill must land while contacts are flowing"

    deadline = time.monotonic() + 60
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    while time.monotonic() < deadline:
        records.clear()
        for r in read_topic(service.bootstrap, service.topic("cases"), at_least=total, timeout=5):
            records[orjson.loads(r.value)["contact_id"]].append(orjson.loads(r.value))
        if len(records) >= total:
            break
    assert set(records) == set(accepted), "every accepted contact has a decision, and no other"
    for contact_id, copies in records.items():
        assert all(c == copies[0] for c in copies), f"{contact_id} was decided twice, differently"

    # The child's history survived the crash: each child was referred once, then linked.
    by_child: dict[str, list[str]] = defaultdict(list)
    for copies in records.values():
        by_child[copies[0]["child_key"]].append(copies[0]["referral"])
    assert len(by_child) == CHILDREN
    for referrals in by_child.values():
        assert sorted(referrals) == ["linked_to_open_case"] * (PER_CHILD - 1) + ["referral"]
