"""A replay file's lines turned into the service's case records and plans without Kafka.

What `mash replay` and the worker do, with their own functions: a contact line is split with
`split_submission`, an outcome line becomes `outcome_event`, a decision line `decision_event`;
each event becomes its timeline entry (a contact pinned to the ruleset in force when it was
received), goes through the identities agent's step (`mash.domain.identities`), and each update
it makes is applied to its child's state with the worker's `mash.domain.child.apply_update`, in
file order, which is the order the events reach the worker on the one input partition. The latest
record published per contact and per plan is what `mash report` reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mash.domain.case import CaseRecord, PlanRecord
from mash.domain.child import ChildState, apply_update
from mash.domain.contact import CinSource, ContactSubmission
from mash.domain.decisions import RecordedDecision
from mash.domain.identities import Effects, Identities
from mash.domain.outcomes import OutcomeSubmission
from mash.domain.persons import sighting
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.submissions import decision_event, outcome_event, split_submission
from mash.domain.timeline import ContactEntry, DecisionEntry, OutcomeEntry
from mash.intake.agencies import DEMO_AGENCIES

SECRET = b"a test secret, never a real one"
DEFAULT_SOURCES: Mapping[str, CinSource] = {agency_id: source for agency_id, _, source, *_ in DEMO_AGENCIES}


@dataclass
class Replayed:
    records: dict[str, CaseRecord]  # contact id -> its latest record
    plans: dict[str, PlanRecord]  # plan id -> its latest record


def replayed(
    lines: Iterable[dict[str, Any]],
    rulesets: RulesetHistory | None = None,
    accepted_at: datetime | None = None,
) -> Replayed:
    history = rulesets or RulesetHistory.of(load_ruleset())
    accepted = accepted_at or datetime.now(UTC)
    states: dict[str, ChildState] = {}
    identities = Identities()
    contacts: set[str] = set()
    out = Replayed({}, {})

    def take(effects: Effects) -> None:
        for update in effects.updates:
            step = apply_update(states.get(update.child_key, ChildState()), update, history)
            states[update.child_key] = step.state
            for published in step.publish:
                if isinstance(published.record, CaseRecord):
                    out.records[published.key] = published.record
                else:
                    out.plans[published.key] = published.record

    for line in lines:
        if line["kind"] == "contact":
            submission = ContactSubmission.model_validate(line["submission"])
            assert submission.received_at is not None
            agency = line["agency"]
            for event in split_submission(
                SECRET, agency, DEFAULT_SOURCES[agency], submission, submission.received_at, accepted
            ):
                contacts.add(event.contact_id)
                entry = ContactEntry.of(event, history.in_force(event.received_at).version)
                take(
                    identities.sighting(
                        sighting(event.contact_id, event.received_at, event.identifiers), entry
                    )
                )
        elif line["kind"] == "outcome":
            outcome = outcome_event(
                SECRET, line["agency"], OutcomeSubmission.model_validate(line["event"]), accepted
            )
            seen = sighting(outcome.outcome_id, outcome.occurred_at, outcome.identifiers)
            take(identities.sighting(seen, OutcomeEntry.of(outcome)))
        else:
            decision = decision_event(SECRET, RecordedDecision.model_validate(line["decision"]), contacts)
            take(identities.decision(DecisionEntry.of(decision)))
    return out
