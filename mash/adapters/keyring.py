"""The data keys, kept on `mash.keys.v1`: one key record per data key, keyed by its id.

A data key's id is `TOKEN/RANDOM`: the child identifier it seals for, and a random part, so two
intake replicas creating a key for the same new child at once both keep theirs (each sealed field
names its key). A record holds the key only wrapped by the master key; erasing a child writes a
tombstone for each of its keys. Every process that opens sealed data (intake, console, exports)
follows the topic into a `Keyring`; the worker never does.

What erasure means on Kafka (docs/security-and-privacy.md): once a key's tombstone is read, no
process can open what was sealed under it. The live topic drops the wrapped key itself at its next
compaction (Apache Kafka, `cleanup.policy=compact`; the embedded broker never compacts). Copies
taken before (backups, mirrors) hold it wrapped by the master key of the time: rotate the master
key (`mash keys rotate`) and destroy the old one once those copies have aged out.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from mash.adapters.sealing import MasterKeys, Unreadable, b64, new_data_key, seal, unb64, unseal
from mash.domain.contact import PersonalDetails, SealedContactEvent
from mash.domain.sealed import Sealed


class DataKeyRecord(BaseModel):
    """A data key as the keys topic holds it: wrapped, with the master key that wrapped it."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="DataKeyV1")

    key: str
    master_key_id: str
    wrapped: str


ERASURE = "erasure/"  # the key of an erasure record: `erasure/<child key>`


class ErasureRecord(BaseModel):
    """Why and when a child's data keys were destroyed: kept on the keys topic for good (it names
    no one: the reason is a reference to the council's decision, never the child)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ErasureV1")

    child_key: str
    reason: str
    by: str
    erased_at: AwareDatetime
    contacts: list[str]
    keys: list[str]


def token_of(key_id: str) -> str:
    return key_id.rpartition("/")[0]


@dataclass
class Keyring:
    """What the keys topic says: live keys by token, and the keys erased. `master` is None in a
    process that must not open anything."""

    master: MasterKeys | None
    records: dict[str, DataKeyRecord] = field(default_factory=dict)
    live: dict[str, str] = field(default_factory=dict)  # token -> the first live key id seen
    erased: set[str] = field(default_factory=set)
    erasures: dict[str, ErasureRecord] = field(default_factory=dict)  # by child key
    erased_contacts: set[str] = field(default_factory=set)
    _deks: dict[str, bytes] = field(default_factory=dict, repr=False)

    def clear(self) -> None:
        """Forgets every key (the broker was replaced by an empty one)."""
        self.records.clear()
        self.live.clear()
        self.erased.clear()
        self.erasures.clear()
        self.erased_contacts.clear()
        self._deks.clear()

    def on_record(self, key: bytes | None, value: bytes | None) -> None:
        """Applies one record of the keys topic (a tombstone erases the key)."""
        if key is None:
            return
        key_id = key.decode()
        if key_id.startswith(ERASURE):
            if value is not None:
                with contextlib.suppress(ValidationError):
                    self.record_erasure(ErasureRecord.model_validate_json(value))
            return
        if value is None:
            self.erase(key_id)
            return
        try:
            record = DataKeyRecord.model_validate_json(value)
        except ValidationError:
            return
        self.add(record)

    def add(self, record: DataKeyRecord) -> None:
        self.records[record.key] = record
        self.erased.discard(record.key)
        self._deks.pop(record.key, None)  # a rotated record: unwrap it again
        self.live.setdefault(token_of(record.key), record.key)

    def erase(self, key_id: str) -> None:
        self.records.pop(key_id, None)
        self._deks.pop(key_id, None)
        self.erased.add(key_id)
        token = token_of(key_id)
        if self.live.get(token) == key_id:
            del self.live[token]
            others = [k for k in self.records if token_of(k) == token]
            if others:
                self.live[token] = others[0]

    def keys_of(self, tokens: set[str]) -> list[str]:
        """Every key id, live, for these tokens: what erasing them tombstones."""
        return sorted(k for k in self.records if token_of(k) in tokens)

    def dek(self, key_id: str) -> bytes:
        if key_id in self.erased:
            raise Unreadable("erased")
        record = self.records.get(key_id)
        if record is None:
            raise Unreadable("unknown key")
        if self.master is None:
            raise Unreadable("this process holds no master key")
        if key_id not in self._deks:
            master = self.master.get(record.master_key_id)
            self._deks[key_id] = master.unwrap(unb64(record.wrapped), key_id.encode())
        return self._deks[key_id]

    def open(self, sealed: Sealed, aad: bytes) -> bytes:
        return unseal(self.dek(sealed.key), sealed, aad)

    def seal(self, token: str, record_id: str, plaintext: bytes) -> Sealed:
        """Sealed under the token's live key (`without_key` says which tokens need one first)."""
        key_id = self.live.get(token)
        if key_id is None:
            raise Unreadable("no data key for this child yet")
        return seal(self.dek(key_id), key_id, plaintext, record_id.encode())

    def without_key(self, tokens: set[str]) -> list[str]:
        return sorted(t for t in tokens if t not in self.live)

    def personal(self, event: SealedContactEvent) -> PersonalDetails:
        """The contact's personal details; raises Unreadable once the child's key is erased."""
        return PersonalDetails.model_validate_json(self.open(event.personal, event.contact_id.encode()))

    def record_erasure(self, erasure: ErasureRecord) -> None:
        self.erasures[erasure.child_key] = erasure
        self.erased_contacts.update(erasure.contacts)

    def is_erased(self, key_id: str) -> bool:
        """What was sealed under this key is erased: its tombstone was read, or its contact's
        erasure record was and the key itself is gone (Kafka compacts tombstones away in the end)."""
        return key_id in self.erased or (
            key_id not in self.records and token_of(key_id) in self.erased_contacts
        )

    def has_live_key(self, token: str) -> bool:
        return token in self.live

    def new_key(self, token: str) -> tuple[DataKeyRecord, bytes]:
        """A new data key for `token`: to write to the keys topic before sealing anything under it."""
        if self.master is None:
            raise Unreadable("this process holds no master key")
        key_id = f"{token}/{secrets.token_hex(8)}"
        dek = new_data_key()
        wrapped = self.master.current.wrap(dek, key_id.encode())
        record = DataKeyRecord(key=key_id, master_key_id=self.master.current.key_id, wrapped=b64(wrapped))
        self._deks[key_id] = dek
        return record, dek

    def rewrapped(self) -> list[DataKeyRecord]:
        """Every live key not wrapped by the current master key, wrapped by it: `mash keys rotate`."""
        if self.master is None:
            raise Unreadable("this process holds no master key")
        current = self.master.current
        return [
            DataKeyRecord(
                key=k, master_key_id=current.key_id, wrapped=b64(current.wrap(self.dek(k), k.encode()))
            )
            for k, record in sorted(self.records.items())
            if record.master_key_id != current.key_id
        ]
