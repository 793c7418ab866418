"""A case's screening clock as a coordinator reads it: time left, or how overdue, in working time
for amber and green, in clock time for red (worked out of hours)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar, working_seconds_between
from mash.domain.ruleset import Rag


@dataclass(frozen=True)
class Clock:
    """A case's screening clock, as a coordinator reads it."""

    overdue: bool
    text: str  # e.g. "3 h 20 m left (working time)", "overdue by 45 m", "no target"
    working: bool  # counted in working time (amber, green) rather than clock time (red)


def _span(seconds: float, day_seconds: float, day_word: str) -> str:
    seconds = abs(seconds)
    if seconds < 60:
        return "under 1 m"
    days, rest = divmod(int(seconds), int(day_seconds))
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} {day_word}{'' if days == 1 else 's'}"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} m")
    return " ".join(parts) or "under 1 m"


def clock(
    rag: Rag, due: datetime | None, now: datetime, calendar: WorkingCalendar = DEFAULT_CALENDAR
) -> Clock:
    """Time left until the case is due: clock time for red (worked out of hours), working time otherwise."""
    if due is None:
        return Clock(overdue=False, text="no target", working=False)
    overdue = due < now
    if rag is Rag.RED:
        left = (due - now).total_seconds()
        span = _span(left, 86_400, "day")
        return Clock(overdue, f"overdue by {span}" if overdue else f"{span} left", working=False)
    day = calendar.working_day_seconds
    if overdue:
        span = _span(working_seconds_between(due, now, calendar), day, "working day")
        return Clock(True, f"overdue by {span} (working time)", working=True)
    span = _span(working_seconds_between(now, due, calendar), day, "working day")
    return Clock(False, f"{span} left (working time)", working=True)
