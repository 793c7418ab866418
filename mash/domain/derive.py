"""From a child's timeline to case records and plans: the whole decision, as one pure function.

`derive` walks the timeline in event-time order and, for each contact, screens it against
what was known of the child just before, applies the people's decisions about it, routes
it by its (decided) level, and works out whether it is a referral, a re-referral or linked
to an open case. An outcome agreed at the integrated mid-day meeting (IMM) routes the contact
as the meeting agreed instead of by its level. Outcomes close cases and start or end plans at
their own times. Because everything is recomputed from the timeline, the result depends only
on what happened and when, never on the order the events were processed in.

`derive_appended` is the shortcut for the usual event, a child's newest contact: the same
record as `derive` would give it, from the `Cursor` where the last walk ended.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from mash.domain.calendar import due_at
from mash.domain.case import (
    CaseRecord,
    CaseState,
    PlanRecord,
    Reason,
    ReasonKind,
    Referral,
    TrailItem,
    TrailStatus,
)
from mash.domain.contact import ConsentStatus
from mash.domain.decisions import DecisionAction, ImmDetails, ImmOutcome, Role
from mash.domain.outcomes import OutcomeType
from mash.domain.referrals import is_re_referral, local_date
from mash.domain.ruleset import Rag, Route, RouteTo, Ruleset
from mash.domain.screening import Known, screen
from mash.domain.timeline import ChildTimeline, ContactEntry, DecisionEntry, Entry, OutcomeEntry, order

# A child's contacts are derived again with each of its events; the working-time clock is
# the dearest part and depends only on these two values.
_due_at = lru_cache(maxsize=65_536)(due_at)


@dataclass(frozen=True)
class Derived:
    records: dict[str, CaseRecord]
    plans: dict[str, PlanRecord]
    cursor: Cursor


@dataclass
class _Decided:
    level: int
    rag: Rag
    decided_at: datetime | None = None
    trail: list[TrailItem] = field(default_factory=list)
    awaiting_sign_off: bool = False
    imm: ImmDetails | None = None  # the meeting's outcome that routes the contact, if any
    discussed: bool = False  # the IMM has agreed an outcome for it


_IMM_ROUTES: dict[ImmOutcome, tuple[Route, str]] = {
    ImmOutcome.NFA: (Route.UNIVERSAL, "No further action"),
    ImmOutcome.ADVICE_SIGNPOST: (Route.UNIVERSAL, "Advice and signposting"),
    ImmOutcome.EARLY_HELP: (Route.EARLY_HELP, "Early help"),
    ImmOutcome.SINGLE_AGENCY: (Route.SINGLE_AGENCY, "Single agency support"),
    ImmOutcome.CSC_ASSESSMENT: (Route.SOCIAL_CARE, "Children's social care assessment"),
    ImmOutcome.STRATEGY_DISCUSSION: (Route.SOCIAL_CARE, "Strategy discussion (s47)"),
}


def imm_route(imm: ImmDetails) -> RouteTo:
    """Where the meeting's outcome sends the contact (social care outcomes refer or link it)."""
    route, pathway = _IMM_ROUTES[imm.outcome]
    if imm.single_agency_name:
        pathway = f"{pathway}: {imm.single_agency_name}"
    return RouteTo(route=route, pathway=f"{pathway} (agreed at the integrated mid-day meeting)")


