"""The statutory figures counted independently of the service, to check `mash report` against.

Nothing here uses `mash.domain.figures`, `mash.domain.derive` or `mash.domain.referrals`:
the definitions are the ones in docs/domain-primer.md ("The statutory definitions") and
docs/figures.md, written out again.

Two starting points, one count:

- `count_figures` counts from the service's own case records (the reliability tests: did a
  crash change the figures?). It trusts each record's referral and re-referral flags.
- `history_from_lines` reads a `mash simulate` / `mash replay` JSONL file and works out every
  contact's referral, re-referral, linked-to-open-case and NFA status, and every plan's
  "second or subsequent", itself, from the definitions. Only the level of need comes from
  the service: it is the ruleset's (`mash.domain.screening.screen`, fed with what was known of
  the child just before the contact, the same function `mash simulate` screens with), and the
  ruleset's route for that level says whether the contact went to children's social care.

`report_figures` then gives what `mash report` should print for a period, key for key
(everything but the `imm` section, which comes from integrated mid-day meetings).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mash.domain.contact import Child
from mash.domain.identity import child_identity
from mash.domain.ruleset import Ruleset, load_ruleset
from mash.domain.screening import Known, screen

LONDON = ZoneInfo("Europe/London")

REFERRAL, LINKED, NOT_REFERRED = "referral", "linked_to_open_case", "not_referred"
SOCIAL_CARE, UNIVERSAL = "social_care", "universal"


def local_day(at: str | datetime) -> date:
    """The Europe/London date of an instant: a contact at 23:30 UTC in summer is the next day."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(LONDON).date()


def year_before(d: date) -> date:
    """The same calendar date one year earlier; 29 February looks back to 28 February."""
    return date(d.year - 1, 2, 28) if (d.month, d.day) == (2, 29) else d.replace(year=d.year - 1)


@dataclass
class SeenContact:
    """One contact (one child), as the figures need it."""

    day: date
    source: str
    level: int
    route: str
    referral: str = NOT_REFERRED
    re_referral: bool = False
    nfa: bool = False
    # None: no coordinator has decided it; otherwise whether it was decided by its due time.
    decided_in_time: bool | None = None


@dataclass(frozen=True)
class SeenPlan:
    day: date
    second_or_subsequent: bool


@dataclass
class History:
    contacts: list[SeenContact]
    plans: list[SeenPlan]
    children: int = 0
    outcomes: int = 0
    # Contacts about the same child at the same instant: the order between them is arbitrary.
    same_instant: int = 0


# --- from a JSONL history, by the definitions --------------------------------------------------------


_RANK = {"outcome": 0, "contact": 1}  # a case closing at the instant of a contact closes first


@dataclass
class _Child:
    contacts_at: list[datetime]
    plans_at: list[datetime]
    referral_days: list[date]
    open_referral: SeenContact | None = None


def history_from_lines(
    lines: Iterable[dict[str, Any]],
    ruleset: Ruleset | None = None,
    default_sources: Mapping[str, str] | None = None,
) -> History:
    """Every contact and plan in `lines` (JSONL items: "contact" submissions and "outcome" events).

    A submission without a `source` has its agency's default source (`default_sources`,
    agency id -> CIN code, as in the service's agencies file).

    Per child, in event-time order:
    - a contact is screened against what was known of the child just before it; if its
      level routes it to children's social care it is a referral when the child has no open
      case (and opens one), and linked to the open case otherwise;
    - a referral is a re-referral when the child had an earlier referral dated on or after
      the same calendar date one year before (Europe/London dates);
    - a case closure closes the open case, and its `nfa` marks the referral that opened it;
      a closure with no case open changes nothing;
    - a plan is second or subsequent when the child had started any plan before it.
    """
    rules = ruleset or load_ruleset()
    events: dict[str, list[tuple[datetime, int, int, dict[str, Any]]]] = defaultdict(list)
    outcomes = 0
    for number, line in enumerate(lines):
        if line["kind"] == "contact":
            submission = line["submission"]
            if not submission.get("source"):
                submission = {**submission, "source": (default_sources or {})[line["agency"]]}
            at = datetime.fromisoformat(submission["received_at"])
            for raw in submission["children"]:
                events[_identity(raw)].append((at, _RANK["contact"], number, submission))
        else:
            event = line["event"]
            outcomes += 1
            events[_identity(event["child"])].append(
                (datetime.fromisoformat(event["occurred_at"]), _RANK["outcome"], number, event)
            )

    contacts: list[SeenContact] = []
    plans: list[SeenPlan] = []
    same_instant = 0
    for timeline in events.values():
        timeline.sort(key=lambda e: e[:3])
        child = _Child([], [], [])
        for at, rank, _, item in timeline:
            if rank == _RANK["contact"]:
                same_instant += at in child.contacts_at
                contacts.append(_contact(child, at, item, rules))
            elif item["type"] == "case_closed":
                if child.open_referral is not None:
                    child.open_referral.nfa = bool(item.get("nfa", False))
                    child.open_referral = None
            elif item["type"] == "cp_plan_started":
                plans.append(SeenPlan(local_day(at), second_or_subsequent=bool(child.plans_at)))
                child.plans_at.append(at)
    return History(contacts, plans, children=len(events), outcomes=outcomes, same_instant=same_instant)


