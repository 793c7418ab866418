"""The statutory figures counted independently of the service, to check `mash report` against.

Nothing here uses `mash.domain.figures`, `mash.domain.derive`, `mash.domain.referrals` or the
worker: the definitions are the ones in docs/domain-primer.md ("The statutory definitions"),
docs/figures.md and the docstring of mash/domain/figures.py, written out again.

Two starting points, one count:

- `count_figures` counts from the service's own case records (the reliability tests: did a
  crash change the figures?). It trusts each record's referral and re-referral flags.
- `history_from_lines` reads a `mash simulate` / `mash replay` JSONL file and works out, itself,
  what became of every contact (waiting, decided by whom and when, referral, linked to an open
  case, re-referral, no further action) and every plan, from the definitions. From the service
  it takes only the recommendation (`mash.domain.screening.screen`, fed with what was known of
  the child just before the contact, under the ruleset the file's contacts are checked with)
  and the working-time calendar (`mash.domain.calendar`) for due times. Decisions come from
  the file's decision lines.

`report_figures` then gives what `mash report` prints for a period, key for key (everything
but the `imm` section, which comes from integrated mid-day meetings), as known at `now`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from mash.domain.calendar import DEFAULT_CALENDAR, add_working_time, due_at
from mash.domain.contact import Child
from mash.domain.identity import child_identity
from mash.domain.ruleset import Ruleset, load_ruleset
from mash.domain.screening import EarlierContact, Known, Plan, screen

LONDON = ZoneInfo("Europe/London")

REFERRAL, LINKED, NOT_REFERRED = "referral", "linked_to_open_case", "not_referred"
SOCIAL_CARE, UNIVERSAL = "social_care", "universal"
COORDINATOR, IMM, SERVICE = "coordinator", "imm", "service"
RAGS = ("red", "amber", "green")
DATA_QUALITY = ("consent_basis_missing", "referrer_unreachable", "unknown_indicator")

# Where the integrated mid-day meeting's outcome sends a contact (the IMM page of the docs).
IMM_ROUTES = {
    "nfa": UNIVERSAL,
    "advice_signpost": UNIVERSAL,
    "early_help": "early_help",
    "single_agency": "single_agency",
    "csc_assessment": SOCIAL_CARE,
    "strategy_discussion": SOCIAL_CARE,
}


def local_day(at: str | datetime) -> date:
    """The Europe/London date of an instant: a contact at 23:30 UTC in summer is the next day."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(LONDON).date()


def year_before(d: date) -> date:
    """The same calendar date one year earlier; 29 February looks back to 28 February."""
    return date(d.year - 1, 2, 28) if (d.month, d.day) == (2, 29) else d.replace(year=d.year - 1)


def end_of_day(d: date) -> datetime:
    """The last instant of a London date."""
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC) - timedelta(
        microseconds=1
    )


@dataclass
class SeenContact:
    """One contact (one child), as the figures need it."""

    received_at: datetime
    source: str
    level: int  # in force: the decided level, or the recommended one while it waits
    rag: str  # the recommendation's: it sets the due time
    route: str  # in force
    referral: str = NOT_REFERRED
    re_referral: bool = False
    nfa: bool = False
    decided_at: datetime | None = None
    decided_by: str | None = None
    due_at: datetime | None = None
    data_quality: tuple[str, ...] = ()
    day: date = field(init=False)

    def __post_init__(self) -> None:
        self.day = local_day(self.received_at)

    def one_working_day(self) -> datetime:
        return _one_working_day(self.received_at)


@cache
def _one_working_day(received_at: datetime) -> datetime:
    return add_working_time(received_at, DEFAULT_CALENDAR.working_day_seconds, DEFAULT_CALENDAR)


@dataclass(frozen=True)
class SeenPlan:
    day: date
    child: str
    second_or_subsequent: bool


@dataclass
class History:
    contacts: list[SeenContact]
    plans: list[SeenPlan]
    children: int = 0
    outcomes: int = 0
    decisions: int = 0
    # Two events of one kind about one child at one instant: the order between them is arbitrary.
    same_instant: int = 0


