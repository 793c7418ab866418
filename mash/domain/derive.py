"""From a child's timeline to case records and plans: the whole decision, as one pure function.

`derive` walks the timeline in event-time order:

- A **contact** is screened at its receipt, from what was known of the child just before, under
  the ruleset pinned to it when it was first taken (mash.domain.ruleset_history): that is the
  service's *recommendation*. If the child's social care case is open at its receipt, it is
  linked to that case (to the allocated worker), whatever level anyone gives it. It then waits
  for a person, unless the ruleset lets the service decide it (`Ruleset.service_decides`).
- A **decision** applies at its own time. The first that decides a contact makes it a referral
  (social care, for a child with no open case: it opens a case), early help, single agency or no
  further action; a contact decided social care while the child's case is open is linked to it.
  A referral is dated by its contact's receipt. A referral later routed elsewhere stays a
  referral, and its case closes then (with no further action if routed to universal services).
- An **outcome** from the case system closes the open case, or starts or ends a child
  protection plan, at its own time. A plan started while no case is open opens one: a child on
  a plan has an open case.

Because everything is recomputed from the timeline, the result depends only on what happened and
when, never on the order the events were processed in.

`derive_appended` is the shortcut for the usual event, a child's newest contact: the same record
as `derive` would give it, from the `Cursor` where the last walk ended.

One contact's decisions are applied by mash.domain.decision_trail; the words of its route by
mash.domain.routing. What stays here (about 400 lines) is the one walk and its shortcut, kept
together so that the two can be read side by side and never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from mash.domain.calendar import due_at
from mash.domain.case import (
    CaseRecord,
    CaseState,
    DataQuality,
    PlanRecord,
    Reason,
    ReasonKind,
    Recommendation,
    Referral,
)
from mash.domain.contact import ConsentStatus
from mash.domain.decision_trail import DecisionTrail
from mash.domain.decisions import DecisionAction
from mash.domain.outcomes import OutcomeType
from mash.domain.referrals import is_re_referral, local_date
from mash.domain.routing import LINKED, LINKED_PATHWAY, consent_reason, imm_route, level_route
from mash.domain.ruleset import Route, RouteTo, Ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.screening import EarlierContact, Known, Plan, Screening, concern_level, screen
from mash.domain.timeline import ChildTimeline, ContactEntry, DecisionEntry, Entry, OutcomeEntry, order

# A child's contacts are derived again with each of its events; the working-time clock is
# the dearest part and depends only on these two values.
_due_at = lru_cache(maxsize=65_536)(due_at)


@dataclass(frozen=True)
class Derived:
    records: dict[str, CaseRecord]
    plans: dict[str, PlanRecord]
    cursor: Cursor


class Cursor(BaseModel):
    """Where a walk of a child's timeline ended: what a contact added after every other event
    needs from the walk, so that it can be derived without walking the timeline again."""

    model_config = ConfigDict(frozen=True)

    open_case: str | None


@dataclass
class _Contact:
    """A contact as the walk builds it."""

    entry: ContactEntry
    ruleset: Ruleset
    recommendation: Screening
    decisions: DecisionTrail
    linked_at_receipt: str | None
    rescreen: tuple[str, Screening] | None = None  # the rescreen decision that applies, and its screening
    case_id: str | None = None
    referral: Referral = Referral.NOT_REFERRED
    closed_at: datetime | None = None
    nfa: bool | None = None
    route_in_force: Route | None = None  # the decided route the walk last acted on

    def route(self) -> RouteTo:
        """The route in force: linked, the meeting's, or the level's."""
        if self.linked_at_receipt is not None or self.referral is Referral.LINKED_TO_OPEN_CASE:
            return LINKED
        if self.decisions.imm is not None:
            return imm_route(self.decisions.imm)
        return level_route(self.ruleset, self.decisions.level, self.entry)


@dataclass
class _Walk:
    """The timeline walked in event-time order: what is known of the child so far, and the
    contacts derived so far."""

    child_key: str
    rulesets: RulesetHistory
    decisions: dict[str, list[DecisionEntry]]
    contacts: dict[str, _Contact] = field(default_factory=dict)
    plans: dict[str, PlanRecord] = field(default_factory=dict)
    earlier_contacts: list[EarlierContact] = field(default_factory=list)
    known_plans: list[Plan] = field(default_factory=list)
    plan_by_key: dict[str, str] = field(default_factory=dict)  # case system's plan -> plan id
    open_case: str | None = None
    case_members: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    early_decisions: dict[str, list[DecisionEntry]] = field(default_factory=lambda: defaultdict(list))

    def cursor(self) -> Cursor:
        return Cursor(open_case=self.open_case)

    def ruleset_of(self, entry: ContactEntry) -> Ruleset:
        return self.rulesets.get(entry.ruleset_version) or self.rulesets.in_force(entry.at)

    def known(self) -> Known:
        return Known(tuple(self.earlier_contacts), self.open_case is not None, tuple(self.known_plans))

    # --- contacts --------------------------------------------------------------------------

    def contact(self, entry: ContactEntry) -> None:
        ruleset = self.ruleset_of(entry)
        known = self.known()
        screening = screen(entry.indicators, known, entry.at, ruleset)
        decisions = DecisionTrail(level=screening.level, rag=screening.rag)
        c = _Contact(entry, ruleset, screening, decisions, linked_at_receipt=self.open_case)
        settings = ruleset.service_decides
        if (
            screening.level in settings.levels
            and not screening.unknown_codes
            and self.open_case is None
            and not (settings.only_without_history and known.has_history(entry.at, settings.history_days))
        ):
            decisions.by_service(entry.at, ruleset)
        else:
            c.rescreen = self._rescreen(entry, known)
        if c.linked_at_receipt is not None:
            self._link(c, c.linked_at_receipt)
        self.contacts[entry.id] = c
        self._settle(c, entry.at)
        self.earlier_contacts.append(EarlierContact(entry.at, screening.concern_level))
        for d in self.early_decisions.pop(entry.id, []):
            self.decision(d)

    def _rescreen(self, entry: ContactEntry, known: Known) -> tuple[str, Screening] | None:
        """A manager's rescreen applies if nothing decided the contact before it; the last such wins."""
        applied = None
        for d in self.decisions.get(entry.id, ()):
            if d.action is DecisionAction.RESCREEN:
                ruleset = self.rulesets.get(d.ruleset_version or "")
                if ruleset is not None:
                    applied = (d.id, screen(entry.indicators, known, entry.at, ruleset))
            elif d.action is not DecisionAction.SIGN_OFF:
                break
        return applied

    def decision(self, d: DecisionEntry) -> None:
        c = self.contacts.get(d.contact_id)
        if c is None:
            self.early_decisions[d.contact_id].append(d)  # dated before its contact: applied at receipt
            return
        if d.action is DecisionAction.RESCREEN:
            self._rescreen_step(c, d)
        else:
            c.decisions.apply(d, c.ruleset)
        self._settle(c, d.at)

    def _rescreen_step(self, c: _Contact, d: DecisionEntry) -> None:
        decisions = c.decisions
        if c.rescreen is None or c.rescreen[0] != d.id:
            decisions.add_step(d, decisions.level, decisions.rag, "ignored")
            return
        screening = c.rescreen[1]
        decisions.add_step(d, screening.level, screening.rag, "applied")
        decisions.set_level(screening.level, screening.rag)
        c.recommendation = screening
        c.ruleset = self.rulesets.get(screening.ruleset_version) or c.ruleset

    def _settle(self, c: _Contact, at: datetime) -> None:
        """What a decided route means for the child's case, at the time it was decided."""
        if c.decisions.decided_at is None:
            return
        route = c.route().route
        if route is c.route_in_force:
            return
        c.route_in_force = route
        if c.referral is Referral.LINKED_TO_OPEN_CASE:
            return  # linked whatever anyone decides: it is the allocated worker's
        if route is Route.SOCIAL_CARE:
            if c.referral is Referral.NOT_REFERRED and c.closed_at is None:
                if self.open_case is not None:
                    self._link(c, self.open_case)
                else:
                    c.referral, c.case_id, self.open_case = Referral.REFERRAL, c.entry.id, c.entry.id
                    self.case_members[c.entry.id].append(c.entry.id)
        elif c.referral is Referral.REFERRAL and c.closed_at is None:
            # Routed away after it was referred: the referral stands, and its case closes now.
            self._close_case(c.entry.id, at, nfa=route is Route.UNIVERSAL)

    def _link(self, c: _Contact, case_id: str) -> None:
        c.referral, c.case_id = Referral.LINKED_TO_OPEN_CASE, case_id
        self.case_members[case_id].append(c.entry.id)

    # --- outcomes --------------------------------------------------------------------------

    def _close_case(self, case_id: str, at: datetime, nfa: bool) -> None:
        for member in self.case_members.get(case_id, ()):
            m = self.contacts[member]
            if m.closed_at is None:
                m.closed_at = at
                if member == case_id:
                    m.nfa = nfa
        if self.open_case == case_id:
            self.open_case = None

    def outcome(self, entry: OutcomeEntry) -> None:
        if entry.type is OutcomeType.CASE_CLOSED:
            # A closure with no case open at its time is kept in the timeline but changes nothing.
            if self.open_case is not None:
                self._close_case(self.open_case, entry.at, entry.nfa)
            return
        key = entry.plan_ref or entry.id
        if entry.type is OutcomeType.CP_PLAN_STARTED:
            if key in self.plan_by_key:
                return  # the same plan sent again
            # Named after the case system's plan when it says which: whichever copy arrives first.
            plan_id = f"plan-{key}"
            self.plan_by_key[key] = plan_id
            self.plans[plan_id] = PlanRecord(
                plan_id=plan_id,
                child_key=self.child_key,
                started_at=entry.at,
                ended_at=None,
                second_or_subsequent=bool(self.known_plans),
                placement=entry.placement,
            )
            self.known_plans.append(Plan(entry.at))
            if self.open_case is None:
                self.open_case = plan_id  # a child on a plan has an open case
            return
        ending = self.plan_by_key.get(key) if entry.plan_ref else self._latest_open_plan()
        if ending is None or self.plans[ending].ended_at is not None:
            return
        placement = max(self.plans[ending].placement, entry.placement)
        self.plans[ending] = self.plans[ending].model_copy(
            update={"ended_at": entry.at, "placement": placement}
        )
        index = list(self.plans).index(ending)
        self.known_plans[index] = Plan(self.known_plans[index].started, entry.at)

    def _latest_open_plan(self) -> str | None:
        return next((pid for pid, p in reversed(self.plans.items()) if p.ended_at is None), None)

    # --- records ---------------------------------------------------------------------------

    def records(self) -> dict[str, CaseRecord]:
        """Every contact's record. A referral is dated by its contact's receipt, so whether it is
        a re-referral is settled here, against the referrals received before it."""
        out: dict[str, CaseRecord] = {}
        referred: list[date] = []
        for c in self.contacts.values():  # in order of receipt
            re_referral = False
            if c.referral is Referral.REFERRAL:
                referred_on = local_date(c.entry.at)
                re_referral = is_re_referral(referred, referred_on)
                referred.append(referred_on)
            out[c.entry.id] = _record(self.child_key, c, re_referral)
        return out


