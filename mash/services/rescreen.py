"""Re-screening waiting contacts under another ruleset version: a recorded decision, never a
side effect of a new ruleset coming into force.

A manager chooses the version; every contact still waiting for a decision and screened under
another version gets a `rescreen` decision naming it, which the worker applies (it is ignored for a
contact decided in the meantime). Decided contacts keep the screening they were decided on. The
manager's rationale is sealed under each contact's data key, so sending needs the master key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from mash.adapters.follow import TopicFollower
from mash.adapters.keys import Records, ensure_keys
from mash.adapters.ports import Record, publish_all
from mash.adapters.producer import Outgoing, command_publisher
from mash.adapters.ruleset_registry import Registry
from mash.config import Settings
from mash.domain.case import CaseRecord, CaseState, supersedes
from mash.domain.decisions import DecisionAction, DecisionEvent, Role


class UnknownVersion(ValueError):
    """The version asked for has never been registered."""


def rescreen_decisions(
    records: Iterable[CaseRecord], version: str, *, by: str, rationale: str, now: datetime
) -> list[DecisionEvent]:
    """A manager's rescreen decision for each contact still waiting and screened under another version."""
    return [
        DecisionEvent(
            decision_id=f"dc-{uuid.uuid4().hex[:24]}",
            contact_id=r.contact_id,
            child_key=r.child_key,
            action=DecisionAction.RESCREEN,
            decided_at=now,
            by=by,
            role=Role.MANAGER,
            rationale=rationale,
            ruleset_version=version,
        )
        for r in records
        if r.state is CaseState.AWAITING_DECISION and r.recommendation.ruleset_version != version
    ]


@dataclass(frozen=True)
class Rescreened:
    waiting: int  # contacts waiting under another version: each got (or would get) a rescreen
    sent: bool


async def latest_records(settings: Settings) -> dict[str, CaseRecord]:
    records: dict[str, CaseRecord] = {}

    def on_record(record: Record) -> None:
        if record.value is None:
            return
        try:
            case = CaseRecord.model_validate_json(record.value)
        except ValidationError:
            return
        if supersedes(case, records.get(case.contact_id)):
            records[case.contact_id] = case

    await TopicFollower(settings, [settings.topic("cases")], on_record, "rescreen").read_to_end()
    return records


async def rescreen_waiting(
    settings: Settings, version: str, *, by: str, rationale: str, now: datetime, dry_run: bool
) -> Rescreened:
    registry = Registry(settings)
    await registry.read()
    if registry.history is None or version not in registry.history:
        raise UnknownVersion(f"ruleset version {version} is not registered; see `mash rules list`")
    decisions = rescreen_decisions(
        (await latest_records(settings)).values(), version, by=by, rationale=rationale, now=now
    )
    if dry_run or not decisions:
        return Rescreened(len(decisions), sent=False)
    # The rationale is sealed under each contact's data key, as the console seals a decision.
    from mash.services.privacy import read_keyring  # here: that module imports this one

    keyring = await read_keyring(settings, opens=True)
    async with command_publisher(settings) as publisher:

        async def write_keys(topic: str, records: Records) -> None:
            await publish_all(publisher, (Outgoing(topic, value, key) for key, value, _ in records))

        await ensure_keys(settings, keyring, {event.contact_id for event in decisions}, write_keys)
        sealed = [event.sealed(keyring.seal) for event in decisions]  # all sealed before any is sent
        topic = settings.topic("decisions")
        await publish_all(
            publisher, (Outgoing(topic, e.model_dump_json().encode(), e.contact_id.encode()) for e in sealed)
        )
    return Rescreened(len(decisions), sent=True)
