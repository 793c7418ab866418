"""The meeting's recording form: from the fields a browser sends to the decisions and meeting record
to write (mash.services.meeting), or the reasons it can't be recorded.

Pure: no HTTP, no clock, no Kafka. Each agenda item's fields are named by its contact id
(`<contact id>.outcome`, `<contact id>.action<n>.what`, ...), as templates/imm_record.html writes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime

from pydantic import ValidationError

from mash.console.present import OUTCOME_NAMES
from mash.console.users import ConsoleRole, User
from mash.domain.case import CaseRecord, CaseState
from mash.domain.decisions import (
    NEEDS_CONSENT,
    ConsentBasis,
    DecisionAction,
    DecisionEvent,
    ImmAction,
    ImmOutcome,
    PartnerAgency,
    Role,
)
from mash.domain.imm import AgendaFrozen, MeetingRecorded
from mash.services.meeting import FormRefused, Recorded

CARRY = "carry"
ACTION_ROWS = 3
MAX_TEXT = 5000


def new_recording_id() -> str:
    return uuid.uuid4().hex


def closed_by_case_system(record: CaseRecord | None) -> bool:
    return record is not None and record.state is CaseState.CLOSED and record.case_closed_at is not None


def _actions(form: Mapping[str, str], cid: str, errors: list[str]) -> list[ImmAction]:
    actions: list[ImmAction] = []
    for n in range(1, ACTION_ROWS + 1):
        what = form.get(f"{cid}.action{n}.what", "").strip()
        owner = form.get(f"{cid}.action{n}.owner", "").strip()
        due = form.get(f"{cid}.action{n}.due", "").strip()
        if not (what or owner or due):
            continue
        if not (what and owner and due):
            errors.append(f"Case {cid}, action {n}: give what is to be done, who owns it and when it is due.")
            continue
        try:
            actions.append(ImmAction(what=what, owner=owner, due=date.fromisoformat(due)))
        except (ValueError, ValidationError):
            errors.append(f"Case {cid}, action {n}: the due date must be a date, and the text not too long.")
    return actions


def _outcome_decision(
    form: Mapping[str, str],
    cid: str,
    outcome: ImmOutcome,
    record: CaseRecord,
    meeting: str,
    user: User,
    now: datetime,
    recording_id: str,
    errors: list[str],
) -> DecisionEvent | None:
    before = len(errors)
    lead = form.get(f"{cid}.lead", "")
    if lead not in {a.value for a in PartnerAgency}:
        errors.append(f"Case {cid}: choose the agreed lead agency.")
    rationale = form.get(f"{cid}.rationale", "").strip()
    if not rationale:
        errors.append(f"Case {cid}: give the rationale: every decision records why it was made.")
    elif len(rationale) > MAX_TEXT:
        errors.append(f"Case {cid}: the rationale is {len(rationale)} characters; the limit is {MAX_TEXT}.")
    single = form.get(f"{cid}.single_agency", "").strip() or None
    if outcome is ImmOutcome.SINGLE_AGENCY and single is None:
        errors.append(f"Case {cid}: name the single agency that will support the family.")
    if outcome is not ImmOutcome.SINGLE_AGENCY:
        single = None
    consent = form.get(f"{cid}.consent", "")
    basis = ConsentBasis(consent) if consent in {c.value for c in ConsentBasis} else None
    if outcome in NEEDS_CONSENT and basis in (None, ConsentBasis.NOT_REQUIRED):
        errors.append(
            f"Case {cid}: {OUTCOME_NAMES[outcome].lower()} needs the family's consent, "
            "or the reason to proceed without it."
        )
    dissent = form.get(f"{cid}.dissent", "").strip() or None
    if dissent and len(dissent) > MAX_TEXT:
        errors.append(f"Case {cid}: the dissent is {len(dissent)} characters; the limit is {MAX_TEXT}.")
    actions = _actions(form, cid, errors)
    if len(errors) > before:
        return None
    try:
        return DecisionEvent(
            decision_id=f"dc-{recording_id}-{cid}",
            contact_id=cid,
            child_key=record.child_key,
            action=DecisionAction.IMM_OUTCOME,
            decided_at=now,
            by=user.username,
            role=Role.MANAGER if user.role is ConsoleRole.MANAGER else Role.COORDINATOR,
            rationale=rationale,
            meeting_id=meeting,
            outcome=outcome,
            lead_agency=PartnerAgency(lead),
            single_agency_name=single,
            consent_basis=basis,
            actions=actions,
            dissent=dissent,
        )
    except ValidationError as exc:  # every field was checked above; this is a last guard
        errors.append(f"Case {cid}: the outcome could not be recorded ({exc.error_count()} problems).")
        return None


def meeting_from_form(
    form: Mapping[str, str],
    agenda: AgendaFrozen,
    records: Mapping[str, CaseRecord],
    user: User,
    now: datetime,
    recording_id: str,
) -> Recorded | FormRefused:
    """The decisions and meeting record a submitted recording form gives, or why it can't be recorded.

    Each agenda item is `carry` (not reached: on the next agenda) unless an outcome is chosen.
    A case whose social care case has closed since the agenda was frozen gets no outcome and
    is listed as closed; choosing an outcome for it is refused, so nobody's decision is lost
    without them knowing.
    """
    errors: list[str] = []
    present = tuple(a for a in PartnerAgency if form.get(f"present.{a.value}") == "on")
    if not present:
        errors.append("Tick the agencies present at the meeting.")
    decisions: list[DecisionEvent] = []
    discussed: list[str] = []
    carried: list[str] = []
    closed: list[str] = []
    for item in agenda.items:
        cid = item.contact_id
        chosen = form.get(f"{cid}.outcome", CARRY)
        record = records.get(cid)
        if closed_by_case_system(record):
            if chosen != CARRY:
                errors.append(
                    f"Case {cid}: its social care case closed after the agenda was frozen, so no outcome "
                    "can be recorded for it. It is now shown as closed; submit the form again."
                )
            closed.append(cid)
            continue
        if chosen == CARRY:
            carried.append(cid)
            continue
        if chosen not in {o.value for o in ImmOutcome}:
            errors.append(f"Case {cid}: choose an outcome, or carry it over to the next meeting.")
            continue
        if record is None:
            errors.append(f"Case {cid}: the console has not loaded this case yet; try again in a moment.")
            continue
        decision = _outcome_decision(
            form, cid, ImmOutcome(chosen), record, agenda.meeting_id, user, now, recording_id, errors
        )
        if decision is not None:
            decisions.append(decision)
            discussed.append(cid)
    if errors:
        return FormRefused(errors)
    meeting = MeetingRecorded(
        meeting_id=agenda.meeting_id,
        recording_id=recording_id,
        agencies_present=present,
        recorded_by=user.username,
        recorded_at=now,
        discussed=tuple(discussed),
        carried=tuple(carried),
        closed=tuple(closed),
    )
    return Recorded(decisions=decisions, meeting=meeting)