def _record(child_key: str, c: _Contact, re_referral: bool) -> CaseRecord:
    entry, decisions, screening = c.entry, c.decisions, c.recommendation
    in_force = c.route()
    proposed = LINKED if c.linked_at_receipt is not None else level_route(c.ruleset, screening.level, entry)
    reasons = list(screening.reasons)
    if c.linked_at_receipt is not None:
        reasons.append(Reason(kind=ReasonKind.ROUTE, rule="linked_to_open_case", text=LINKED_PATHWAY))
    if decisions.level in c.ruleset.needs_consent:
        reasons.append(consent_reason(entry))
    if re_referral:
        text = "Re-referral: the child was referred to social care within the 12 months before"
        reasons.append(Reason(kind=ReasonKind.ROUTE, rule="re_referral", text=text))
    decided = decisions.decided_at is not None
    no_further_action = decided and in_force.route is Route.UNIVERSAL
    closed = c.closed_at is not None or no_further_action
    quality: list[DataQuality] = []
    if (
        decisions.level in c.ruleset.needs_consent
        and entry.consent_status is not ConsentStatus.GIVEN
        and entry.consent_reason is None
    ):
        quality.append(DataQuality.CONSENT_BASIS_MISSING)
    if not entry.referrer_reachable:
        quality.append(DataQuality.REFERRER_UNREACHABLE)
    if screening.unknown_codes:
        quality.append(DataQuality.UNKNOWN_INDICATOR)
    return CaseRecord(
        contact_id=entry.id,
        child_key=child_key,
        agency=entry.agency,
        source=entry.source,
        received_at=entry.at,
        accepted_at=entry.accepted_at,
        recommendation=Recommendation(
            level=screening.level,
            rag=screening.rag,
            route=proposed.route,
            pathway=proposed.pathway,
            reasons=tuple(reasons),
            ruleset_version=screening.ruleset_version,
        ),
        state=CaseState.CLOSED if closed else CaseState.DECIDED if decided else CaseState.AWAITING_DECISION,
        level=decisions.level,
        rag=decisions.rag,
        route=in_force.route,
        pathway=in_force.pathway,
        due_at=_due_at(entry.at, screening.rag.value),
        decided_at=decisions.decided_at,
        decided_by=decisions.decided_by,
        referral=c.referral,
        case_id=c.case_id,
        re_referral=re_referral,
        nfa=c.nfa,
        case_closed_at=c.closed_at,
        imm_agenda=decisions.level >= 2
        and not no_further_action
        and not decisions.discussed
        and c.referral is not Referral.LINKED_TO_OPEN_CASE
        and c.closed_at is None,
        consent_status=entry.consent_status,
        consent_reason=entry.consent_reason,
        data_quality=tuple(quality),
        children_in_submission=entry.children_in_submission,
        awaiting_sign_off=bool(decisions.pending),
        trail=tuple(decisions.trail),
        identity_to_check=entry.identity_to_check,
        identity_conflict=entry.identity_conflict,
        placement=entry.placement,
    )


