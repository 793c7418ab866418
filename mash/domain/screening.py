"""Screening: the service's recommended level of need for one contact, from the ruleset and history.

The order is the threshold document's: the indicators give a level, combinations of factors can
raise it, what the service knows of the child can raise it further, and a hard override puts the
child at level 4 whatever else is true. Every step that changes or supports the level leaves a
reason, and every raise says what it raised, from which level and why. A screening is a
recommendation: people decide (mash.domain.derive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mash.domain.case import Reason, ReasonKind
from mash.domain.ruleset import HistoryRule, Rag, Ruleset

# Most urgent first: a review clock never makes a contact less urgent than its level does.
_URGENCY = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2, Rag.BLUE: 3}


@dataclass(frozen=True)
class EarlierContact:
    """A contact about the child received before this one: when, and the level its own
    indicators gave it (before any history rule)."""

    at: datetime
    concern_level: int


@dataclass(frozen=True)
class Plan:
    started: datetime
    ended: datetime | None = None


@dataclass(frozen=True)
class Known:
    """What the service knew of the child just before this contact, by event time."""

    earlier_contacts: tuple[EarlierContact, ...] = ()
    open_case: bool = False
    plans: tuple[Plan, ...] = ()

    def has_history(self, at: datetime, days: int) -> bool:
        """Any contact in the `days` before `at`, an open case, or any child protection plan."""
        since = at - timedelta(days=days)
        return self.open_case or bool(self.plans) or any(since <= c.at <= at for c in self.earlier_contacts)


@dataclass(frozen=True)
class Screening:
    level: int
    rag: Rag
    reasons: tuple[Reason, ...]
    ruleset_version: str
    concern_level: int  # from the indicators and combinations alone, before history
    unknown_codes: tuple[str, ...]


def concern_level(indicators: Sequence[str], ruleset: Ruleset) -> int:
    """The level a contact's own indicators give it: what history rules count and start from."""
    return _concern(indicators, ruleset)[0]


def _concern(indicators: Sequence[str], ruleset: Ruleset) -> tuple[int, list[Reason], list[str]]:
    catalogue = ruleset.catalogue
    codes = list(dict.fromkeys(indicators))
    found = [catalogue[code] for code in codes if code in catalogue]
    unknown = [code for code in codes if code not in catalogue]
    reasons: list[Reason] = []
    level = max((i.level for i in found), default=1)
    for ind in sorted(found, key=lambda i: -i.level):
        kind = ReasonKind.OVERRIDE if ind.override else ReasonKind.INDICATOR
        label = "Level 4 override" if ind.override else f"Level {ind.level} indicator"
        reasons.append(Reason(kind=kind, rule=ind.code, text=f"{label}: {ind.description}", level=ind.level))
    for code in unknown:
        reasons.append(
            Reason(
                kind=ReasonKind.INDICATOR,
                rule=code,
                text=f"Indicator '{code}' is not in ruleset {ruleset.version}: a coordinator must "
                "review it (on the review clock)",
            )
        )
    present = {i.code for i in found}
    for combo in ruleset.combinations:
        if combo.all_of:
            fires = all(code in present for code in combo.all_of)
        else:
            assert combo.min_count is not None
            assert combo.at_level is not None
            fires = sum(1 for i in found if i.level >= combo.at_level) >= combo.min_count
        if fires:
            # Listed even when the level is already as high: it is still part of why.
            level = max(level, combo.level)
            reasons.append(
                Reason(kind=ReasonKind.COMBINATION, rule=combo.id, text=combo.description, level=combo.level)
            )
    if any(i.override for i in found):
        level = 4
    return level, reasons, unknown


def incidents(times: Sequence[datetime], same_incident_hours: int) -> int:
    """How many separate incidents `times` are: a contact within `same_incident_hours` of an
    incident's first contact reports the same incident."""
    count, start = 0, None
    window = timedelta(hours=same_incident_hours)
    for at in sorted(times):
        if start is None or at - start >= window or same_incident_hours == 0:
            count, start = count + 1, at
    return count


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _history_fires(rule: HistoryRule, known: Known, at: datetime, concern: int) -> tuple[bool, str]:
    if rule.kind == "repeat_contacts":
        assert rule.within_days is not None
        assert rule.min_incidents is not None
        if concern < 2 and not rule.count_information_only:
            return False, ""  # information only: repetition alone never raises it
        since = at - timedelta(days=rule.within_days)
        counted = [
            c.at
            for c in known.earlier_contacts
            if since <= c.at <= at and (c.concern_level >= 2 or rule.count_information_only)
        ]
        count = len(counted) + 1
        found = incidents([*counted, at], rule.same_incident_hours)
        text = rule.description.format(
            count=count, ordinal=_ordinal(count), incidents=found, days=rule.within_days
        )
        return found >= rule.min_incidents, text
    if rule.kind == "open_case":
        return known.open_case, rule.description
    ended = [p.ended for p in known.plans if p.ended is not None and p.ended < at]
    return bool(ended), rule.description


def screen(indicators: Sequence[str], known: Known, received_at: datetime, ruleset: Ruleset) -> Screening:
    concern, reasons, unknown = _concern(indicators, ruleset)
    level = concern
    overridden = level == 4 and any(r.kind is ReasonKind.OVERRIDE for r in reasons)
    for rule in ruleset.history:
        fires, text = _history_fires(rule, known, received_at, concern)
        if not fires:
            continue
        raised = min(rule.max_level, level + rule.raise_by) if rule.raise_by else level
        if rule.min_level is not None:
            raised = max(raised, rule.min_level)
        raised = max(raised, level)  # a history rule never lowers a level
        if raised > level:
            text = f"Raised from {level} to {raised}: {text}"
        elif not overridden:
            text = f"{text} (noted: the level stays {level})"
        reasons.append(Reason(kind=ReasonKind.HISTORY, rule=rule.id, text=text, level=raised))
        level = raised
    rag = ruleset.rag[level]
    if unknown and _URGENCY[ruleset.unknown_indicator_rag] < _URGENCY[rag]:
        rag = ruleset.unknown_indicator_rag
    return Screening(
        level=level,
        rag=rag,
        reasons=tuple(reasons),
        ruleset_version=ruleset.version,
        concern_level=concern,
        unknown_codes=tuple(unknown),
    )
