"""What a queue row says about a contact in a few words: the child's initials and age, and the concern.

The child comes from the contact as the partner submitted it (opened with the child's data key);
the concern from the recommendation's reasons. A row carries no name, date of birth
or narrative: initials and an age are enough to tell two children apart in a list, and the
case page holds the rest. None of this is ever logged or used as a metric label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mash.domain.case import Reason, ReasonKind, Recommendation
from mash.domain.contact import ContactEvent
from mash.domain.referrals import local_date

CONCERNS_SHOWN = 2
CONCERN_CHARS = 48


@dataclass(frozen=True)
class ChildLine:
    initials: str  # "QM"
    age: str  # "aged 12", "under 1", "unborn"


def age_in_years(born: date, on: date) -> int:
    """Whole years from `born` to `on`: a birthday counts from its own day."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_text(born: date | None, unborn: bool, on: date) -> str:
    if unborn or born is None:
        return "unborn"
    years = age_in_years(born, on)
    return "under 1" if years < 1 else f"aged {years}"


def _initial(name: object) -> str:
    return name.strip()[:1].upper() if isinstance(name, str) else ""


def child_line(contact: ContactEvent) -> ChildLine:
    """The child's initials and age on the day the contact was received (London date)."""
    child = contact.child
    age = age_text(child.date_of_birth, child.unborn, local_date(contact.received_at))
    return ChildLine(initials=_initial(child.given_name) + _initial(child.family_name), age=age)


# What a row says of a child whose personal details are erased (`mash erase`, retention).
ERASED = ChildLine(initials="", age="personal details erased")


def _shortened(text: str, limit: int = CONCERN_CHARS) -> str:
    """The head of a description (before any colon: what follows is detail), cut at a word."""
    head = text.partition(": ")[0].strip()
    if len(head) <= limit:
        return head
    cut = head[: limit - 1].rsplit(" ", 1)[0].rstrip(",;(")
    return f"{cut}…"


def _description(reason: Reason) -> str:
    # Screening words an indicator reason "Level 3 indicator: <description>" (mash.domain.screening);
    # a code the ruleset does not know has no level.
    if reason.level is None:
        return "an indicator the ruleset does not know"
    return reason.text.partition(": ")[2] or reason.text


def concern(recommendation: Recommendation) -> str:
    """The concern in a few words: the top indicators' descriptions, shortened, most serious first."""
    indicators = [r for r in recommendation.reasons if r.kind in (ReasonKind.INDICATOR, ReasonKind.OVERRIDE)]
    if not indicators:
        return "No indicators given"
    ranked = sorted(indicators, key=lambda r: -(r.level or 0))  # stable: the screening's order otherwise
    shown = "; ".join(_shortened(_description(r)) for r in ranked[:CONCERNS_SHOWN])
    more = len(ranked) - CONCERNS_SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown
