"""A worker killed mid-stream resumes without losing or duplicating a contact's decision."""

from __future__ import annotations

import signal
import threading
import time
from collections import defaultdict
from typing import Any

import orjson
from faust.stores.rocksdb import RocksDBOptions

from mash.domain.child import ChildState, apply_update
from mash.domain.contact import SealedContactEvent
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildUpdate, ContactEntry
from tests.integration.conftest import Service, add_worker
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic
from tests.support.people import case_record, decide
from tests.support.traffic import wait_published

CHILDREN = 8
PER_CHILD = 15


def post_all(service: Service, accepted: list[str]) -> None:
    with service.client() as client:
        for _ in range(PER_CHILD):
            for n in range(CHILDREN):
                body = submission(
                    "no_unmet_needs", children=[child(f"Child{n}", dob="2016-01-0" + str(1 + n % 9))]
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

    # The child's history survived the crash: the service closed each child's first note (no
    # history yet), and every later one, with the first as history, waits for a person.
    by_child: dict[str, list[str]] = defaultdict(list)
    for copies in records.values():
        by_child[copies[0]["child_key"]].append(copies[0]["decided_by"] or "waiting")
    assert len(by_child) == CHILDREN
    for deciders in by_child.values():
        assert sorted(deciders) == ["service"] + ["waiting"] * (PER_CHILD - 1)


def _wait_for_case(service: Service, contact_id: str) -> dict[str, Any]:
    published = wait_published(service.bootstrap, service.settings, {contact_id}, timeout=60)
    assert contact_id in published.copies, f"no case record for {contact_id}"
    return published.latest()[contact_id]


def _post(service: Service, indicator: str) -> str:
    with service.client() as client:
        response = client.post("/v1/contacts", json=submission(indicator), headers=service.auth())
    assert response.status_code == 202, response.text
    (contact_id,) = response.json()["contact_ids"]
    return contact_id


def test_table_state_that_never_reached_its_changelog_is_not_lost(service: Service) -> None:
    """A SIGKILL can land after the worker wrote a child's state to its local RocksDB and before
    that write reached the table's changelog. The restarted worker finds the contact already in
    its local state; its effect must still reach the changelog before the contact's offset is
    committed, or the next worker to own the partition (built from the changelog) forgets it.

    The crash is reproduced exactly: with the worker stopped, the test writes into its RocksDB
    the state the worker would have written for the next contact, which is on the topic
    unprocessed."""
    earlier = _post(service, "no_unmet_needs")
    _wait_for_case(service, earlier)
    service.worker.stop()

    referral = _post(service, "domestic_abuse_in_home")
    (event,) = [
        r
        for r in read_topic(service.bootstrap, service.topic("contacts"), at_least=2)
        if orjson.loads(r.value)["contact_id"] == referral
    ]
    # The child's update the identities agent sent for the earlier contact: where the child's state is.
    (update,) = read_topic(service.bootstrap, service.topic("resolved"), at_least=1)
    (db_path,) = service.tmp.glob(f"worker-state/**/*children-{update.partition}.db")
    db = RocksDBOptions().open(db_path)
    try:
        stored = db.get(update.key)
        assert stored is not None, "the earlier contact is in the worker's local state"
        state = ChildState.model_validate_json(stored)
        ruleset = load_ruleset()
        entry = ContactEntry.of(SealedContactEvent.model_validate_json(event.value), ruleset.version)
        same_child = ChildUpdate(child_key=update.key.decode(), add=(entry,))
        step = apply_update(state, same_child, RulesetHistory.of(ruleset))
        db.put(update.key, step.state.model_dump_json().encode())
    finally:
        db.close()

    service.worker.start()
    service.worker.wait_ready()
    assert _wait_for_case(service, referral)["state"] == "awaiting_decision"
    service.worker.stop()

    # Another worker, with no local state, takes over the partition from the changelog alone: it
    # knows the contact, so a coordinator's decision makes it a referral, and the child's next
    # contact is linked to the case it opened.
    successor = add_worker(service, 2)
    successor.start()
    try:
        successor.wait_ready()
        decide(service, referral)
        assert (
            case_record(service, referral, until=lambda r: r["state"] == "decided")["referral"] == "referral"
        )
        linked = _wait_for_case(service, _post(service, "domestic_abuse_in_home"))
    finally:
        successor.stop()
    assert (linked["referral"], linked["case_id"]) == ("linked_to_open_case", referral)
