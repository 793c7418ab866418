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
    DataQuality,
    DecidedBy,
    PlanRecord,
    Reason,
    ReasonKind,
    Recommendation,
    Referral,
    TrailItem,
    TrailStatus,
)
from mash.domain.contact import ConsentStatus
from mash.domain.decisions import DecisionAction, ImmDetails, ImmOutcome, Role
from mash.domain.outcomes import OutcomeType
from mash.domain.referrals import is_re_referral, local_date
from mash.domain.ruleset import Rag, Route, RouteTo, Ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.screening import EarlierContact, Known, Plan, Screening, concern_level, screen
from mash.domain.timeline import ChildTimeline, ContactEntry, DecisionEntry, Entry, OutcomeEntry, order

# A child's contacts are derived again with each of its events; the working-time clock is
# the dearest part and depends only on these two values.
_due_at = lru_cache(maxsize=65_536)(due_at)

LINKED_PATHWAY = "To the allocated social worker: the child's social care case is open"
SERVICE = "service"


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


_IMM_ROUTES: dict[ImmOutcome, tuple[Route, str]] = {
    ImmOutcome.NFA: (Route.UNIVERSAL, "No further action"),
    ImmOutcome.ADVICE_SIGNPOST: (Route.UNIVERSAL, "Advice and signposting"),
    ImmOutcome.EARLY_HELP: (Route.EARLY_HELP, "Early help"),
    ImmOutcome.SINGLE_AGENCY: (Route.SINGLE_AGENCY, "Single agency support"),
    ImmOutcome.CSC_ASSESSMENT: (Route.SOCIAL_CARE, "Children's social care assessment"),
    ImmOutcome.STRATEGY_DISCUSSION: (Route.SOCIAL_CARE, "Strategy discussion (s47)"),
}


def imm_route(imm: ImmDetails) -> RouteTo:
    """Where the meeting's outcome sends the contact (social care outcomes refer or link it).
    The single agency's name is a person's free text: sealed, it stays in the trail, never in the
    pathway (which is in clear, and shown to partners); only an event from before decisions were
    sealed names it here."""
    route, pathway = _IMM_ROUTES[imm.outcome]
    if isinstance(imm.single_agency_name, str):
        pathway = f"{pathway}: {imm.single_agency_name}"
    return RouteTo(route=route, pathway=f"{pathway} (agreed at the integrated mid-day meeting)")


_CONSENT_WORDS = {
    "significant_harm": "the child is suffering or at risk of significant harm",
    "increases_risk": "asking would increase the risk to the child",
    "harmful_delay": "asking would cause harmful delay",
    "specified_harm": "the concern is one where consent is never sought (sexual abuse, FGM, forced "
    "marriage, honour-based violence, fabricated illness)",
    "serious_crime": "asking would prejudice the prevention or detection of serious crime",
}


def _consent_phrase(entry: ContactEntry) -> str:
    if entry.consent_status is ConsentStatus.GIVEN:
        return "with the family's consent"
    if entry.consent_reason is not None:
        return f"without consent: {_CONSENT_WORDS[entry.consent_reason.value]}"
    if entry.consent_status is ConsentStatus.REFUSED:
        return "the family refused consent, and no reason to proceed without it is recorded"
    return "consent to be sought"


def _consent_reason(entry: ContactEntry) -> Reason:
    status = entry.consent_status.value.replace("_", " ") if entry.consent_status else "not recorded"
    if entry.consent_reason is not None:
        why = _CONSENT_WORDS[entry.consent_reason.value]
        text = f"Consent {status}; proceeding because {why}"
    elif entry.consent_status is ConsentStatus.GIVEN:
        text = "The family has consented"
    else:
        text = f"Consent {status}, and no reason to proceed without it: consent basis missing"
    return Reason(kind=ReasonKind.CONSENT, rule=f"consent_{status.replace(' ', '_')}", text=text)