def _identity(raw: dict[str, Any]) -> str:
    return child_identity(Child.model_validate(raw))


def _contact(child: _Child, at: datetime, submission: dict[str, Any], rules: Ruleset) -> SeenContact:
    known = Known(tuple(child.contacts_at), child.open_referral is not None, tuple(child.plans_at))
    level = screen(submission["indicators"], known, at, rules).level
    day = local_day(at)
    seen = SeenContact(day, submission["source"], level, rules.routes[level].route.value)
    child.contacts_at.append(at)
    if seen.route == SOCIAL_CARE:
        if child.open_referral is not None:
            seen.referral = LINKED
        else:
            seen.referral = REFERRAL
            since = year_before(day)
            seen.re_referral = any(since <= earlier <= day for earlier in child.referral_days)
            child.referral_days.append(day)
            child.open_referral = seen
    return seen


# --- from the service's case records ----------------------------------------------------------------


def contacts_from_records(records: Iterable[dict[str, Any]]) -> list[SeenContact]:
    """The figures' view of the service's latest case records (trusting their flags)."""
    seen = []
    for r in records:
        decided = None
        if r["decided_at"] is not None and r["due_at"] is not None:
            decided = datetime.fromisoformat(r["decided_at"]) <= datetime.fromisoformat(r["due_at"])
        seen.append(
            SeenContact(
                local_day(r["received_at"]),
                r["source"],
                r["level"],
                r["route"],
                r["referral"],
                bool(r["re_referral"]),
                bool(r["nfa"]),
                decided,
            )
        )
    return seen


def plans_from_records(plans: Iterable[dict[str, Any]]) -> list[SeenPlan]:
    return [SeenPlan(local_day(p["started_at"]), bool(p["second_or_subsequent"])) for p in plans]


# --- the counts -------------------------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _counts(contacts: list[SeenContact], plans: list[SeenPlan]) -> dict[str, Any]:
    referrals = [c for c in contacts if c.referral == REFERRAL]
    re_referrals = sum(c.re_referral for c in referrals)
    decided = [c for c in contacts if c.decided_in_time is not None]
    in_time = sum(bool(c.decided_in_time) for c in decided)
    return {
        "contacts": len(contacts),
        "referrals": len(referrals),
        "conversion_rate": _rate(len(referrals), len(contacts)),
        "re_referrals": re_referrals,
        "re_referral_rate": _rate(re_referrals, len(referrals)),
        "linked_to_open_case": sum(c.referral == LINKED for c in contacts),
        "referrals_nfa": sum(c.nfa for c in referrals),
        "contacts_nfa": sum(c.route == UNIVERSAL for c in contacts),
        "cp_plans_started": len(plans),
        "cp_plans_second_or_subsequent": sum(p.second_or_subsequent for p in plans),
        "decided_with_target": len(decided),
        "decided_within_target": in_time,
        "decided_within_target_rate": _rate(in_time, len(decided)),
    }


def report_figures(
    contacts: Iterable[SeenContact], plans: Iterable[SeenPlan], start: date, end: date
) -> dict[str, Any]:
    """What `mash report --from START --to END` prints, but its `imm` section: contacts received
    and plans started from `start` to `end` inclusive, with every month of the period."""
    mine = [c for c in contacts if start <= c.day <= end]
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
        by_month[first.strftime("%Y-%m")] = _counts(month_contacts, month_plans)
        first = following
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_counts(mine, plans_in),
        "by_source": by_source,
        "by_level": {str(level): n for level, n in sorted(Counter(c.level for c in mine).items())},
        "by_month": by_month,
    }


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
    full = report_figures(contacts_from_records(records), plans_from_records(plans), start, end)
    return {k: full[k] for k in RELIABILITY_KEYS}


def report_counts(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in RELIABILITY_KEYS}
