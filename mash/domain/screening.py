"""Screening: the level of need for one contact, from the ruleset and the child's history.

The order is the threshold document's: the indicators give a level, combinations of
factors can raise it, what we know of the child can raise it further, and a hard
override puts the child at level 4 whatever else is true. Every step that changes or
supports the level leaves a reason, so a coordinator can see why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mash.domain.case import Reason, ReasonKind
from mash.domain.ruleset import HistoryRule, Rag, Ruleset


@dataclass(frozen=True)
class Known:
    """What the service knew of the child just before this contact, by event time."""

    earlier_contacts: tuple[datetime, ...] = ()
    open_case: bool = False
    plans_started: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Screening:
    level: int
    rag: Rag
    reasons: tuple[Reason, ...]
    ruleset_version: str


def _history_fires(rule: HistoryRule, known: Known, received_at: datetime) -> tuple[bool, str]:
    if rule.kind == "repeat_contacts":
        assert rule.within_days is not None
        assert rule.min_contacts is not None
        since = received_at - timedelta(days=rule.within_days)
        count = sum(1 for at in known.earlier_contacts if since <= at <= received_at) + 1
        text = rule.description.format(count=count, days=rule.within_days)
        return count >= rule.min_contacts, text
    if rule.kind == "open_case":
        return known.open_case, rule.description
    return any(started < received_at for started in known.plans_started), rule.description


def screen(indicators: Sequence[str], known: Known, received_at: datetime, ruleset: Ruleset) -> Screening:
    catalogue = ruleset.catalogue
    found = [catalogue[code] for code in dict.fromkeys(indicators) if code in catalogue]
    unknown = [code for code in dict.fromkeys(indicators) if code not in catalogue]
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
                text=f"Indicator '{code}' is not in ruleset {ruleset.version}; a coordinator must review it",
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

    for rule in ruleset.history:
        fires, text = _history_fires(rule, known, received_at)
        if not fires:
            continue
        raised = min(4, level + rule.raise_by)
        if rule.min_level is not None:
            raised = max(raised, rule.min_level)
        reasons.append(Reason(kind=ReasonKind.HISTORY, rule=rule.id, text=text, level=raised))
        level = raised

    if any(i.override for i in found):
        level = 4

    return Screening(
        level=level, rag=ruleset.rag[level], reasons=tuple(reasons), ruleset_version=ruleset.version
    )
