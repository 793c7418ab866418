"""Erasing a child's personal details, applying the retention policy, and rotating the master key.

Each works on the keys topic (mash.adapters.keyring): erasing writes a tombstone for each of the
child's data keys and an erasure record saying why; rotating writes every data key again, wrapped
by the current master key. Erasing needs no master key: destroying a key does not open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from mash.adapters.keyring import ERASURE, ErasureRecord, Keyring
from mash.adapters.keys import key_records, keys_follower
from mash.adapters.ports import Publisher, publish_all
from mash.adapters.producer import Outgoing, command_publisher
from mash.config import Settings
from mash.domain.case import CaseRecord
from mash.domain.retention import Due, RetentionPolicy, due_for_erasure
from mash.services.rescreen import latest_records


class UnknownChild(ValueError):
    """Neither a child key nor a contact id the service knows."""


async def read_keyring(settings: Settings, *, opens: bool) -> Keyring:
    """The keys topic as it stands; with the master key only when the caller must open or seal."""
    keyring = Keyring(settings.master() if opens else None)
    await keys_follower(settings, keyring, "command").read_to_end()
    return keyring


@dataclass(frozen=True)
class Erased:
    child_key: str
    keys: int


async def child_of(settings: Settings, child_or_contact: str) -> tuple[str, list[str]]:
    """The child (a child key, or the child of a contact id `ct-...`) and its contacts, from the
    case records: the child as the service knows it now, every identifier tied."""
    records = await latest_records(settings)
    found = records.get(child_or_contact)
    child_key = found.child_key if found is not None else child_or_contact
    contacts = sorted(cid for cid, r in records.items() if r.child_key == child_key)
    if not contacts:
        raise UnknownChild(f"no case record for {child_or_contact}")
    return child_key, contacts


async def erase(
    publisher: Publisher,
    keys_topic: str,
    keyring: Keyring,
    child_key: str,
    contacts: list[str],
    reason: str,
    by: str,
    now: datetime,
) -> Erased:
    """Destroys the data key of every contact of the child, and records why: everything sealed under
    them, on every topic and in every copy, can no longer be opened. Pseudonymous records and
    figures stay."""
    keys = keyring.keys_of(set(contacts))
    record = ErasureRecord(
        child_key=child_key, reason=reason, by=by, erased_at=now, contacts=contacts, keys=keys
    )
    await publisher.publish(
        *(Outgoing(keys_topic, None, key.encode()) for key in keys),
        Outgoing(keys_topic, record.model_dump_json().encode(), f"{ERASURE}{child_key}".encode()),
    )
    for key in keys:
        keyring.erase(key)
    keyring.record_erasure(record)
    return Erased(child_key, len(keys))


async def retention_due(settings: Settings, keyring: Keyring, today: date) -> list[Due]:
    records = list((await latest_records(settings)).values())
    policy = RetentionPolicy(nfa_years=settings.retention_nfa_years)
    # Erased already: no contact of theirs has a key left to destroy.
    live = {r.child_key for r in records if keyring.has_live_key(r.contact_id)}
    erased = {r.child_key for r in records} - live
    return due_for_erasure(records, policy, today, erased)


def _contacts_of(records: list[CaseRecord], child_key: str) -> list[str]:
    return sorted(r.contact_id for r in records if r.child_key == child_key)


async def apply_retention(settings: Settings, now: datetime, *, apply: bool) -> list[Due]:
    """The children the policy says to erase today; erased when `apply`."""
    keyring = await read_keyring(settings, opens=False)
    due = await retention_due(settings, keyring, now.date())
    if apply and due:
        records = list((await latest_records(settings)).values())
        async with command_publisher(settings) as publisher:
            for child in due:
                contacts = _contacts_of(records, child.child_key)
                await erase(
                    publisher,
                    settings.topic("keys"),
                    keyring,
                    child.child_key,
                    contacts,
                    child.reason,
                    "retention",
                    now,
                )
    return due


async def rotate(settings: Settings) -> int:
    """Wraps every data key not yet under the current master key with it; returns how many."""
    keyring = await read_keyring(settings, opens=True)
    rewrapped = keyring.rewrapped()
    topic = settings.topic("keys")
    async with command_publisher(settings) as publisher:
        await publish_all(
            publisher, (Outgoing(topic, value, key) for key, value, _ in key_records(rewrapped))
        )
    return len(rewrapped)
