"""When the integrated mid-day meeting meets: its id (`imm-YYYY-MM-DD`), and the cut-off at which
its agenda is frozen (11:30 Europe/London by default, working days only: no meeting on a weekend
or bank holiday)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar

DEFAULT_CUTOFF = time(11, 30)
DEFAULT_MEETING_TIME = time(12, 0)
CRON_WEEKDAYS = "1-5"  # the scheduler wakes Monday to Friday; the calendar skips bank holidays
_MAX_DAYS_BACK = 3 * 366


def meeting_id(day: date) -> str:
    return f"imm-{day.isoformat()}"


def meeting_day(meeting: str) -> date:
    """The date of a meeting from its id (`imm-2026-11-24` -> 2026-11-24)."""
    if not meeting.startswith("imm-"):
        raise ValueError(f"not a meeting id: {meeting!r}")
    return date.fromisoformat(meeting[4:])


def cron_spec(cutoff: time = DEFAULT_CUTOFF) -> str:
    """The crontab line that wakes the freezer at the cut-off on weekdays (in the calendar's zone)."""
    return f"{cutoff.minute} {cutoff.hour} * * {CRON_WEEKDAYS}"


def meeting_cutoff(
    day: date, calendar: WorkingCalendar = DEFAULT_CALENDAR, cutoff: time = DEFAULT_CUTOFF
) -> datetime | None:
    """The cut-off instant (UTC) of the meeting on `day`, or None: no meeting on a non-working day."""
    if not calendar.is_working_day(day):
        return None
    return datetime.combine(day, cutoff, tzinfo=calendar.zone).astimezone(UTC)


def previous_working_day(day: date, calendar: WorkingCalendar = DEFAULT_CALENDAR) -> date:
    """The last working day strictly before `day`."""
    candidate = day
    for _ in range(_MAX_DAYS_BACK):
        candidate -= timedelta(days=1)
        if calendar.is_working_day(candidate):
            return candidate
    raise ValueError(f"no working day within {_MAX_DAYS_BACK} days before {day}")


def meeting_cutoffs(
    day: date, calendar: WorkingCalendar = DEFAULT_CALENDAR, cutoff: time = DEFAULT_CUTOFF
) -> tuple[datetime, datetime] | None:
    """(the previous meeting's cut-off, this meeting's cut-off) by the calendar, or None when
    `day` has no meeting (a weekend or bank holiday: no meeting, no freeze)."""
    this = meeting_cutoff(day, calendar, cutoff)
    if this is None:
        return None
    previous = meeting_cutoff(previous_working_day(day, calendar), calendar, cutoff)
    assert previous is not None
    return previous, this
