"""Dead letters: events an agent could not use, kept with the reason so nothing is lost.

A reason is a short code (for metrics and alerts) plus problems that name the field and
why, never the offending value, because the value may be a child's name.
"""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from mash.domain.contact import Problem

MAX_EVENT_BYTES = 512 * 1024  # intake bodies are capped at 256 KiB; a bigger event is not ours


class DeadLetterReason(StrEnum):
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNSUPPORTED_VERSION = "unsupported_version"
    SCHEMA_INVALID = "schema_invalid"
    OVERSIZED = "oversized"
    KEY_MISMATCH = "key_mismatch"


class DeadLetter(BaseModel):
    """Dead letter v1 on `mash.dlq.v1`: the original record, where it came from, and why it failed."""

    model_config = ConfigDict(extra="forbid", title="DeadLetterV1")

    schema_version: Literal[1] = 1
    topic: str
    partition: int
    offset: int
    reason: DeadLetterReason
    problems: list[Problem]
    failed_at: AwareDatetime
    key_b64: str | None
    value_b64: str


class Rejected(Exception):
    def __init__(self, reason: DeadLetterReason, problems: list[Problem]) -> None:
        self.reason = reason
        self.problems = problems
        super().__init__(reason.value)


M = TypeVar("M", bound=BaseModel)


def parse_event(raw: bytes, model: type[M], expected_version: int = 1) -> M:
    """Parses one event; raises Rejected with a reason that is safe to log and store."""
    if len(raw) > MAX_EVENT_BYTES:
        raise Rejected(
            DeadLetterReason.OVERSIZED, [Problem(loc=[], msg="event is over 512 KiB", type="too_large")]
        )
    if b'"schema_version"' in raw:
        # The common case, parsed in one pass by pydantic's own JSON parser.
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            pass  # classified below, more slowly, with the reason
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Rejected(
            DeadLetterReason.MALFORMED_JSON, [Problem(loc=[], msg="not valid JSON", type="json_invalid")]
        ) from None
    if not isinstance(data, dict):
        raise Rejected(
            DeadLetterReason.NOT_AN_OBJECT, [Problem(loc=[], msg="must be a JSON object", type="object_type")]
        )
    if data.get("schema_version") != expected_version:
        raise Rejected(
            DeadLetterReason.UNSUPPORTED_VERSION,
            [
                Problem(
                    loc=["schema_version"], msg=f"this agent reads version {expected_version}", type="version"
                )
            ],
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Rejected(DeadLetterReason.SCHEMA_INVALID, problems_of(exc)) from None


def problems_of(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    """pydantic's errors without the input values they normally carry."""
    return [
        Problem(loc=[*prefix, *err["loc"]], msg=err["msg"], type=err["type"])
        for err in exc.errors(include_input=False, include_url=False, include_context=False)
    ]


def dead_letter(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes, rejected: Rejected, at: datetime
) -> DeadLetter:
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        reason=rejected.reason,
        problems=rejected.problems,
        failed_at=at,
        key_b64=base64.b64encode(key).decode() if key is not None else None,
        value_b64=base64.b64encode(value).decode(),
    )


def to_json(model: BaseModel) -> bytes:
    return orjson.dumps(model.model_dump(mode="json"))
