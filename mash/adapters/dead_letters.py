"""Dead letters: events an agent could not use, kept with the reason so nothing is lost.

A reason is a short code (for metrics and alerts) plus problems that name the field and
why, never the offending value, because the value may be a child's name. The original
record (its key and value) may hold a child's name too, so it is sealed to the operators'
public key (MASH_DEAD_LETTER_PUBLIC_KEY): the worker, which writes dead letters, holds no key
that opens them, and neither does anyone who can read the topic. Only `mash dlq show` with the
operators' private key opens one. Without a public key a dead letter keeps only the record's
place (topic, partition, offset), size and SHA-256, never its bytes; either way the size and
digest let an operator match a letter to the record at its offset without opening it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from mash.adapters.follow import TopicFollower
from mash.adapters.ports import Record
from mash.adapters.sealing import KEY_BYTES, SealedBox, Unreadable, b64, open_box, seal_to, unb64
from mash.config import Settings
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
    """Dead letter v2 on `mash.dlq.v1`: where the record came from, why it failed, its size and
    digest, and the record itself sealed to the operators' public key."""

    model_config = ConfigDict(extra="forbid", title="DeadLetterV2")

    schema_version: Literal[2] = 2
    topic: str
    partition: int
    offset: int
    reason: DeadLetterReason
    problems: list[Problem]
    failed_at: AwareDatetime
    value_bytes: int
    value_sha256: str
    original: SealedBox | None


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
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes,
    rejected: Rejected,
    at: datetime,
    public_key: bytes | None,
) -> DeadLetter:
    """The letter for a rejected record; its key and value sealed to `public_key`, or not kept."""
    original = None
    if public_key is not None:
        record = {"key_b64": b64(key) if key is not None else None, "value_b64": b64(value)}
        original = seal_to(public_key, orjson.dumps(record))
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        reason=rejected.reason,
        problems=rejected.problems,
        failed_at=at,
        value_bytes=len(value),
        value_sha256=hashlib.sha256(value).hexdigest(),
        original=original,
    )


def open_dead_letter(letter: DeadLetter, private_key: bytes) -> tuple[bytes | None, bytes]:
    """The original record's key and value; raises Unreadable if the letter does not open with
    `private_key`, holds no original, or its original is not the record it describes."""
    if letter.original is None:
        raise Unreadable(
            "this dead letter holds no original: no public key was configured when it was written"
        )
    record = orjson.loads(open_box(private_key, letter.original))
    key = unb64(record["key_b64"]) if record["key_b64"] is not None else None
    value = unb64(record["value_b64"])
    if len(value) != letter.value_bytes or hashlib.sha256(value).hexdigest() != letter.value_sha256:
        raise Unreadable("the sealed original is not the record this dead letter describes")
    return key, value


def box_key(text: str, name: str) -> bytes:
    """A base64 X25519 key from configuration or a file (as `mash dlq keys` prints it, with or
    without `NAME=` in front); a clear error naming `name` if it is not one."""
    try:
        key = base64.b64decode(text.strip().removeprefix(f"{name}="), validate=True)
    except ValueError:
        raise ValueError(f"{name} is not base64 (`mash dlq keys` makes a pair)") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{name} is {len(key)} bytes; an X25519 key is {KEY_BYTES}")
    return key


def describe(letter: DeadLetter, private_key: bytes | None) -> str:
    """One line for an operator: where the record was, why it failed and, with the private key,
    the original key and value (as JSON strings)."""
    problems = "; ".join(f"{'.'.join(map(str, p.loc)) or '(record)'}: {p.msg}" for p in letter.problems)
    line = (
        f"{letter.topic} partition={letter.partition} offset={letter.offset} reason={letter.reason.value} "
        f"problems=[{problems}] bytes={letter.value_bytes} sha256={letter.value_sha256}"
    )
    if private_key is None:
        return line
    try:
        key, value = open_dead_letter(letter, private_key)
    except Unreadable as exc:
        return f"{line} original=({exc})"
    key_text = key.decode("utf-8", "backslashreplace") if key is not None else None
    value_text = value.decode("utf-8", "backslashreplace")
    return f"{line} key={orjson.dumps(key_text).decode()} value={orjson.dumps(value_text).decode()}"


async def dead_letter_lines(settings: Settings, private_key: bytes | None, limit: int | None) -> list[str]:
    """`mash dlq show`: the dead-letter topic read from the beginning, one line per letter (the
    last `limit` of them), each opened with `private_key` if given."""
    letters: list[DeadLetter | str] = []

    def on_record(record: Record) -> None:
        try:
            letters.append(DeadLetter.model_validate_json(record.value or b""))
        except ValidationError:
            letters.append(f"{record.topic} offset={record.offset}: not a dead letter v2; not shown")

    await TopicFollower(settings, [settings.topic("dlq")], on_record, "dead-letters").read_to_end()
    return [
        letter if isinstance(letter, str) else describe(letter, private_key)
        for letter in (letters[-limit:] if limit else letters)
    ]


def to_json(model: BaseModel) -> bytes:
    return orjson.dumps(model.model_dump(mode="json"))
