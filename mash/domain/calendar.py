"""When is a contact's screening due? A working-time calendar for MASH triage.

Every contact gets a RAG rating, and each rating has a screening target:

* **Red**: 4 hours of *clock* time. Red contacts are worked out of hours
  too, so the due time is simply the time received plus 4 real hours. A
  clock change in between does not make it an hour longer or shorter.
* **Amber**: 1 *working day*; **Green**: 3 working days.
* **Blue**: no target, so there is no due time.

A working day is, by default, Monday to Friday 09:00 to 17:00 on the office
clock in London, skipping England and Wales bank holidays. The bank holidays
come from the maintained ``holidays`` library (including "substitute days",
such as Monday 28 December 2026 standing in for Boxing Day on a Saturday),
not from a list someone has to remember to update.

"One working day" means the working hours in one working day (8 hours by
default), counted only while the office is open:

* Received Tuesday 10:30, due Wednesday 10:30.
* Received Friday 15:00, due Monday 15:00.
* Received Thursday 14:00 before Easter, due Tuesday 14:00 (Good Friday and
  Easter Monday are skipped).
* Received out of hours (an evening, a weekend, a bank holiday, or exactly
  at 17:00), the clock starts at the next working day's 09:00, so a contact
  received Saturday 11:00 is due Monday 17:00.

Working hours are read off the local (London) clock, so 09:00 stays 09:00
across the change between GMT and BST. Times passed in may use any UTC
offset. Due times come back in UTC. Convert them to local time for display.
In the UK the clocks change in the early hours of a Sunday, never during
working hours, so a working day is always 8 real hours long.

Everything the targets and calendar use can be changed: pass your own
``WorkingCalendar`` or targets mapping. This module is pure. It does no I/O
and never reads the system clock; callers pass in ``now`` where they need it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "DEFAULT_CALENDAR",
    "DEFAULT_TARGETS",
    "RagTarget",
    "TargetKind",
    "WorkingCalendar",
    "add_working_time",
    "due_at",
    "is_working_time",
    "next_working_day",
    "working_seconds_between",
]

TargetKind = Literal["clock_hours", "working_days", "none"]
_TARGET_KINDS: frozenset[str] = frozenset(get_args(TargetKind))

# A real calendar has a working day within a fortnight. If three years pass
# without one, the configuration has closed every day (for example, with
# extra_closed_days), so stop with an error and don't loop forever.
_MAX_DAYS_TO_NEXT_WORKING_DAY = 3 * 366


@lru_cache(maxsize=256)
def _public_holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    # Building a `holidays` object works out every rule for the year and loads
    # the library's translation files, which is far too slow for each lookup.
    # The cache key holds no calendar, so calendars with the same country
    # share entries.
    table = holidays.country_holidays(country, subdiv=subdiv, years=year)
    return frozenset(table.keys())


@dataclass(frozen=True)
class RagTarget:
    """How long screening may take for one RAG rating.

    ``kind`` is ``"clock_hours"`` (real elapsed hours, worked out of hours),
    ``"working_days"`` (working days on the calendar, which may be fractional),
    or ``"none"`` (no target). ``amount`` is ignored for ``"none"``.
    """

    kind: TargetKind
    amount: float = 0.0

    def __post_init__(self) -> None:
        # Targets usually come from configuration, where Literal types are not
        # checked, so catch typos here and not at triage time.
        if self.kind not in _TARGET_KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}; expected one of {sorted(_TARGET_KINDS)}")
        if not math.isfinite(self.amount) or self.amount < 0:
            raise ValueError(f"target amount must be finite and >= 0, got {self.amount!r}")


@dataclass(frozen=True)
class WorkingCalendar:
    """When the MASH office is open.

    ``day_start`` and ``day_end`` are local wall-clock times in ``timezone``,
    and the working window is ``[day_start, day_end)``. Windows that cross
    midnight (night shifts) are not supported. ``working_weekdays`` uses
    Python's numbering (Monday = 0). Bank holidays come from
    ``holidays.country_holidays(holiday_country, subdiv=holiday_subdiv)``.
    GB with ENG gives England and Wales bank holidays. ``extra_closed_days``
    adds local closures, such as a council closure day.
    """

    timezone: str = "Europe/London"
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    working_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holiday_country: str = "GB"
    holiday_subdiv: str | None = "ENG"
    extra_closed_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        # Check everything now. A bad calendar would otherwise only fail (or
        # loop) the first time a contact is triaged against it.
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end are local wall-clock times; drop the tzinfo")
        if not self.day_start < self.day_end:
            raise ValueError(f"day_start {self.day_start} must be before day_end {self.day_end}")
        weekdays = self.working_weekdays
        if not weekdays or not weekdays <= frozenset(range(7)):
            raise ValueError(f"working_weekdays must be a non-empty subset of 0..6, got {sorted(weekdays)}")
        try:
            _public_holidays(self.holiday_country, self.holiday_subdiv, 2000)
        except NotImplementedError as exc:  # how `holidays` reports unknown codes
            raise ValueError(
                f"no bank holidays for country {self.holiday_country!r} "
                f"subdivision {self.holiday_subdiv!r}: {exc}"
            ) from exc

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone (ZoneInfo caches instances by key)."""
        return ZoneInfo(self.timezone)

    @property
    def working_day_seconds(self) -> float:
        """Length of one working day in working seconds (28,800 by default)."""
        return _wall_seconds(self.day_start, self.day_end)

    def is_working_day(self, d: date) -> bool:
        """True if ``d`` is a working weekday and not a bank holiday or closure."""
        return (
            d.weekday() in self.working_weekdays
            and d not in self.extra_closed_days
            and d not in _public_holidays(self.holiday_country, self.holiday_subdiv, d.year)
        )


DEFAULT_CALENDAR = WorkingCalendar()

# Read-only, so a caller cannot change the service-wide targets by accident.
DEFAULT_TARGETS: Mapping[str, RagTarget] = MappingProxyType(
    {
        "red": RagTarget("clock_hours", 4),
        "amber": RagTarget("working_days", 1),
        "green": RagTarget("working_days", 3),
        "blue": RagTarget("none"),
    }
)


def _wall_seconds(start: time, end: time) -> float:
    anchor = date(2000, 1, 1)
    return (datetime.combine(anchor, end) - datetime.combine(anchor, start)).total_seconds()


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime could be UTC or local, and guessing wrong moves a
    # child's due time by an hour for half the year.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def _to_local_wall(at: datetime, calendar: WorkingCalendar) -> datetime:
    """The naive local wall-clock reading of instant ``at`` in the calendar's zone."""
    return at.astimezone(calendar.zone).replace(tzinfo=None)


def _from_local_wall(wall: datetime, calendar: WorkingCalendar) -> datetime:
    # Results always fall inside working hours or at their edges. With the
    # UK's 01:00/02:00 clock changes those wall times exist exactly once, so
    # the fold default cannot pick the wrong instant.
    return wall.replace(tzinfo=calendar.zone).astimezone(UTC)


# Every contact's due time steps through the next few working days, the same few for a
# whole week of contacts.
@lru_cache(maxsize=4096)
def next_working_day(d: date, calendar: WorkingCalendar) -> date:
    """The first working day strictly after ``d``."""
    candidate = d
    for _ in range(_MAX_DAYS_TO_NEXT_WORKING_DAY):
        candidate += timedelta(days=1)
        if calendar.is_working_day(candidate):
            return candidate
    raise ValueError(f"no working day within {_MAX_DAYS_TO_NEXT_WORKING_DAY} days after {d}")


def _clock_start(wall: datetime, calendar: WorkingCalendar) -> datetime:
    """Where the working clock starts for something arriving at local time ``wall``."""
    day = wall.date()
    if calendar.is_working_day(day):
        if wall.time() < calendar.day_start:
            return datetime.combine(day, calendar.day_start)
        if wall.time() < calendar.day_end:
            return wall
    return datetime.combine(next_working_day(day, calendar), calendar.day_start)


def is_working_time(at: datetime, calendar: WorkingCalendar) -> bool:
    """True if instant ``at`` is within working hours (``day_end`` itself is not)."""
    _require_aware(at, "at")
    wall = _to_local_wall(at, calendar)
    return calendar.is_working_day(wall.date()) and calendar.day_start <= wall.time() < calendar.day_end


def add_working_time(start: datetime, seconds: float, calendar: WorkingCalendar) -> datetime:
    """The UTC instant after ``seconds`` of working time have passed from ``start``.

    If ``start`` is out of hours, counting begins at the next working-day
    start. A result that uses up a day exactly lands on that day's
    ``day_end``, not on the next morning, so "one working day from Saturday"
    is Monday 17:00.
    """
    _require_aware(start, "start")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")

    cursor = _clock_start(_to_local_wall(start, calendar), calendar)
    remaining = timedelta(seconds=seconds)
    while True:
        available = datetime.combine(cursor.date(), calendar.day_end) - cursor
        if remaining <= available:
            return _from_local_wall(cursor + remaining, calendar)
        remaining -= available
        cursor = datetime.combine(next_working_day(cursor.date(), calendar), calendar.day_start)


def working_seconds_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> float:
    """Working seconds in ``[start, end)``, or 0.0 if ``end`` is not after ``start``.

    This gives a console "time left" in working time:
    ``working_seconds_between(now, due, calendar)``.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        return 0.0

    wall_start = _to_local_wall(start, calendar)
    wall_end = _to_local_wall(end, calendar)
    total = timedelta()
    day = wall_start.date()
    while day <= wall_end.date():
        if calendar.is_working_day(day):
            window_start = max(wall_start, datetime.combine(day, calendar.day_start))
            window_end = min(wall_end, datetime.combine(day, calendar.day_end))
            if window_end > window_start:
                total += window_end - window_start
        day += timedelta(days=1)
    # Adding timedeltas keeps whole microseconds, so converting to float once
    # at the end avoids building up rounding error over long spans.
    return total.total_seconds()


def due_at(
    received_at: datetime,
    rag: str,
    calendar: WorkingCalendar = DEFAULT_CALENDAR,
    targets: Mapping[str, RagTarget] = DEFAULT_TARGETS,
) -> datetime | None:
    """When screening of a contact received at ``received_at`` with RAG ``rag`` is due.

    Returns an aware UTC datetime, or ``None`` when the rating has no target
    (blue by default). ``rag`` is the rating's value (``"red"``, ``"amber"``,
    and so on). A ``StrEnum`` member works as well. An unknown rating raises
    ``ValueError`` and does not quietly get no deadline.
    """
    _require_aware(received_at, "received_at")
    try:
        target = targets[rag]
    except KeyError:
        known = sorted(targets)
        raise ValueError(f"no screening target for RAG {rag!r}; known: {known}") from None

    if target.kind == "none":
        return None
    if target.kind == "clock_hours":
        # Add in UTC. Adding to a London-zoned datetime would add wall-clock
        # time and gain or lose an hour across a clock change.
        return received_at.astimezone(UTC) + timedelta(hours=target.amount)
    return add_working_time(received_at, target.amount * calendar.working_day_seconds, calendar)
