"""The keys topic as every process that seals or opens personal details uses it.

Such a process follows the topic into a `Keyring` from the beginning (the keys are few: one or
two per child) and, before sealing anything for a child with no key yet, writes a new one and
waits for Kafka to hold it: a record is never sealed under a key that Kafka could lose.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from mash.adapters.follow import TopicFollower
from mash.adapters.keyring import DataKeyRecord, Keyring
from mash.adapters.ports import Record
from mash.config import Settings

Records = list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
Produce = Callable[[str, Records], Awaitable[None]]


def keys_follower(settings: Settings, keyring: Keyring, name: str) -> TopicFollower:
    def on_record(record: Record) -> None:
        keyring.on_record(record.key, record.value)

    return TopicFollower(settings, [settings.topic("keys")], on_record, f"{name}-keys")


def key_records(records: Iterable[DataKeyRecord]) -> Records:
    return [(r.key.encode(), r.model_dump_json().encode(), []) for r in records]


async def ensure_keys(settings: Settings, keyring: Keyring, tokens: set[str], produce: Produce) -> None:
    """A data key for every token that has none, written to the keys topic before it is used."""
    new = [keyring.new_key(token)[0] for token in keyring.without_key(tokens)]
    if new:
        await produce(settings.topic("keys"), key_records(new))
        for record in new:
            keyring.add(record)
