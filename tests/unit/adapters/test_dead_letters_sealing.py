"""Dead letters hold the original record only sealed to the operators' public key."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from mash.adapters.dead_letters import (
    DeadLetter,
    DeadLetterReason,
    Rejected,
    box_key,
    dead_letter,
    describe,
    open_dead_letter,
    to_json,
)
from mash.adapters.sealing import Unreadable, new_box_keys
from mash.domain.contact import Problem

MARKER = b"Zqx-child-name"
KEY = b"ck-" + MARKER
VALUE = b'{"given_name": "' + MARKER + b'", "truncated": '
PRIVATE, PUBLIC = (box_key(k, "test key") for k in new_box_keys())
AT = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
REJECTED = Rejected(
    DeadLetterReason.MALFORMED_JSON, [Problem(loc=[], msg="not valid JSON", type="json_invalid")]
)


def letter(public_key: bytes | None, key: bytes | None = KEY, value: bytes = VALUE) -> DeadLetter:
    return dead_letter("mash.contacts.v1", 2, 41, key, value, REJECTED, AT, public_key)


def test_a_sealed_letter_holds_no_byte_of_the_original() -> None:
    sealed = to_json(letter(PUBLIC))
    assert MARKER not in sealed
    assert KEY not in sealed
    # Nor the marker in base64, at any of the three byte alignments it could start at.
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + MARKER)
        assert encoded[4:-4] not in sealed
    assert base64.b64encode(VALUE) not in sealed


def test_it_opens_with_the_private_key_to_exactly_the_original() -> None:
    read_back = DeadLetter.model_validate_json(to_json(letter(PUBLIC)))
    assert open_dead_letter(read_back, PRIVATE) == (KEY, VALUE)
    assert open_dead_letter(letter(PUBLIC, key=None, value=b""), PRIVATE) == (None, b"")
    assert (read_back.value_bytes, read_back.value_sha256) == (len(VALUE), hashlib.sha256(VALUE).hexdigest())


def test_it_does_not_open_with_another_private_key() -> None:
    other_private, _ = new_box_keys()
    with pytest.raises(Unreadable):
        open_dead_letter(letter(PUBLIC), box_key(other_private, "other"))


def test_a_sealed_original_moved_to_another_letter_does_not_open() -> None:
    moved = letter(PUBLIC, value=b"another record").model_copy(update={"original": letter(PUBLIC).original})
    with pytest.raises(Unreadable):
        open_dead_letter(moved, PRIVATE)


def test_without_a_public_key_a_letter_holds_only_the_size_and_digest() -> None:
    plain = letter(None)
    assert plain.original is None
    assert (plain.value_bytes, plain.value_sha256) == (len(VALUE), hashlib.sha256(VALUE).hexdigest())
    assert MARKER not in to_json(plain)
    with pytest.raises(Unreadable):
        open_dead_letter(plain, PRIVATE)


def test_the_operators_line_shows_the_original_only_with_the_private_key() -> None:
    sealed = letter(PUBLIC)
    closed = describe(sealed, None)
    assert "mash.contacts.v1 partition=2 offset=41 reason=malformed_json" in closed
    assert "(record): not valid JSON" in closed
    assert MARKER.decode() not in closed
    assert MARKER.decode() in describe(sealed, PRIVATE)
    assert "\n" not in describe(letter(PUBLIC, value=b"two\nlines"), PRIVATE)


def test_a_key_that_is_not_one_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="MASH_DEAD_LETTER_PUBLIC_KEY"):
        box_key("not base64!", "MASH_DEAD_LETTER_PUBLIC_KEY")
    with pytest.raises(ValueError, match="32"):
        box_key(base64.b64encode(b"short").decode(), "MASH_DEAD_LETTER_PUBLIC_KEY")
    private, _ = new_box_keys()
    assert box_key(f"MASH_DEAD_LETTER_PRIVATE_KEY={private}\n", "MASH_DEAD_LETTER_PRIVATE_KEY") == box_key(
        private, "x"
    )