# --- from a JSONL history, by the definitions --------------------------------------------------------

# A child's events at one instant: a case closes before a new contact is considered, and a
# decision follows the contact it is about.
_RANK = {"outcome": 0, "contact": 1, "decision": 2}


@dataclass
class _Contact:
    """A contact as the walk builds it."""

    seen: SeenContact
    submission: dict[str, Any]
    rules: Ruleset
    unknown_codes: bool
    linked_at_receipt: bool
    imm: str | None = None  # the meeting's outcome in force
    meetings: set[str] = field(default_factory=set)
    waiting_sign_off: dict[str, int] = field(default_factory=dict)  # reference -> the lower level
    closed: bool = False
    route_acted_on: str | None = None


@dataclass
class _Child:
    earlier: list[EarlierContact] = field(default_factory=list)
    plans: list[list[Any]] = field(default_factory=list)  # [key, started, ended]
    open_case: list[_Contact] | None = None  # the open case's contacts (a referral's first)
    open_by_plan: bool = False
    contacts: list[_Contact] = field(default_factory=list)  # in order of receipt


def history_from_lines(
    lines: Iterable[dict[str, Any]],
    ruleset: Ruleset | None = None,
    default_sources: Mapping[str, str] | None = None,
) -> History:
    """Every contact and plan in `lines` ("contact", "outcome" and "decision" JSONL items), by
    the definitions, per child in event-time order:

    - a contact is screened against what was known of the child just before it: that is the
      recommendation. If the child's case is open at its receipt it is linked to the case,
      whatever level anyone gives it. The service decides it itself (no further action) when
      the ruleset lets it (`service_decides`: its level, no unknown code, no history); any
      other contact waits for a person;
    - a decision applies at its time: a confirm or change sets the level and RAG (a coordinator
      lowering a level 4 waits for a manager's sign-off), a meeting's outcome sets the route
      (one outcome per meeting). The first one that applies decides the contact. Decided for
      social care, a contact is a referral if the child has no open case then (it opens a case
      named after it) and linked to the open case otherwise; a referral later decided elsewhere
      stays a referral and its case closes then (with no further action if to universal services);
    - a referral is a re-referral when the child had a referral received on or after the same
      calendar date one year before (Europe/London dates of receipt);
    - a case closure closes the open case, and its `nfa` marks the referral that opened it;
    - a plan start is a new plan unless its `plan_id` was seen; with no case open it opens one;
      it is second or subsequent when the child had started any plan before it. A plan end
      ends the plan it names (or the latest open one);
    - an event repeated with its identity (an agency's reference, a decision's reference) is
      taken once, as `mash replay` and the worker take it.

    A submission without a `source` has its agency's default source (`default_sources`, agency
    id -> CIN code, as in the service's agencies file).
    """
    rules = ruleset or load_ruleset()
    timelines: dict[str, list[tuple[datetime, int, int, str, Any]]] = {}
    child_of: dict[tuple[str, str, int], str] = {}
    seen_ids: set[tuple[str, ...]] = set()
    outcomes = decisions = 0
    for number, line in enumerate(lines):
        kind = line["kind"]
        if kind == "contact":
            submission = dict(line["submission"])
            if not submission.get("source"):
                submission["source"] = (default_sources or {})[line["agency"]]
            at = datetime.fromisoformat(submission["received_at"])
            for index, raw in enumerate(submission["children"]):
                identity = ("contact", line["agency"], submission["agency_reference"], str(index))
                if identity in seen_ids:
                    continue
                seen_ids.add(identity)
                child = _identity(raw)
                child_of[(line["agency"], submission["agency_reference"], index)] = child
                item = {**submission, "agency": line["agency"], "index": index}
                timelines.setdefault(child, []).append((at, _RANK[kind], number, kind, item))
        elif kind == "outcome":
            event = line["event"]
            identity = _outcome_identity(line["agency"], event)
            if identity in seen_ids:
                continue
            seen_ids.add(identity)
            outcomes += 1
            at = datetime.fromisoformat(event["occurred_at"])
            item = {**event, "agency": line["agency"]}
            timelines.setdefault(_identity(event["child"]), []).append((at, _RANK[kind], number, kind, item))
        else:
            decision = line["decision"]
            contact = decision["contact"]
            key = (contact["agency"], contact["agency_reference"], contact["child"])
            identity = ("decision", decision["reference"])
            if key not in child_of or identity in seen_ids:
                continue  # `mash replay` skips a decision about a contact not before it in the file
            seen_ids.add(identity)
            decisions += 1
            at = datetime.fromisoformat(decision["decided_at"])
            timelines[child_of[key]].append((at, _RANK[kind], number, kind, decision))

    contacts: list[SeenContact] = []
    plans: list[SeenPlan] = []
    same_instant = 0
    for child_id, timeline in timelines.items():
        timeline.sort(key=lambda e: e[:3])
        same_instant += sum(1 for a, b in itertools.pairwise(timeline) if a[:2] == b[:2])
        walk = _Walk(child_id, rules)
        for at, _, _, kind, item in timeline:
            if kind == "contact":
                walk.contact(at, item)
            elif kind == "decision":
                walk.decision(at, item)
            else:
                walk.outcome(at, item, plans)
        contacts.extend(walk.finish())
    return History(
        contacts,
        plans,
        children=len(timelines),
        outcomes=outcomes,
        decisions=decisions,
        same_instant=same_instant,
    )


