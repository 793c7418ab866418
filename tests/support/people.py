"""What a coordinator does in the console, done straight on Kafka for integration tests that are
about the pipeline rather than the console: read a contact's case record, and decide it.

A decision is a `DecisionEvent` on the decisions topic keyed by its contact, exactly what the
console writes (tests/integration/test_console.py drives the console itself in a browser): its
rationale sealed under the contact's data key, read from the keys topic with the test master key
(a new key written first for a contact with none live), as the console seals it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaProducer

from mash.adapters.keys import Records, ensure_keys
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.persons import IdentityAction, IdentityDecisionEvent
from mash.domain.sealed import Seal
from mash.services.privacy import read_keyring
from tests.integration.conftest import Service
from tests.support.kafka_topics import read_topic, write_topic

Record = dict[str, Any]
T = TypeVar("T")


def latest_cases(service: Service, at_least: int = 0) -> dict[str, Record]:
    """The latest case record per contact id on the cases topic."""
    latest: dict[str, Record] = {}
    for record in read_topic(service.bootstrap, service.topic("cases"), at_least=at_least, timeout=5.0):
        value = orjson.loads(record.value)
        latest[value["contact_id"]] = value
    return latest


def case_record(
    service: Service, contact_id: str, until: Callable[[Record], bool] = lambda r: True, timeout: float = 30.0
) -> Record:
    """The contact's latest case record once `until` holds for it."""
    deadline = time.monotonic() + timeout
    record: Record | None = None
    while time.monotonic() < deadline:
        record = latest_cases(service).get(contact_id)
        if record is not None and until(record):
            return record
        time.sleep(0.3)
    raise AssertionError(f"case record of {contact_id} not as expected within {timeout} s: {record}")


def decide(
    service: Service,
    contact_id: str,
    action: DecisionAction = DecisionAction.CONFIRM,
    *,
    at: datetime | None = None,
    role: Role = Role.COORDINATOR,
    rationale: str = "Decided in a test, as a coordinator would in the console.",
    **fields: Any,
) -> DecisionEvent:
    """A person's decision about the contact; a confirm names the level and RAG the case shows.
    Returns the event as it was written (sealed)."""
    record = case_record(service, contact_id)
    if action is DecisionAction.CONFIRM:
        fields = {"level": record["level"], "rag": record["rag"], **fields}
    event = DecisionEvent(
        decision_id=f"dc-{uuid.uuid4().hex[:24]}",
        contact_id=contact_id,
        child_key=record["child_key"],
        action=action,
        decided_at=at or datetime.now(UTC),
        by="manager-1" if role is Role.MANAGER else "coordinator-1",
        role=role,
        rationale=rationale,
        **fields,
    )
    sealed = asyncio.run(_sealed(service, event.contact_id, event.sealed))
    write_topic(
        service.bootstrap,
        service.topic("decisions"),
        [(sealed.contact_id.encode(), sealed.model_dump_json().encode())],
    )
    return sealed


async def _sealed(service: Service, token: str, seal: Callable[[Seal], T]) -> T:
    """`seal` with a keyring read from the service's keys topic, holding a live key for `token`."""
    keyring = await read_keyring(service.settings, opens=True)
    producer = AIOKafkaProducer(bootstrap_servers=service.bootstrap, acks="all")
    await producer.start()

    async def write_keys(topic: str, records: Records) -> None:
        for key, value, _ in records:
            await producer.send_and_wait(topic, value, key=key)

    try:
        await ensure_keys(service.settings, keyring, {token}, write_keys)
    finally:
        await producer.stop()
    return seal(keyring.seal)


def decide_identity(
    service: Service,
    action: IdentityAction,
    subjects: list[str],
    others: list[str],
    rationale: str = "Checked with the school and the GP in a test.",
) -> IdentityDecisionEvent:
    """A coordinator's identity decision (same child, different child, link, split), its rationale
    sealed under the first subject's data key. Returns the event as it was written (sealed)."""
    event = IdentityDecisionEvent(
        decision_id=f"id-{uuid.uuid4().hex[:24]}",
        action=action,
        subjects=subjects,
        others=others,
        decided_at=datetime.now(UTC),
        by="coordinator-1",
        role=Role.COORDINATOR,
        rationale=rationale,
    )
    sealed = asyncio.run(_sealed(service, subjects[0], event.sealed))
    write_topic(
        service.bootstrap,
        service.topic("identities"),
        [(subjects[0].encode(), sealed.model_dump_json().encode())],
    )
    return sealed
