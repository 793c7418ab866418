"""Sealing personal data: what opens it, and what never does."""

from __future__ import annotations

import pytest

from mash.adapters.keyring import Keyring
from mash.adapters.sealing import (
    LocalMasterKey,
    MasterKeys,
    Unreadable,
    new_box_keys,
    new_master_key,
    open_box,
    seal,
    seal_to,
    unb64,
)

MASTER = MasterKeys(LocalMasterKey.parse(new_master_key("mk-1")))
TOKEN = "nhs-token-of-a-fictional-child"
SECRET = b'{"given_name": "Marker-Given"}'


def keyring_with_a_key() -> tuple[Keyring, str]:
    keyring = Keyring(MASTER)
    record, _ = keyring.new_key(TOKEN)
    keyring.add(record)
    return keyring, record.key


def test_sealed_data_opens_with_its_key_for_its_record_only() -> None:
    keyring, key_id = keyring_with_a_key()
    sealed = seal(keyring.dek(key_id), key_id, SECRET, b"ct-1")

    assert SECRET not in unb64(sealed.data)
    assert keyring.open(sealed, b"ct-1") == SECRET
    with pytest.raises(Unreadable, match="bound to another record"):
        keyring.open(sealed, b"ct-2")


def test_an_erased_key_opens_nothing_sealed_under_it_anywhere() -> None:
    keyring, key_id = keyring_with_a_key()
    sealed = seal(keyring.dek(key_id), key_id, SECRET, b"ct-1")
    reader = Keyring(MASTER)
    reader.on_record(key_id.encode(), keyring.records[key_id].model_dump_json().encode())
    assert reader.open(sealed, b"ct-1") == SECRET

    reader.on_record(key_id.encode(), None)  # the tombstone `mash erase` writes

    with pytest.raises(Unreadable, match="erased"):
        reader.open(sealed, b"ct-1")
    assert reader.live == {}


def test_a_key_record_holds_the_data_key_only_wrapped_by_the_master_key() -> None:
    keyring, key_id = keyring_with_a_key()
    record = keyring.records[key_id]

    assert keyring.dek(key_id) not in unb64(record.wrapped)
    # Another master key of the same name (a wrong configuration) does not unwrap it.
    other = Keyring(MasterKeys(LocalMasterKey.parse(new_master_key("mk-1"))))
    other.add(record)
    with pytest.raises(Unreadable, match="does not unwrap with master key mk-1"):
        other.dek(key_id)


def test_a_process_with_no_master_key_opens_nothing() -> None:
    keyring, key_id = keyring_with_a_key()
    worker = Keyring(None)
    worker.add(keyring.records[key_id])

    with pytest.raises(Unreadable, match="no master key"):
        worker.dek(key_id)


def test_rotation_rewraps_every_key_under_the_new_master_key_and_the_old_one_can_then_go() -> None:
    keyring, key_id = keyring_with_a_key()
    sealed = seal(keyring.dek(key_id), key_id, SECRET, b"ct-1")
    new = LocalMasterKey.parse(new_master_key("mk-2"))
    rotating = Keyring(MasterKeys(new, older=(MASTER.current,)))
    rotating.add(keyring.records[key_id])

    [rewrapped] = rotating.rewrapped()

    assert rewrapped.master_key_id == "mk-2"
    after = Keyring(MasterKeys(new))  # the old master key destroyed
    after.add(rewrapped)
    assert after.open(sealed, b"ct-1") == SECRET


def test_a_master_key_is_written_id_colon_base64_of_32_bytes() -> None:
    assert LocalMasterKey.parse(new_master_key("mk-x")).key_id == "mk-x"
    with pytest.raises(ValueError, match="ID:BASE64"):
        LocalMasterKey.parse("no-colon")
    with pytest.raises(ValueError, match="32 bytes"):
        LocalMasterKey.parse("mk:" + "QUJD")


def test_a_dead_letter_sealed_to_the_operators_opens_only_with_their_private_key() -> None:
    private, public = new_box_keys()
    box = seal_to(unb64(public), b"any bytes, perhaps personal")

    assert open_box(unb64(private), box) == b"any bytes, perhaps personal"
    other_private, _ = new_box_keys()
    with pytest.raises(Unreadable):
        open_box(unb64(other_private), box)
