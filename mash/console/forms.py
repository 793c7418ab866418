"""From a coordinator's decision form to a DecisionEvent (or, for same child, different child, a
link or a split, an IdentityDecisionEvent), or the reasons it can't be recorded.

Pure (no HTTP, no clock): the app passes the form fields, the case as the console last saw
it, who is deciding and when, and the ruleset versions registered. Every refusal is in words
the coordinator can act on.

A confirm names the level and RAG the coordinator was shown: the form carries them
(`seen_level`, `seen_rag`), a page that changed since is refused, so the record's level and
RAG at post time are the ones on the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mash.console.users import ConsoleRole, User
from mash.domain.case import CaseRecord, CaseState
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.persons import IdentityAction, IdentityDecisionEvent
from mash.domain.ruleset import Rag

MAX_RATIONALE = 5000


@dataclass(frozen=True)
class Refused:
    errors: list[str]


def new_decision_id() -> str:
    return f"dc-{uuid.uuid4().hex}"


def pending_sign_offs(record: CaseRecord) -> set[str]:
    """Decisions still waiting for a manager's sign-off: the trail keeps each step as it was
    taken, so a change stays "awaiting_sign_off" after the sign-off step that names it."""
    if not record.awaiting_sign_off:
        return set()
    waiting = {t.decision_id for t in record.trail if t.status == "awaiting_sign_off"}
    return waiting - {t.signs_off for t in record.trail if t.status == "signed_off"}


def _role(user: User) -> Role:
    return Role.MANAGER if user.role is ConsoleRole.MANAGER else Role.COORDINATOR


def rescreen_versions(record: CaseRecord, registered: Collection[str]) -> list[str]:
    """The ruleset versions a manager may have a contact screened under: any registered but its own."""
    own = record.recommendation.ruleset_version
    return sorted({v for v in registered if v != own})


def decision_from_form(
    form: Mapping[str, str],
    record: CaseRecord,
    user: User,
    now: datetime,
    versions: Collection[str] = (),
) -> DecisionEvent | Refused:
    """`versions`: the ruleset versions registered, which a rescreen may name."""
    errors: list[str] = []
    rationale = form.get("rationale", "").strip()
    if not rationale:
        errors.append("Give a rationale: every decision must record why it was made.")
    elif len(rationale) > MAX_RATIONALE:
        errors.append(f"The rationale is {len(rationale)} characters; the limit is {MAX_RATIONALE}.")
    if record.state is CaseState.CLOSED:
        errors.append("This case is closed; decisions can no longer be recorded on it.")
    # The form carries the level and RAG the coordinator was looking at. If another decision
    # landed since, a "change" relative to a stale view could silently undo it.
    if form.get("seen_level") != str(record.level) or form.get("seen_rag") != record.rag.value:
        errors.append(
            f"This case changed while you had it open (it is now level {record.level}, "
            f"{record.rag.value}). Check the trail, then record your decision again."
        )

    action = form.get("action", "")
    level: int | None = None
    rag: Rag | None = None
    signs_off: str | None = None
    ruleset_version: str | None = None
    if action == DecisionAction.CONFIRM:
        # What the page showed: the check above refuses a page that no longer shows the record.
        level, rag = record.level, record.rag
    elif action == DecisionAction.CHANGE:
        chosen_level = form.get("level", "")
        chosen_rag = form.get("rag", "")
        if chosen_level not in ("1", "2", "3", "4"):
            errors.append("Choose a level of need from 1 to 4.")
        elif int(chosen_level) != record.level:
            level = int(chosen_level)
        if chosen_rag:
            if chosen_rag not in {r.value for r in Rag}:
                errors.append("Choose a RAG rating: red, amber, green or blue.")
            elif chosen_rag != record.rag.value or level is not None:
                rag = Rag(chosen_rag)
        if level is None and rag is None and not errors:
            errors.append(
                "The level and RAG you chose are the ones the case already has: "
                "choose 'Confirm' to confirm them, or choose a different level or RAG."
            )
    elif action == DecisionAction.SIGN_OFF:
        signs_off = form.get("signs_off", "")
        if user.role is not ConsoleRole.MANAGER:
            errors.append("Only a manager can sign off a decision.")
        elif signs_off not in pending_sign_offs(record):
            errors.append("That decision is not awaiting sign-off (it may already have been signed off).")
    elif action == DecisionAction.RESCREEN:
        ruleset_version = form.get("ruleset_version", "")
        errors.extend(_rescreen_problems(record, user, ruleset_version, versions))
    else:
        errors.append("Choose whether to confirm the recommendation or change it.")

    if errors:
        return Refused(errors)
    return DecisionEvent(
        decision_id=new_decision_id(),
        contact_id=record.contact_id,
        child_key=record.child_key,
        action=DecisionAction(action),
        decided_at=now,
        by=user.username,
        role=_role(user),
        level=level,
        rag=rag,
        rationale=rationale,
        signs_off=signs_off,
        ruleset_version=ruleset_version,
    )


def _rescreen_problems(
    record: CaseRecord, user: User, version: str, registered: Collection[str]
) -> list[str]:
    if user.role is not ConsoleRole.MANAGER:
        return ["Only a manager can have a contact screened again under another ruleset."]
    if record.state is not CaseState.AWAITING_DECISION:
        return ["This contact has been decided: only a contact awaiting a decision can be re-screened."]
    if version == record.recommendation.ruleset_version:
        return [f"This contact is already screened under ruleset {version}: choose another version."]
    if version not in rescreen_versions(record, registered):
        return ["Choose a registered ruleset version to screen the contact under."]
    return []


# --- identity: whose contact this is ------------------------------------------------------------

IDENTITY_ACTIONS = {a.value: a for a in IdentityAction}
MAX_SUBJECTS = 500  # an identity decision names at most this many contacts on each side


def identity_from_form(
    form: Mapping[str, str],
    record: CaseRecord,
    user: User,
    now: datetime,
    child_of: Callable[[str], str | None],
    child_contacts: Sequence[str],
) -> IdentityDecisionEvent | Refused:
    """A coordinator's "same child", "different child", link or split about this contact.

    `child_of` gives the child key of a contact the console knows (None for one it does not);
    `child_contacts` are the other contacts of this contact's child. "Same child" and "different
    child" settle an identity to check, and name the record it conflicts with as the page showed it
    (`conflict`): a page that no longer shows that conflict is refused.
    """
    errors: list[str] = []
    rationale = form.get("rationale", "").strip()
    if not rationale:
        errors.append("Give a rationale: every identity decision must record why it was made.")
    elif len(rationale) > MAX_RATIONALE:
        errors.append(f"The rationale is {len(rationale)} characters; the limit is {MAX_RATIONALE}.")

    action = IDENTITY_ACTIONS.get(form.get("action", ""))
    others: list[str] = []
    if action in (IdentityAction.SAME_CHILD, IdentityAction.DIFFERENT_CHILD):
        seen = form.get("conflict", "")
        if not record.identity_to_check or record.identity_conflict is None:
            errors.append(
                "This contact's identity is no longer to check: someone has decided it, or the records "
                "were derived again. Check the page before deciding anything more."
            )
        elif seen != record.identity_conflict:
            errors.append(
                "The record this contact conflicts with changed while you had the page open. "
                "Check the page, then decide again."
            )
        else:
            others = [record.identity_conflict]
    elif action is IdentityAction.LINK:
        other = form.get("other", "").strip()
        other_child = child_of(other) if other else None
        if not other:
            errors.append("Give the contact id of the record to link this contact with.")
        elif other == record.contact_id:
            errors.append("That is this contact: give the contact id of another child's record.")
        elif other_child is None:
            errors.append(f"There is no contact {other} in the console: check the contact id.")
        elif other_child == record.child_key:
            errors.append(
                f"Contact {other} is already about the same child as this one: there is nothing to link."
            )
        else:
            others = [other]
    elif action is IdentityAction.SPLIT:
        if not child_contacts:
            errors.append("This child has no other contacts: there is nothing to split this contact from.")
        elif len(child_contacts) > MAX_SUBJECTS:
            errors.append(
                f"This child has {len(child_contacts)} other contacts, more than one decision can name "
                f"({MAX_SUBJECTS}): ask the service's administrators to split it."
            )
        else:
            others = list(child_contacts)
    else:
        errors.append("Choose what to record: same child, different child, a link or a split.")

    if errors or action is None:
        return Refused(errors)
    return IdentityDecisionEvent(
        decision_id=new_identity_decision_id(),
        action=action,
        subjects=[record.contact_id],
        others=others,
        decided_at=now,
        by=user.username,
        role=_role(user),
        rationale=rationale,
    )


def new_identity_decision_id() -> str:
    return f"id-{uuid.uuid4().hex}"
