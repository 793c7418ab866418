"""From what a partner or the case system submits to the events the service records.

Shared by the intake adapter's HTTP handlers and by `mash replay`, so a replayed history
is split, keyed and identified exactly as live traffic is; a replayed decision names its
contact as the partner did, and gets the ids the intake gave that contact.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, datetime

from mash.domain.contact import CinSource, ContactEvent, ContactSubmission
from mash.domain.decisions import DecisionEvent, RecordedDecision
from mash.domain.identity import contact_id, identifiers, keyed
from mash.domain.outcomes import OutcomeEvent, OutcomeSubmission


def split_submission(
    secret: bytes,
    agency: str,
    default_source: CinSource,
    submission: ContactSubmission,
    received_at: datetime,
    accepted_at: datetime,
) -> list[ContactEvent]:
    """One contact per child: every statutory figure counts contacts by child."""
    return [
        ContactEvent(
            contact_id=contact_id(secret, agency, submission.agency_reference, i),
            identifiers=identifiers(secret, child),
            agency=agency,
            agency_reference=submission.agency_reference,
            child_index=i,
            children_in_submission=len(submission.children),
            received_at=received_at,
            accepted_at=accepted_at,
            source=submission.source or default_source,
            child=child,
            indicators=submission.indicators,
            narrative=submission.narrative,
            consent=submission.consent,
            referrer=submission.referrer,
        )
        for i, child in enumerate(submission.children)
    ]


def outcome_event(
    secret: bytes, agency: str, submission: OutcomeSubmission, accepted_at: datetime
) -> OutcomeEvent:
    """The outcome with the child replaced by keyed hashes of its identifiers. Its id comes from the
    case system's reference when given, otherwise from its content, so a repeat is recognised either way."""
    named = identifiers(secret, submission.child)
    key = named.nhs or named.name_dob
    occurred = submission.occurred_at.astimezone(UTC).isoformat()
    identity = (
        f"ref\x1f{agency}\x1f{submission.reference}"
        if submission.reference
        else f"content\x1f{agency}\x1f{key}\x1f{submission.type}\x1f{occurred}"
    )
    return OutcomeEvent(
        outcome_id="oc-" + keyed(secret, "outcome\x1f" + identity)[:24],
        identifiers=named,
        agency=agency,
        type=submission.type,
        occurred_at=submission.occurred_at,
        nfa=submission.nfa,
        plan_ref="pl-" + keyed(secret, f"plan\x1f{agency}\x1f{submission.plan_id}")[:24]
        if submission.plan_id
        else None,
        accepted_at=accepted_at,
    )


class UnknownContact(ValueError):
    """A decision about a contact the replayed file has not named before it."""


def decision_id(secret: bytes, reference: str) -> str:
    """The event id of a recorded decision: a keyed hash of its reference, so the same file
    replayed again gives the same ids, and the worker takes each decision once."""
    return "dc-" + keyed(secret, "decision\x1f" + reference)[:24]


def decision_event(secret: bytes, recorded: RecordedDecision, contacts: Container[str]) -> DecisionEvent:
    """The event `mash replay` writes for a recorded decision. The contact id is the intake's
    (agency, agency reference, child index), which must be among `contacts`, the ids of the
    contacts replayed before it.

    Raises UnknownContact for a contact not in `contacts`, and pydantic's ValidationError
    when the fields do not fit the action (as the console's decisions are checked)."""
    contact = recorded.contact
    cid = contact_id(secret, contact.agency, contact.agency_reference, contact.child)
    if cid not in contacts:
        raise UnknownContact(
            "the decision names a contact with no line before it in the file (agency, agency_reference "
            "and child must match a contact line)"
        )
    fields = recorded.model_dump(exclude={"contact", "reference", "signs_off"}, exclude_none=True)
    return DecisionEvent.model_validate(
        {
            **fields,
            "decision_id": decision_id(secret, recorded.reference),
            "contact_id": cid,
            "signs_off": decision_id(secret, recorded.signs_off) if recorded.signs_off else None,
        }
    )