def _apply_decisions(level: int, rag: Rag, decisions: list[DecisionEntry], ruleset: Ruleset) -> _Decided:
    """Applies a contact's decisions in order. Lowering a level-4 case waits for a manager's sign-off.

    An IMM outcome routes the contact as the meeting agreed, whatever its level, until a later
    decision changes its level. Only the first outcome from each meeting applies (in event time,
    then decision id): a meeting recorded twice, or an outcome sent twice under new ids, is kept
    in the trail as "ignored" and changes nothing.
    """
    state = _Decided(level=level, rag=rag)
    pending: dict[str, DecisionEntry] = {}
    meetings: set[str] = set()

    def step(d: DecisionEntry, to_level: int, to_rag: Rag, status: TrailStatus) -> None:
        state.trail.append(
            TrailItem(
                decision_id=d.id,
                at=d.at,
                by=d.by,
                role=d.role,
                action=d.action,
                from_level=state.level,
                to_level=to_level,
                from_rag=state.rag,
                to_rag=to_rag,
                rationale=d.rationale,
                status=status,
                signs_off=d.signs_off,
                imm=d.imm,
            )
        )

    def apply_level(to_level: int, to_rag: Rag) -> None:
        if to_level != state.level:
            state.imm = None  # a new level routes by the level again
        state.level, state.rag = to_level, to_rag

    for d in decisions:
        if d.action is DecisionAction.CONFIRM:
            step(d, state.level, state.rag, "applied")
            state.decided_at = state.decided_at or d.at
        elif d.action is DecisionAction.CHANGE:
            to_level = d.level if d.level is not None else state.level
            to_rag = (
                d.rag if d.rag is not None else (ruleset.rag[to_level] if d.level is not None else state.rag)
            )
            if state.level == 4 and to_level < 4 and d.role is not Role.MANAGER:
                pending[d.id] = d
                step(d, to_level, to_rag, "awaiting_sign_off")
            else:
                step(d, to_level, to_rag, "applied")
                apply_level(to_level, to_rag)
                state.decided_at = state.decided_at or d.at
                # A change that is applied supersedes any change still waiting for sign-off.
                pending.clear()
            state.awaiting_sign_off = bool(pending)
        elif d.action is DecisionAction.IMM_OUTCOME:
            if d.imm is None or d.imm.meeting_id in meetings:
                step(d, state.level, state.rag, "ignored")
                continue
            meetings.add(d.imm.meeting_id)
            step(d, state.level, state.rag, "applied")
            state.imm, state.discussed = d.imm, True
            state.decided_at = state.decided_at or d.at
        else:
            approved = pending.get(d.signs_off or "") if d.role is Role.MANAGER else None
            if approved is None:
                step(d, state.level, state.rag, "ignored")
                continue
            del pending[approved.id]
            to_level = approved.level if approved.level is not None else state.level
            to_rag = approved.rag if approved.rag is not None else ruleset.rag[to_level]
            step(d, to_level, to_rag, "signed_off")
            apply_level(to_level, to_rag)
            state.decided_at = state.decided_at or d.at
            state.awaiting_sign_off = bool(pending)
    return state


def _consent_reason(entry: ContactEntry, level: int) -> Reason | None:
    if entry.consent_status is ConsentStatus.GIVEN or level not in (2, 3):
        return None
    why = entry.consent_reason.value.replace("_", " ") if entry.consent_reason else "no reason recorded"
    status = entry.consent_status.value.replace("_", " ")
    return Reason(
        kind=ReasonKind.CONSENT,
        rule=f"consent_{entry.consent_status.value}",
        text=f"Consent {status}; proceeding because: {why}",
    )


class Cursor(BaseModel):
    """Where a walk of a child's timeline ended: what a contact added after every other event
    needs from the walk, so that it can be derived without walking the timeline again."""

    model_config = ConfigDict(frozen=True)

    ruleset: str  # the fingerprint of the ruleset the walk used
    open_case: str | None
    referral_dates: tuple[date, ...]