def _identity(raw: dict[str, Any]) -> str:
    return child_identity(Child.model_validate(raw))


def _outcome_identity(agency: str, event: dict[str, Any]) -> tuple[str, ...]:
    if event.get("reference"):
        return ("outcome", agency, event["reference"])
    child = _identity(event["child"])
    return ("outcome", agency, child, event["type"], datetime.fromisoformat(event["occurred_at"]).isoformat())


class _Walk:
    """One child's timeline, walked in event-time order."""

    def __init__(self, child_id: str, rules: Ruleset) -> None:
        self.child_id = child_id
        self.rules = rules
        self.child = _Child()
        self.by_key: dict[tuple[str, str, int], _Contact] = {}
        self.early: dict[tuple[str, str, int], list[tuple[datetime, dict[str, Any]]]] = {}

    def known(self) -> Known:
        plans = tuple(Plan(started, ended) for _, started, ended in self.child.plans)
        return Known(tuple(self.child.earlier), self.child.open_case is not None, plans)

    # contacts ----------------------------------------------------------------------------------

    def contact(self, at: datetime, submission: dict[str, Any]) -> None:
        rules = self.rules
        known = self.known()
        screening = screen(submission["indicators"], known, at, rules)
        linked = self.child.open_case is not None
        seen = SeenContact(
            received_at=at,
            source=submission["source"],
            level=screening.level,
            rag=screening.rag.value,
            route=rules.routes[screening.level].route.value,
            due_at=due_at(at, screening.rag.value),
        )
        contact = _Contact(seen, submission, rules, bool(screening.unknown_codes), linked)
        if linked:
            self._link(contact)
        decides = rules.service_decides
        if (
            screening.level in decides.levels
            and not screening.unknown_codes
            and not linked
            and not (decides.only_without_history and known.has_history(at, decides.history_days))
        ):
            seen.decided_at, seen.decided_by = at, SERVICE
            self._settle(contact, at)
        self.child.earlier.append(EarlierContact(at, screening.concern_level))
        self.child.contacts.append(contact)
        key = (submission["agency"], submission["agency_reference"], submission["index"])
        self.by_key[key] = contact
        for when, decision in self.early.pop(key, []):
            self.decision(when, decision)

    def _link(self, contact: _Contact) -> None:
        assert self.child.open_case is not None
        contact.seen.referral = LINKED
        self.child.open_case.append(contact)

    # decisions ---------------------------------------------------------------------------------

    def decision(self, at: datetime, d: dict[str, Any]) -> None:
        ref = d["contact"]
        contact = self.by_key.get((ref["agency"], ref["agency_reference"], ref["child"]))
        if contact is None:  # dated before its contact: it applies when the contact is received
            self.early.setdefault((ref["agency"], ref["agency_reference"], ref["child"]), []).append((at, d))
            return
        seen = contact.seen
        action, manager = d["action"], d["role"] == "manager"
        if action in ("confirm", "change"):
            level = d.get("level") or seen.level  # a change may set only the RAG
            if seen.level == 4 and level < 4 and not manager:
                contact.waiting_sign_off[d["reference"]] = level
            else:
                self._set_level(contact, level)
                self._decided(seen, at, COORDINATOR)
                contact.waiting_sign_off.clear()
        elif action == "sign_off":
            approved = contact.waiting_sign_off.pop(d["signs_off"], None) if manager else None
            if approved is not None:
                self._set_level(contact, approved)
                self._decided(seen, at, COORDINATOR)
        elif action == "imm_outcome" and d["meeting_id"] not in contact.meetings:
            contact.meetings.add(d["meeting_id"])
            contact.imm = d["outcome"]
            self._decided(seen, at, IMM)
        self._settle(contact, at)

    def _set_level(self, contact: _Contact, level: int) -> None:
        if level != contact.seen.level:
            contact.imm = None  # a new level routes by the level again
        contact.seen.level = level

    @staticmethod
    def _decided(seen: SeenContact, at: datetime, by: str) -> None:
        if seen.decided_at is None:
            seen.decided_at, seen.decided_by = at, by

    def _route(self, contact: _Contact) -> str:
        if contact.linked_at_receipt or contact.seen.referral == LINKED:
            return SOCIAL_CARE
        if contact.imm is not None:
            return IMM_ROUTES[contact.imm]
        return contact.rules.routes[contact.seen.level].route.value

    def _settle(self, contact: _Contact, at: datetime) -> None:
        """What a decided route means for the child's case, at the time it was decided."""
        seen = contact.seen
        if seen.decided_at is None:
            return
        route = self._route(contact)
        if route == contact.route_acted_on:
            return
        contact.route_acted_on = route
        if seen.referral == LINKED:
            return
        if route == SOCIAL_CARE:
            if seen.referral == NOT_REFERRED and not contact.closed:
                if self.child.open_case is not None:
                    self._link(contact)
                else:
                    seen.referral = REFERRAL
                    self.child.open_case = [contact]
                    self.child.open_by_plan = False
        elif seen.referral == REFERRAL and not contact.closed:
            # Decided elsewhere after it was referred: the referral stands, and its case (the
            # one open: a referral's case stays open until it closes) closes now.
            self._close(nfa=route == UNIVERSAL)

    # outcomes ----------------------------------------------------------------------------------

    def _close(self, nfa: bool) -> None:
        """Closes the open case: its contacts are closed, and `nfa` belongs to the referral that
        opened it (a case a plan opened has none)."""
        case = self.child.open_case
        if case is None:
            return  # nothing open: a closure changes nothing
        for member in case:
            member.closed = True
        if not self.child.open_by_plan:
            case[0].seen.nfa = nfa
        self.child.open_case = None

    def outcome(self, at: datetime, event: dict[str, Any], plans: list[SeenPlan]) -> None:
        kind = event["type"]
        if kind == "case_closed":
            self._close(bool(event.get("nfa", False)))
            return
        key = (
            f"plan\x1f{event['agency']}\x1f{event['plan_id']}"
            if event.get("plan_id")
            else "\x1f".join(_outcome_identity(event["agency"], event))
        )
        known = self.child.plans
        if kind == "cp_plan_started":
            if any(k == key for k, _, _ in known):
                return  # the same plan, sent again
            plans.append(SeenPlan(local_day(at), self.child_id, second_or_subsequent=bool(known)))
            known.append([key, at, None])
            if self.child.open_case is None:
                self.child.open_case, self.child.open_by_plan = [], True  # a child on a plan has an open case
            return
        if event.get("plan_id"):
            ending = next((p for p in known if p[0] == key), None)
        else:
            ending = next((p for p in reversed(known) if p[2] is None), None)
        if ending is not None and ending[2] is None:
            ending[2] = at

    # the records -------------------------------------------------------------------------------

    def finish(self) -> list[SeenContact]:
        referred: list[date] = []
        out = []
        for contact in self.child.contacts:  # in order of receipt
            seen = contact.seen
            if seen.referral == REFERRAL:
                since = year_before(seen.day)
                seen.re_referral = any(since <= earlier <= seen.day for earlier in referred)
                referred.append(seen.day)
            seen.route = self._route(contact)
            seen.data_quality = self._data_quality(contact)
            out.append(seen)
        return out

    def _data_quality(self, contact: _Contact) -> tuple[str, ...]:
        found = []
        consent = contact.submission.get("consent") or {}
        if (
            contact.seen.level in contact.rules.needs_consent
            and consent.get("status") != "given"
            and not consent.get("reason")
        ):
            found.append("consent_basis_missing")
        referrer = contact.submission.get("referrer") or {}
        if not (referrer.get("phone") or referrer.get("email")):
            found.append("referrer_unreachable")
        if contact.unknown_codes:
            found.append("unknown_indicator")
        return tuple(found)


