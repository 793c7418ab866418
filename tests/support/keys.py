"""Test keys, made once per test run: the dead-letter key pair, a master key, and a keyring
holding that master key.

The integration services are given the dead-letter public key and the master key; tests open
what they wrote with the private key, and seal or open contacts with `test_keyring()`.
"""

from __future__ import annotations

from mash.adapters.keyring import Keyring
from mash.adapters.sealing import LocalMasterKey, MasterKeys, new_box_keys, new_master_key
from mash.domain.contact import ContactEvent, SealedContactEvent

DEAD_LETTER_PRIVATE_KEY, DEAD_LETTER_PUBLIC_KEY = new_box_keys()
MASTER_KEYS = new_master_key("mk-test")


def test_keyring() -> Keyring:
    """A keyring holding the test master key and no data keys yet."""
    return Keyring(MasterKeys(LocalMasterKey.parse(MASTER_KEYS)))


test_keyring.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, where it is imported


def sealed(keyring: Keyring, event: ContactEvent) -> SealedContactEvent:
    """The event as the intake writes it, its data key made in `keyring` if it has none."""
    for token in keyring.without_key({event.contact_id}):
        record, _ = keyring.new_key(token)
        keyring.add(record)
    return event.sealed(keyring.seal)


def sealed_json(keyring: Keyring, event: ContactEvent) -> bytes:
    """`sealed`, as the bytes of the Kafka record's value."""
    return sealed(keyring, event).model_dump_json().encode()