def _decisions_by_contact(entries: tuple[Entry, ...]) -> dict[str, list[DecisionEntry]]:
    decisions: dict[str, list[DecisionEntry]] = defaultdict(list)
    for entry in entries:
        if isinstance(entry, DecisionEntry):
            decisions[entry.contact_id].append(entry)
    return decisions


def derive(child_key: str, timeline: ChildTimeline, rulesets: RulesetHistory) -> Derived:
    walk = _Walk(child_key, rulesets, _decisions_by_contact(timeline.entries))
    for entry in timeline.entries:
        if isinstance(entry, ContactEntry):
            walk.contact(entry)
        elif isinstance(entry, OutcomeEntry):
            walk.outcome(entry)
        else:
            walk.decision(entry)
    return Derived(records=walk.records(), plans=walk.plans, cursor=walk.cursor())


def derive_appended(
    child_key: str, before: ChildTimeline, entry: Entry, cursor: Cursor | None, rulesets: RulesetHistory
) -> tuple[CaseRecord, Cursor] | None:
    """The record of a contact added to the timeline `before`, and the new cursor, without
    walking the timeline again; `cursor` is where the walk of `before` ended.

    A contact after every other event, with no decision about it yet, changes no earlier record
    (a contact is screened from what came before it, and only a decision refers it), so `derive`
    would give the same records plus this one. Anything else (an outcome, a decision, a contact
    landing earlier in the timeline, no cursor, a contact the service refers) returns None: the
    whole timeline must be walked.
    """
    if cursor is None or not isinstance(entry, ContactEntry):
        return None
    if before.entries and order(before.entries[-1]) > order(entry):
        return None
    walk = _Walk(child_key, rulesets, {}, open_case=cursor.open_case)
    for earlier in before.entries:
        if isinstance(earlier, ContactEntry):
            level = concern_level(earlier.indicators, walk.ruleset_of(earlier))
            walk.earlier_contacts.append(EarlierContact(earlier.at, level))
        elif isinstance(earlier, OutcomeEntry):
            if earlier.type is not OutcomeType.CASE_CLOSED:
                walk.outcome(earlier)
        elif earlier.contact_id == entry.id:
            return None  # a decision about this contact came first
    walk.open_case = cursor.open_case
    walk.contact(entry)
    contact = walk.contacts[entry.id]
    if contact.referral is Referral.REFERRAL:
        return None
    return _record(child_key, contact, re_referral=False), walk.cursor()