@dataclass
class _Walk:
    """The timeline walked in event-time order: what is known of the child so far, and the
    records derived so far."""

    child_key: str
    ruleset: Ruleset
    decisions: dict[str, list[DecisionEntry]]
    records: dict[str, CaseRecord] = field(default_factory=dict)
    plans: dict[str, PlanRecord] = field(default_factory=dict)
    earlier_contacts: list[datetime] = field(default_factory=list)
    plans_started: list[datetime] = field(default_factory=list)
    referral_dates: list[date] = field(default_factory=list)
    open_case: str | None = None  # the case id, which is the contact id of the referral that opened it
    case_members: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    open_plan: str | None = None

    def cursor(self) -> Cursor:
        return Cursor(
            ruleset=self.ruleset.fingerprint,
            open_case=self.open_case,
            referral_dates=tuple(self.referral_dates),
        )

    def contact(self, entry: ContactEntry) -> None:
        ruleset = self.ruleset
        known = Known(tuple(self.earlier_contacts), self.open_case is not None, tuple(self.plans_started))
        screening = screen(entry.indicators, known, entry.at, ruleset)
        decided = _apply_decisions(screening.level, screening.rag, self.decisions[entry.id], ruleset)
        route_to = ruleset.routes[decided.level] if decided.imm is None else imm_route(decided.imm)
        reasons = list(screening.reasons)
        if consent := _consent_reason(entry, decided.level):
            reasons.append(consent)
        referral, case_id, re_referral = Referral.NOT_REFERRED, None, False
        if route_to.route is Route.SOCIAL_CARE:
            if self.open_case is not None:
                referral, case_id = Referral.LINKED_TO_OPEN_CASE, self.open_case
                text = "Linked to the child's open social care case"
                reasons.append(Reason(kind=ReasonKind.ROUTE, rule="linked_to_open_case", text=text))
            else:
                referred_on = local_date(entry.at)
                referral, case_id = Referral.REFERRAL, entry.id
                re_referral = is_re_referral(self.referral_dates, referred_on)
                self.referral_dates.append(referred_on)
                self.open_case = entry.id
                if re_referral:
                    text = "Re-referral: the child was referred to social care within the last 12 months"
                    reasons.append(Reason(kind=ReasonKind.ROUTE, rule="re_referral", text=text))
        if case_id is not None:
            self.case_members[case_id].append(entry.id)
        no_further_action = route_to.route is Route.UNIVERSAL and decided.decided_at is not None
        self.records[entry.id] = CaseRecord(
            contact_id=entry.id,
            child_key=self.child_key,
            agency=entry.agency,
            source=entry.source,
            received_at=entry.at,
            accepted_at=entry.accepted_at,
            state=CaseState.CLOSED
            if no_further_action
            else CaseState.DECIDED
            if decided.decided_at
            else CaseState.AWAITING_DECISION,
            screened_level=screening.level,
            screened_rag=screening.rag,
            level=decided.level,
            rag=decided.rag,
            due_at=_due_at(entry.at, decided.rag.value),
            decided_at=decided.decided_at,
            reasons=tuple(reasons),
            ruleset_version=ruleset.version,
            route=route_to.route,
            pathway=route_to.pathway,
            referral=referral,
            case_id=case_id,
            re_referral=re_referral,
            nfa=None,
            case_closed_at=None,
            imm_agenda=decided.level >= 2 and not no_further_action and not decided.discussed,
            consent_status=entry.consent_status,
            consent_reason=entry.consent_reason,
            children_in_submission=entry.children_in_submission,
            awaiting_sign_off=decided.awaiting_sign_off,
            trail=tuple(decided.trail),
        )
        self.earlier_contacts.append(entry.at)

    def outcome(self, entry: OutcomeEntry) -> None:
        if entry.type is OutcomeType.CASE_CLOSED:
            # A closure with no case open at its time is kept in the timeline but changes nothing.
            if self.open_case is not None:
                for member in self.case_members[self.open_case]:
                    closed = {"state": CaseState.CLOSED, "case_closed_at": entry.at, "imm_agenda": False}
                    if member == self.open_case:
                        closed["nfa"] = entry.nfa
                    self.records[member] = self.records[member].model_copy(update=closed)
                self.open_case = None
        elif entry.type is OutcomeType.CP_PLAN_STARTED:
            plan_id = f"plan-{entry.id}"
            self.plans[plan_id] = PlanRecord(
                plan_id=plan_id,
                child_key=self.child_key,
                started_at=entry.at,
                ended_at=None,
                second_or_subsequent=bool(self.plans_started),
            )
            self.plans_started.append(entry.at)
            self.open_plan = plan_id
        elif self.open_plan is not None:
            self.plans[self.open_plan] = self.plans[self.open_plan].model_copy(update={"ended_at": entry.at})
            self.open_plan = None


def derive(child_key: str, timeline: ChildTimeline, ruleset: Ruleset) -> Derived:
    decisions: dict[str, list[DecisionEntry]] = defaultdict(list)
    for entry in timeline.entries:
        if isinstance(entry, DecisionEntry):
            decisions[entry.contact_id].append(entry)
    walk = _Walk(child_key, ruleset, decisions)
    for entry in timeline.entries:
        if isinstance(entry, ContactEntry):
            walk.contact(entry)
        elif isinstance(entry, OutcomeEntry):
            walk.outcome(entry)
    return Derived(records=walk.records, plans=walk.plans, cursor=walk.cursor())


def derive_appended(
    child_key: str, before: ChildTimeline, entry: Entry, cursor: Cursor | None, ruleset: Ruleset
) -> tuple[CaseRecord, Cursor] | None:
    """The record of a contact added to the timeline `before`, and the new cursor, without
    walking the timeline again; `cursor` is where the walk of `before` ended.

    A contact after every other event, with no decision about it yet, changes no earlier
    record (a contact is decided from what came before it), so `derive` would give the same
    records plus this one. Anything else (an outcome, a decision, a contact landing earlier in
    the timeline, another ruleset, no cursor) returns None: the whole timeline must be walked.
    """
    if cursor is None or cursor.ruleset != ruleset.fingerprint or not isinstance(entry, ContactEntry):
        return None
    if before.entries and order(before.entries[-1]) > order(entry):
        return None
    earlier_contacts: list[datetime] = []
    plans_started: list[datetime] = []
    for earlier in before.entries:
        if isinstance(earlier, ContactEntry):
            earlier_contacts.append(earlier.at)
        elif isinstance(earlier, OutcomeEntry):
            if earlier.type is OutcomeType.CP_PLAN_STARTED:
                plans_started.append(earlier.at)
        elif earlier.contact_id == entry.id:
            return None  # a decision about this contact came first
    walk = _Walk(
        child_key,
        ruleset,
        defaultdict(list),
        earlier_contacts=earlier_contacts,
        plans_started=plans_started,
        referral_dates=list(cursor.referral_dates),
        open_case=cursor.open_case,
    )
    walk.contact(entry)
    return walk.records[entry.id], walk.cursor()


def digest(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=8).hexdigest()