@dataclass
class _Decisions:
    """One contact's decisions so far: the level and RAG in force, and the first decision."""

    level: int
    rag: Rag
    decided_at: datetime | None = None
    decided_by: DecidedBy | None = None
    trail: list[TrailItem] = field(default_factory=list)
    pending: dict[str, DecisionEntry] = field(default_factory=dict)
    imm: ImmDetails | None = None  # the meeting's outcome that routes the contact, if any
    discussed: bool = False  # the IMM has agreed an outcome for it
    meetings: set[str] = field(default_factory=set)

    def _step(self, d: DecisionEntry, to_level: int, to_rag: Rag, status: TrailStatus) -> None:
        self.trail.append(
            TrailItem(
                decision_id=d.id,
                at=d.at,
                by=d.by,
                role=d.role,
                action=d.action,
                from_level=self.level,
                to_level=to_level,
                from_rag=self.rag,
                to_rag=to_rag,
                rationale=d.rationale,
                status=status,
                signs_off=d.signs_off,
                imm=d.imm,
            )
        )

    def _decided(self, at: datetime, by: DecidedBy) -> None:
        if self.decided_at is None:
            self.decided_at, self.decided_by = at, by

    def _set_level(self, level: int, rag: Rag) -> None:
        if level != self.level:
            self.imm = None  # a new level routes by the level again
        self.level, self.rag = level, rag

    def by_service(self, at: datetime, ruleset: Ruleset) -> None:
        self.trail.append(
            TrailItem(
                decision_id=f"{SERVICE}-decision",
                at=at,
                by=SERVICE,
                role=Role.SERVICE,
                action=DecisionAction.CONFIRM,
                from_level=self.level,
                to_level=self.level,
                from_rag=self.rag,
                to_rag=self.rag,
                rationale=f"Decided by the service, as ruleset {ruleset.version} allows for level "
                f"{self.level} with no history at the service: no further action",
                status="applied",
            )
        )
        self._decided(at, DecidedBy.SERVICE)

    def apply(self, d: DecisionEntry, ruleset: Ruleset) -> None:
        """One decision, in its time order. Lowering a level-4 contact waits for a manager's
        sign-off. An IMM outcome routes the contact as the meeting agreed until a later decision
        changes its level. Only the first outcome from each meeting applies: a meeting recorded
        twice, or an outcome sent twice under new ids, is kept in the trail as "ignored"."""
        if d.action in (DecisionAction.CONFIRM, DecisionAction.CHANGE):
            to_level = d.level if d.level is not None else self.level
            to_rag = (
                d.rag if d.rag is not None else (ruleset.rag[to_level] if d.level is not None else self.rag)
            )
            if self.level == 4 and to_level < 4 and d.role is not Role.MANAGER:
                self.pending[d.id] = d
                self._step(d, to_level, to_rag, "awaiting_sign_off")
                return
            self._step(d, to_level, to_rag, "applied")
            self._set_level(to_level, to_rag)
            self._decided(d.at, DecidedBy.COORDINATOR)
            self.pending.clear()  # an applied decision supersedes a change waiting for sign-off
        elif d.action is DecisionAction.IMM_OUTCOME:
            if d.imm is None or d.imm.meeting_id in self.meetings:
                self._step(d, self.level, self.rag, "ignored")
                return
            self.meetings.add(d.imm.meeting_id)
            self._step(d, self.level, self.rag, "applied")
            self.imm, self.discussed = d.imm, True
            self._decided(d.at, DecidedBy.IMM)
        elif d.action is DecisionAction.SIGN_OFF:
            approved = self.pending.pop(d.signs_off or "", None) if d.role is Role.MANAGER else None
            if approved is None:
                self._step(d, self.level, self.rag, "ignored")
                return
            to_level = approved.level if approved.level is not None else self.level
            to_rag = approved.rag if approved.rag is not None else ruleset.rag[to_level]
            self._step(d, to_level, to_rag, "signed_off")
            self._set_level(to_level, to_rag)
            self._decided(d.at, DecidedBy.COORDINATOR)
        # A rescreen is settled at the contact's receipt (`_Walk.contact`).


@dataclass
class _Contact:
    """A contact as the walk builds it."""

    entry: ContactEntry
    ruleset: Ruleset
    recommendation: Screening
    decisions: _Decisions
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
        return _level_route(self.ruleset, self.decisions.level, self.entry)


LINKED = RouteTo(route=Route.SOCIAL_CARE, pathway=LINKED_PATHWAY)


def _level_route(ruleset: Ruleset, level: int, entry: ContactEntry) -> RouteTo:
    """The ruleset's route for a level, its pathway saying where consent stands when the
    service it leads to needs the family's consent."""
    to = ruleset.routes[level]
    if level in ruleset.needs_consent:
        return RouteTo(route=to.route, pathway=f"{to.pathway} ({_consent_phrase(entry)})")
    return to


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
        decisions = _Decisions(level=screening.level, rag=screening.rag)
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
            decisions._step(d, decisions.level, decisions.rag, "ignored")
            return
        screening = c.rescreen[1]
        decisions._step(d, screening.level, screening.rag, "applied")
        decisions._set_level(screening.level, screening.rag)
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
    proposed = LINKED if c.linked_at_receipt is not None else _level_route(c.ruleset, screening.level, entry)
    reasons = list(screening.reasons)
    if c.linked_at_receipt is not None:
        reasons.append(Reason(kind=ReasonKind.ROUTE, rule="linked_to_open_case", text=LINKED_PATHWAY))
    if decisions.level in c.ruleset.needs_consent:
        reasons.append(_consent_reason(entry))
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


def digest(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=8).hexdigest()
