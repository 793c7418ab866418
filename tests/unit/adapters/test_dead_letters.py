"""Parsing events off a topic: every failure has a reason code and problems without values."""

from __future__ import annotations

import orjson
import pytest

from mash.adapters.dead_letters import DeadLetterReason, Rejected, parse_event
from mash.domain.case import CaseRecord


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", DeadLetterReason.MALFORMED_JSON),
        (b"", DeadLetterReason.MALFORMED_JSON),
        (b'"a string"', DeadLetterReason.NOT_AN_OBJECT),
        (b'{"schema_version": 2}', DeadLetterReason.UNSUPPORTED_VERSION),
        (b"{}", DeadLetterReason.UNSUPPORTED_VERSION),
        (b'{"schema_version": 1, "contact_id": "Secret Name"}', DeadLetterReason.SCHEMA_INVALID),
        (b" " * (512 * 1024 + 1), DeadLetterReason.OVERSIZED),
    ],
)
def test_each_kind_of_bad_event_has_its_reason(raw: bytes, reason: DeadLetterReason) -> None:
    with pytest.raises(Rejected) as caught:
        parse_event(raw, CaseRecord)
    assert caught.value.reason is reason
    assert caught.value.problems
    assert b"Secret Name" not in orjson.dumps([p.model_dump() for p in caught.value.problems])