# --- from the service's case records ----------------------------------------------------------------


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def contacts_from_records(records: Iterable[dict[str, Any]]) -> list[SeenContact]:
    """The figures' view of the service's latest case records (trusting their flags)."""
    return [
        SeenContact(
            received_at=datetime.fromisoformat(r["received_at"]),
            source=r["source"],
            level=r["level"],
            rag=r["recommendation"]["rag"],
            route=r["route"],
            referral=r["referral"],
            re_referral=bool(r["re_referral"]),
            nfa=bool(r["nfa"]),
            decided_at=_instant(r["decided_at"]),
            decided_by=r["decided_by"],
            due_at=_instant(r["due_at"]),
            data_quality=tuple(r["data_quality"]),
        )
        for r in records
    ]


def plans_from_records(plans: Iterable[dict[str, Any]]) -> list[SeenPlan]:
    return [
        SeenPlan(local_day(p["started_at"]), p["child_key"], bool(p["second_or_subsequent"])) for p in plans
    ]


# --- the counts -------------------------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _decided_by(contact: SeenContact, at: datetime) -> bool:
    return contact.decided_at is not None and contact.decided_at <= at


def _timeliness(contacts: list[SeenContact], now: datetime) -> dict[str, Any]:
    """A person's decisions against the RAG target and against one working day: a contact counts
    once its decision is due (decided, or past the time now); undecided and past it is a miss."""
    by_people = [c for c in contacts if c.decided_by != SERVICE]
    due = [c for c in by_people if c.due_at is not None and (c.decided_at is not None or c.due_at <= now)]
    within = [c for c in due if c.due_at is not None and _decided_by(c, c.due_at)]
    day_due = [c for c in by_people if c.decided_at is not None or c.one_working_day() <= now]
    day_within = [c for c in day_due if _decided_by(c, c.one_working_day())]
    by = {}
    for who in (COORDINATOR, IMM):
        decided = sum(c.decided_by == who for c in day_due)
        on_time = sum(c.decided_by == who for c in day_within)
        by[who] = {"decided": decided, "within": on_time, "rate": _rate(on_time, decided)}
    return {
        "decisions_due": len(due),
        "decided_within_target": len(within),
        "decided_within_target_rate": _rate(len(within), len(due)),
        "undecided_past_due": sum(c.decided_at is None for c in due),
        "decisions_due_1_working_day": len(day_due),
        "decided_within_1_working_day": len(day_within),
        "decided_within_1_working_day_rate": _rate(len(day_within), len(day_due)),
        "undecided_past_1_working_day": sum(c.decided_at is None for c in day_due),
        "decided_within_1_working_day_by": by,
    }


