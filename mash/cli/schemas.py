"""JSON Schema for every request and event, generated from the pydantic models.

`mash schemas write` refreshes `schemas/`; a test fails when the checked-in files differ.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from mash.adapters.dead_letters import DeadLetter
from mash.domain.case import CaseRecord, PlanRecord
from mash.domain.contact import ContactSubmission, SealedContactEvent
from mash.domain.decisions import DecisionEvent
from mash.domain.imm import AgendaFrozen, MeetingRecorded
from mash.domain.outcomes import OutcomeEvent, OutcomeSubmission
from mash.domain.persons import IdentityDecisionEvent
from mash.domain.ruleset import Ruleset
from mash.domain.timeline import ChildUpdate

SCHEMAS: dict[str, type[BaseModel]] = {
    "contact-submission.v1.json": ContactSubmission,
    "contact-event.v2.json": SealedContactEvent,
    "outcome-submission.v1.json": OutcomeSubmission,
    "outcome-event.v2.json": OutcomeEvent,
    "decision-event.v1.json": DecisionEvent,
    "identity-decision-event.v1.json": IdentityDecisionEvent,
    "child-update.v1.json": ChildUpdate,
    "case-record.v1.json": CaseRecord,
    "plan-record.v1.json": PlanRecord,
    "imm-agenda-frozen.v1.json": AgendaFrozen,
    "imm-meeting-recorded.v1.json": MeetingRecorded,
    "dead-letter.v2.json": DeadLetter,
    "ruleset.v1.json": Ruleset,
}


def render(model: type[BaseModel]) -> bytes:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = directory / name
        path.write_bytes(render(model))
        written.append(path)
    return written


def stale_schemas(directory: Path) -> list[str]:
    """Names of checked-in schemas that differ from the models (or are missing)."""
    return [
        name
        for name, model in SCHEMAS.items()
        if not (directory / name).exists() or (directory / name).read_bytes() != render(model)
    ]
