"""Personal data sealed before it leaves a process, so Kafka never holds it in clear.

Envelope encryption: each child identifier (a pseudonymous token, mash.domain.identity) has its
own 256-bit data key; personal fields are sealed with AES-256-GCM under it, the record's id bound
in as associated data (a sealed field cannot be moved to another record). Data keys are stored
only wrapped by the council's master key (also AES-256-GCM, the token bound in), on the keys topic
(mash.adapters.keyring). Destroying a data key makes everything sealed under it unreadable
everywhere it was copied: that is how a child's data is erased from an append-only log.

The master key comes from configuration; `MasterKey` is the plug point for a cloud key management
service (wrap and unwrap are the only two operations it needs). Dead letters, whose bytes may be
anything, are sealed to the operators' public key instead, so the worker, which writes them,
holds no key that opens them.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict

from mash.domain.sealed import Sealed

NONCE_BYTES = 12
KEY_BYTES = 32


class Unreadable(Exception):
    """Sealed data that cannot be opened: its key is erased or unknown, or it was tampered with."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def seal(dek: bytes, key_id: str, plaintext: bytes, aad: bytes) -> Sealed:
    nonce = os.urandom(NONCE_BYTES)
    return Sealed(key=key_id, nonce=b64(nonce), data=b64(AESGCM(dek).encrypt(nonce, plaintext, aad)))


def unseal(dek: bytes, sealed: Sealed, aad: bytes) -> bytes:
    try:
        return AESGCM(dek).decrypt(unb64(sealed.nonce), unb64(sealed.data), aad)
    except (InvalidTag, ValueError):
        raise Unreadable(
            "sealed data does not open with its key: altered, or bound to another record"
        ) from None


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


# --- master keys ---------------------------------------------------------------------------------


class MasterKey(Protocol):
    """Wraps and unwraps data keys. A cloud KMS fits here: its key id, and its two calls."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, dek: bytes, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


@dataclass(frozen=True)
class LocalMasterKey:
    """A master key held in configuration as `ID:BASE64` (32 random bytes): `mash keys new` makes one."""

    key_id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"a master key is {KEY_BYTES} bytes; this one is {len(self.key)}")

    @classmethod
    def parse(cls, text: str) -> LocalMasterKey:
        key_id, sep, encoded = text.strip().partition(":")
        if not sep or not key_id:
            raise ValueError("a master key is written ID:BASE64 (see `mash keys new`)")
        try:
            return cls(key_id, unb64(encoded))
        except ValueError as exc:
            raise ValueError(f"master key {key_id}: {exc}") from None

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(nonce, dek, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(self.key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise Unreadable(f"a data key does not unwrap with master key {self.key_id}") from None


def new_master_key(key_id: str | None = None) -> str:
    """A new master key, written as configuration takes it."""
    return f"{key_id or 'mk-' + secrets.token_hex(4)}:{b64(os.urandom(KEY_BYTES))}"


@dataclass(frozen=True)
class MasterKeys:
    """The master key that wraps new data keys, and older ones still needed to unwrap data keys
    not yet rotated to it (`mash keys rotate`)."""

    current: MasterKey
    older: tuple[MasterKey, ...] = ()

    def get(self, key_id: str) -> MasterKey:
        for key in (self.current, *self.older):
            if key.key_id == key_id:
                return key
        raise Unreadable(f"master key {key_id} is not configured")


# --- dead letters ----------------------------------------------------------------------------------


class SealedBox(BaseModel):
    """Bytes sealed to a public key: only the holder of the private key opens them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ephemeral: str
    nonce: str
    data: str


def _box_key(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"mash sealed box").derive(
        shared
    )


def seal_to(public_key: bytes, plaintext: bytes) -> SealedBox:
    ephemeral = X25519PrivateKey.generate()
    key = _box_key(ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key)))
    nonce = os.urandom(NONCE_BYTES)
    mine = ephemeral.public_key().public_bytes_raw()
    return SealedBox(
        ephemeral=b64(mine), nonce=b64(nonce), data=b64(AESGCM(key).encrypt(nonce, plaintext, mine))
    )


def open_box(private_key: bytes, box: SealedBox) -> bytes:
    theirs = unb64(box.ephemeral)
    key = _box_key(
        X25519PrivateKey.from_private_bytes(private_key).exchange(X25519PublicKey.from_public_bytes(theirs))
    )
    try:
        return AESGCM(key).decrypt(unb64(box.nonce), unb64(box.data), theirs)
    except InvalidTag:
        raise Unreadable("the sealed box does not open with this key") from None


def new_box_keys() -> tuple[str, str]:
    """(private, public), base64, for dead letters: `mash keys new` prints a pair."""
    private = X25519PrivateKey.generate()
    return b64(private.private_bytes_raw()), b64(private.public_key().public_bytes_raw())