def _counts(contacts: list[SeenContact], plans: list[SeenPlan], now: datetime) -> dict[str, Any]:
    referrals = [c for c in contacts if c.referral == REFERRAL]
    re_referrals = sum(c.re_referral for c in referrals)
    children = {p.child for p in plans}
    again = {p.child for p in plans if p.second_or_subsequent}
    return {
        "contacts": len(contacts),
        "awaiting_decision": sum(c.decided_at is None for c in contacts),
        "decided_by_service": sum(c.decided_by == SERVICE for c in contacts),
        "referrals": len(referrals),
        "conversion_rate": _rate(len(referrals), len(contacts)),
        "re_referrals": re_referrals,
        "re_referral_rate": _rate(re_referrals, len(referrals)),
        "linked_to_open_case": sum(c.referral == LINKED for c in contacts),
        "referrals_nfa": sum(c.nfa for c in referrals),
        "contacts_nfa": sum(c.decided_at is not None and c.route == UNIVERSAL for c in contacts),
        "cp_plans_started": len(plans),
        "cp_plan_children": len(children),
        "cp_plan_children_second_or_subsequent": len(again),
        "cp_plan_children_second_or_subsequent_rate": _rate(len(again), len(children)),
        **_timeliness(contacts, now),
        "data_quality": {q: sum(q in c.data_quality for c in contacts) for q in DATA_QUALITY},
    }


