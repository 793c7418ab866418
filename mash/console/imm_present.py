"""What each item on a meeting's agenda came to, as the agenda and record pages show it."""

from __future__ import annotations

from dataclasses import dataclass

from mash.adapters.keyring import Keyring
from mash.console.imm_forms import closed_by_case_system
from mash.console.present import AGENCY_NAMES, OUTCOME_NAMES, Said
from mash.domain.case import CaseRecord
from mash.domain.imm import MeetingRecorded, imm_outcomes


@dataclass(frozen=True)
class ItemResult:
    kind: str  # "outcome", "pending" (recorded, not yet applied), "carried", "closed", "open"
    text: str
    lead: str | None = None


def item_result(
    cid: str,
    meeting: str,
    record: CaseRecord | None,
    recorded: MeetingRecorded | None,
    said: Said | None = None,
) -> ItemResult:
    """`said` opens the single agency's name the meeting typed (None: nothing is opened)."""
    said = said or Said(Keyring(None))
    if record is not None:
        for item in imm_outcomes(record):
            if item.imm is not None and item.imm.meeting_id == meeting:
                text = OUTCOME_NAMES[item.imm.outcome]
                if item.imm.single_agency_name:
                    name = said(item.decision_id, "single_agency_name", item.imm.single_agency_name)
                    text = f"{text}: {name}"
                return ItemResult("outcome", text, AGENCY_NAMES[item.imm.lead_agency])
    if recorded is not None:
        if cid in recorded.discussed:
            return ItemResult("pending", "Outcome recorded; being applied")
        if cid in recorded.carried:
            return ItemResult("carried", "Not reached: carried over")
        if cid in recorded.closed:
            return ItemResult("closed", "Closed before the meeting: not discussed")
    if closed_by_case_system(record):
        return ItemResult("closed", "Closed since the agenda was frozen")
    return ItemResult("open", "To discuss")
