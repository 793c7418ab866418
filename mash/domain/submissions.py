"""From what a partner or the case system submits to the events the service records.

Shared by the intake adapter's HTTP handlers and by `mash replay`, so a replayed history
is split, keyed and identified exactly as live traffic is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mash.domain.contact import CinSource, ContactEvent, ContactSubmission
from mash.domain.identity import child_key, contact_id, keyed
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
            child_key=child_key(secret, child),
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
    """The outcome with the child replaced by its key. Its id comes from the case system's
    reference when given, otherwise from its content, so a repeat is recognised either way."""
    key = child_key(secret, submission.child)
    occurred = submission.occurred_at.astimezone(UTC).isoformat()
    identity = (
        f"ref\x1f{agency}\x1f{submission.reference}"
        if submission.reference
        else f"content\x1f{agency}\x1f{key}\x1f{submission.type}\x1f{occurred}"
    )
    return OutcomeEvent(
        outcome_id="oc-" + keyed(secret, "outcome\x1f" + identity)[:24],
        child_key=key,
        agency=agency,
        type=submission.type,
        occurred_at=submission.occurred_at,
        nfa=submission.nfa,
        plan_ref="pl-" + keyed(secret, f"plan\x1f{agency}\x1f{submission.plan_id}")[:24]
        if submission.plan_id
        else None,
        accepted_at=accepted_at,
    )