def report_figures(
    contacts: Iterable[SeenContact], plans: Iterable[SeenPlan], start: date, end: date, now: datetime
) -> dict[str, Any]:
    """What `mash report --from START --to END` prints at `now`, but its `imm` section: contacts
    received and plans started from `start` to `end` inclusive, with every month of the period,
    and the contacts waiting past their due time at the period's end (or now, if earlier)."""
    everything = list(contacts)
    mine = [c for c in everything if start <= c.day <= end]
    plans_in = [p for p in plans if start <= p.day <= end]
    by_source: dict[str, dict[str, int]] = {}
    for source in sorted({c.source for c in mine}):
        of_source = [c for c in mine if c.source == source]
        referrals = [c for c in of_source if c.referral == REFERRAL]
        by_source[source] = {
            "contacts": len(of_source),
            "referrals": len(referrals),
            "re_referrals": sum(c.re_referral for c in referrals),
        }
    by_month: dict[str, dict[str, Any]] = {}
    first = start.replace(day=1)
    while first <= end:
        following = (first + timedelta(days=31)).replace(day=1)
        month_contacts = [c for c in mine if first <= c.day < following]
        month_plans = [p for p in plans_in if first <= p.day < following]
        by_month[first.strftime("%Y-%m")] = _counts(month_contacts, month_plans, now)
        first = following
    at = min(end_of_day(end), now)
    waiting = Counter(
        c.rag
        for c in everything
        if c.received_at <= at and not _decided_by(c, at) and c.due_at is not None and c.due_at <= at
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_counts(mine, plans_in, now),
        "waiting_past_due_at_end": {rag: waiting[rag] for rag in RAGS},
        "by_source": by_source,
        "by_level": {str(level): n for level, n in sorted(Counter(c.level for c in mine).items())},
        "by_month": by_month,
    }


# The counts a long enough simulated history must make non-zero, so that agreeing on them means
# something: the checks against the service assert each is above 0 before comparing.
COUNTED = (
    "awaiting_decision",
    "decided_by_service",
    "referrals",
    "re_referrals",
    "linked_to_open_case",
    "referrals_nfa",
    "contacts_nfa",
    "cp_plans_started",
    "cp_plan_children_second_or_subsequent",
    "decisions_due",
    "undecided_past_due",
)


# --- the reliability tests' comparison ------------------------------------------------------------------

RELIABILITY_KEYS = (
    "contacts",
    "referrals",
    "re_referrals",
    "linked_to_open_case",
    "referrals_nfa",
    "contacts_nfa",
    "cp_plans_started",
    "by_level",
)


def count_figures(
    records: Iterable[dict[str, Any]], plans: Iterable[dict[str, Any]], start: date, end: date
) -> dict[str, Any]:
    """The report's main counts, by hand from the case records (not with mash.domain.figures)."""
    now = datetime.now(UTC)  # none of these counts depends on it
    full = report_figures(contacts_from_records(records), plans_from_records(plans), start, end, now)
    return {k: full[k] for k in RELIABILITY_KEYS}


def report_counts(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in RELIABILITY_KEYS}
