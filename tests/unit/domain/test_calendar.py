"""Rules for when a contact's screening is due, as the MASH working calendar sees them.

Dates are in 2026 unless stated. Useful landmarks:
Good Friday 3 Apr and Easter Monday 6 Apr; Christmas Day Fri 25 Dec and
Boxing Day substitute Mon 28 Dec; BST starts Sun 29 Mar 01:00 UTC and ends
Sun 25 Oct 01:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mash.domain.calendar import (
    DEFAULT_CALENDAR,
    DEFAULT_TARGETS,
    RagTarget,
    WorkingCalendar,
    add_working_time,
    due_at,
    is_working_time,
    next_working_day,
    working_seconds_between,
)

LONDON = ZoneInfo("Europe/London")
HOUR = 3600.0
WORKING_DAY = 8 * HOUR


def london(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LONDON)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


# --- Amber: one working day -------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        pytest.param(
            london(2026, 1, 13, 10, 30),
            london(2026, 1, 14, 10, 30),
            id="tue-10:30-due-wed-10:30",
        ),
        pytest.param(
            london(2026, 1, 16, 15, 0),
            london(2026, 1, 19, 15, 0),
            id="fri-15:00-due-mon-15:00",
        ),
        pytest.param(
            london(2026, 1, 13, 9, 0),
            london(2026, 1, 13, 17, 0),
            id="tue-09:00-uses-whole-day-due-tue-17:00",
        ),
        pytest.param(
            london(2026, 1, 13, 16, 59),
            london(2026, 1, 14, 16, 59),
            id="tue-16:59-still-in-hours",
        ),
    ],
)
def test_amber_is_due_one_working_day_after_receipt(received: datetime, due: datetime) -> None:
    assert due_at(received, "amber") == due


@pytest.mark.parametrize(
    ("received", "due"),
    [
        pytest.param(
            london(2026, 1, 17, 11, 0),
            london(2026, 1, 19, 17, 0),
            id="saturday-starts-monday-09:00",
        ),
        pytest.param(
            london(2026, 1, 18, 23, 59),
            london(2026, 1, 19, 17, 0),
            id="sunday-night-starts-monday-09:00",
        ),
        pytest.param(
            london(2026, 1, 13, 17, 0),
            london(2026, 1, 14, 17, 0),
            id="exactly-17:00-is-out-of-hours",
        ),
        pytest.param(
            london(2026, 1, 13, 20, 0),
            london(2026, 1, 14, 17, 0),
            id="weekday-evening-starts-next-morning",
        ),
        pytest.param(
            london(2026, 1, 13, 7, 45),
            london(2026, 1, 13, 17, 0),
            id="early-morning-starts-same-day-09:00",
        ),
        pytest.param(
            london(2026, 1, 16, 17, 30),
            london(2026, 1, 19, 17, 0),
            id="friday-evening-starts-monday-09:00",
        ),
    ],
)
def test_out_of_hours_contact_starts_its_clock_at_next_working_day_start(
    received: datetime, due: datetime
) -> None:
    assert due_at(received, "amber") == due


# --- Green: three working days ----------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        pytest.param(
            london(2026, 1, 12, 10, 0),
            london(2026, 1, 15, 10, 0),
            id="mon-due-thu",
        ),
        pytest.param(
            london(2026, 1, 14, 11, 0),
            london(2026, 1, 19, 11, 0),
            id="wed-skips-weekend-due-mon",
        ),
        pytest.param(
            london(2026, 1, 17, 11, 0),
            london(2026, 1, 21, 17, 0),
            id="saturday-due-end-of-wed",
        ),
    ],
)
def test_green_is_due_three_working_days_after_receipt(received: datetime, due: datetime) -> None:
    assert due_at(received, "green") == due


# --- Red and blue -------------------------------------------------------------


@pytest.mark.parametrize(
    "received",
    [
        pytest.param(london(2026, 1, 13, 16, 0), id="weekday-afternoon"),
        pytest.param(london(2026, 1, 17, 22, 0), id="saturday-night"),
        pytest.param(london(2026, 4, 3, 12, 0), id="good-friday"),
        pytest.param(london(2026, 12, 25, 3, 0), id="christmas-day-small-hours"),
    ],
)
def test_red_is_due_four_clock_hours_later_even_out_of_hours(
    received: datetime,
) -> None:
    assert due_at(received, "red") == received + timedelta(hours=4)


@pytest.mark.parametrize(
    "received",
    [
        pytest.param(london(2026, 1, 13, 10, 0), id="working-hours"),
        pytest.param(london(2026, 1, 17, 10, 0), id="weekend"),
        pytest.param(london(2026, 12, 25, 10, 0), id="bank-holiday"),
    ],
)
def test_blue_has_no_due_time(received: datetime) -> None:
    assert due_at(received, "blue") is None


# --- Bank holidays ------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "rag", "due"),
    [
        pytest.param(
            london(2026, 4, 2, 14, 0),
            "amber",
            london(2026, 4, 7, 14, 0),
            id="thursday-before-easter-amber-skips-good-friday-and-easter-monday",
        ),
        pytest.param(
            london(2026, 4, 2, 10, 0),
            "green",
            london(2026, 4, 9, 10, 0),
            id="thursday-before-easter-green-due-the-following-thursday",
        ),
        pytest.param(
            london(2026, 4, 3, 10, 0),
            "amber",
            london(2026, 4, 7, 17, 0),
            id="good-friday-is-out-of-hours-clock-starts-tuesday",
        ),
        pytest.param(
            london(2026, 4, 6, 16, 0),
            "amber",
            london(2026, 4, 7, 17, 0),
            id="easter-monday-is-out-of-hours-clock-starts-tuesday",
        ),
        pytest.param(
            london(2026, 12, 24, 15, 0),
            "amber",
            london(2026, 12, 29, 15, 0),
            id="christmas-eve-skips-christmas-weekend-and-boxing-day-substitute",
        ),
        pytest.param(
            london(2026, 12, 28, 11, 0),
            "amber",
            london(2026, 12, 29, 17, 0),
            id="boxing-day-substitute-monday-is-out-of-hours",
        ),
        pytest.param(
            london(2026, 5, 1, 12, 0),
            "amber",
            london(2026, 5, 5, 12, 0),
            id="friday-before-early-may-bank-holiday",
        ),
    ],
)
def test_bank_holidays_are_not_working_days(received: datetime, rag: str, due: datetime) -> None:
    assert due_at(received, rag) == due


@pytest.mark.parametrize(
    ("day", "working"),
    [
        pytest.param(date(2026, 1, 13), True, id="ordinary-tuesday"),
        pytest.param(date(2026, 1, 17), False, id="saturday"),
        pytest.param(date(2026, 1, 18), False, id="sunday"),
        pytest.param(date(2026, 1, 1), False, id="new-years-day"),
        pytest.param(date(2026, 1, 2), True, id="2-january-is-scottish-only"),
        pytest.param(date(2026, 4, 3), False, id="good-friday"),
        pytest.param(date(2026, 4, 6), False, id="easter-monday"),
        pytest.param(date(2026, 8, 3), True, id="scottish-summer-holiday-not-ours"),
        pytest.param(date(2026, 8, 31), False, id="late-summer-bank-holiday"),
        pytest.param(date(2026, 12, 25), False, id="christmas-day"),
        pytest.param(date(2026, 12, 28), False, id="boxing-day-substitute-monday"),
        pytest.param(date(2026, 12, 29), True, id="tuesday-after-christmas"),
    ],
)
def test_default_calendar_uses_england_and_wales_bank_holidays(day: date, working: bool) -> None:
    assert DEFAULT_CALENDAR.is_working_day(day) is working


def test_other_uk_nations_can_use_their_own_bank_holidays() -> None:
    scotland = WorkingCalendar(holiday_subdiv="SCT")
    assert not scotland.is_working_day(date(2026, 1, 2))
    assert scotland.is_working_day(date(2026, 4, 6))  # no Easter Monday there


def test_extra_closed_days_are_skipped_like_bank_holidays() -> None:
    closure = WorkingCalendar(extra_closed_days=frozenset({date(2026, 1, 14)}))
    assert not closure.is_working_day(date(2026, 1, 14))
    assert due_at(london(2026, 1, 13, 10, 30), "amber", closure) == london(2026, 1, 15, 10, 30)


@pytest.mark.parametrize(
    ("day", "following"),
    [
        pytest.param(date(2026, 1, 13), date(2026, 1, 14), id="strictly-after"),
        pytest.param(date(2026, 1, 16), date(2026, 1, 19), id="friday-to-monday"),
        pytest.param(date(2026, 1, 17), date(2026, 1, 19), id="saturday-to-monday"),
        pytest.param(date(2026, 4, 2), date(2026, 4, 7), id="over-easter"),
        pytest.param(date(2026, 12, 24), date(2026, 12, 29), id="over-christmas"),
        pytest.param(date(2026, 12, 31), date(2027, 1, 4), id="over-new-year"),
    ],
)
def test_next_working_day_is_first_working_day_strictly_after(day: date, following: date) -> None:
    assert next_working_day(day, DEFAULT_CALENDAR) == following


# --- Clock changes ------------------------------------------------------------


def test_red_over_spring_clock_change_is_four_real_hours() -> None:
    received = london(2026, 3, 28, 23, 30)  # Saturday, GMT: 23:30 UTC
    due = due_at(received, "red")
    assert due == utc(2026, 3, 29, 3, 30)
    assert due is not None
    assert (due - received).total_seconds() == 4 * HOUR
    # Only three hours pass on the wall clock because it jumps forward.
    assert due.astimezone(LONDON).replace(tzinfo=None) == datetime(2026, 3, 29, 4, 30)


def test_red_over_autumn_clock_change_is_four_real_hours() -> None:
    received = london(2026, 10, 24, 23, 30)  # Saturday, BST: 22:30 UTC
    assert due_at(received, "red") == utc(2026, 10, 25, 2, 30)


def test_green_over_autumn_clock_change_keeps_local_working_hours() -> None:
    received = london(2026, 10, 23, 16, 0)  # Friday 16:00 BST = 15:00 UTC
    # One hour on Friday, eight on Monday and on Tuesday, seven on Wednesday.
    assert due_at(received, "green") == utc(2026, 10, 28, 16, 0)


@pytest.mark.parametrize(
    ("at", "working"),
    [
        pytest.param(utc(2026, 10, 19, 8, 0), True, id="monday-before-08:00utc-is-09:00bst"),
        pytest.param(utc(2026, 10, 19, 16, 0), False, id="monday-before-16:00utc-is-17:00bst"),
        pytest.param(utc(2026, 10, 26, 8, 0), False, id="monday-after-08:00utc-is-08:00gmt"),
        pytest.param(utc(2026, 10, 26, 9, 0), True, id="monday-after-09:00utc-is-09:00gmt"),
        pytest.param(utc(2026, 10, 26, 16, 30), True, id="monday-after-16:30utc-is-16:30gmt"),
    ],
)
def test_working_hours_follow_the_london_wall_clock_across_autumn_change(at: datetime, working: bool) -> None:
    assert is_working_time(at, DEFAULT_CALENDAR) is working


def test_amber_friday_before_autumn_change_is_due_monday_local_time() -> None:
    received = london(2026, 10, 23, 15, 0)  # 14:00 UTC
    assert due_at(received, "amber") == utc(2026, 10, 26, 15, 0)


def test_green_friday_before_spring_change_is_due_wednesday_local_time() -> None:
    received = london(2026, 3, 27, 16, 0)  # GMT, 16:00 UTC
    assert due_at(received, "green") == utc(2026, 4, 1, 15, 0)  # 16:00 BST


# --- Offsets and output form --------------------------------------------------


@pytest.mark.parametrize("rag", ["red", "amber", "green"])
@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(UTC, id="utc"),
        pytest.param(LONDON, id="europe-london"),
        pytest.param(timezone(timedelta(hours=5, minutes=30)), id="plus-05:30"),
        pytest.param(timezone(timedelta(hours=-8)), id="minus-08:00"),
    ],
)
def test_input_offset_does_not_change_the_due_instant(rag: str, offset: timezone | ZoneInfo) -> None:
    instant = utc(2026, 6, 9, 15, 45)  # Tuesday 16:45 BST
    expected = due_at(instant, rag)
    assert due_at(instant.astimezone(offset), rag) == expected


@pytest.mark.parametrize("rag", ["red", "amber", "green"])
def test_due_times_are_returned_in_utc(rag: str) -> None:
    due = due_at(london(2026, 6, 9, 10, 0), rag)
    assert due is not None
    assert due.tzinfo is UTC


def test_naive_datetimes_are_rejected_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 1, 13, 10, 0), "amber")
    with pytest.raises(ValueError, match="timezone-aware"):
        is_working_time(datetime(2026, 1, 13, 10, 0), DEFAULT_CALENDAR)


# --- Configuration ------------------------------------------------------------


def test_unknown_rag_raises_instead_of_giving_no_deadline() -> None:
    with pytest.raises(ValueError, match="purple"):
        due_at(london(2026, 1, 13, 10, 0), "purple")


def test_a_str_enum_rag_is_accepted() -> None:
    class Rag(StrEnum):
        AMBER = "amber"

    received = london(2026, 1, 13, 10, 30)
    assert due_at(received, Rag.AMBER) == due_at(received, "amber")


def test_targets_are_configurable() -> None:
    targets = {
        **DEFAULT_TARGETS,
        "red": RagTarget("clock_hours", 2),
        "amber": RagTarget("working_days", 0.5),
        "blue": RagTarget("working_days", 10),
    }
    received = london(2026, 1, 13, 15, 0)
    assert due_at(received, "red", targets=targets) == london(2026, 1, 13, 17, 0)
    assert due_at(received, "amber", targets=targets) == london(2026, 1, 14, 11, 0)
    assert due_at(received, "blue", targets=targets) == london(2026, 1, 27, 15, 0)


def test_working_day_length_follows_configured_hours() -> None:
    short_days = WorkingCalendar(day_start=time(10, 0), day_end=time(14, 0))
    assert short_days.working_day_seconds == 4 * HOUR
    received = london(2026, 1, 13, 13, 0)
    assert due_at(received, "amber", short_days) == london(2026, 1, 14, 13, 0)


def test_working_weekdays_are_configurable() -> None:
    with_saturday = WorkingCalendar(working_weekdays=frozenset({0, 1, 2, 3, 4, 5}))
    received = london(2026, 1, 16, 15, 0)  # Friday
    assert due_at(received, "amber", with_saturday) == london(2026, 1, 17, 15, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"timezone": "Europe/Nowhere"}, id="unknown-timezone"),
        pytest.param({"day_start": time(17), "day_end": time(9)}, id="overnight"),
        pytest.param({"day_start": time(9), "day_end": time(9)}, id="empty-day"),
        pytest.param({"working_weekdays": frozenset()}, id="no-weekdays"),
        pytest.param({"working_weekdays": frozenset({7})}, id="weekday-out-of-range"),
        pytest.param({"holiday_country": "XX"}, id="unknown-country"),
        pytest.param({"holiday_subdiv": "XXX"}, id="unknown-subdivision"),
    ],
)
def test_bad_calendar_configuration_is_rejected_up_front(
    kwargs: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match=r"."):
        WorkingCalendar(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "amount"),
    [("hours", 1.0), ("working_days", -1.0), ("clock_hours", float("nan"))],
)
def test_bad_target_configuration_is_rejected(kind: str, amount: float) -> None:
    with pytest.raises(ValueError, match=r"."):
        RagTarget(kind, amount)  # type: ignore[arg-type]


# --- Working-time helpers -----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        pytest.param(
            london(2026, 1, 16, 16, 0),
            london(2026, 1, 19, 10, 0),
            2 * HOUR,
            id="friday-afternoon-to-monday-morning-skips-weekend",
        ),
        pytest.param(
            london(2026, 1, 17, 9, 0),
            london(2026, 1, 18, 17, 0),
            0.0,
            id="whole-weekend-is-zero",
        ),
        pytest.param(
            london(2026, 1, 12, 9, 0),
            london(2026, 1, 19, 9, 0),
            5 * WORKING_DAY,
            id="monday-to-monday-is-five-working-days",
        ),
        pytest.param(
            london(2026, 4, 2, 16, 0),
            london(2026, 4, 7, 10, 0),
            2 * HOUR,
            id="easter-weekend-is-skipped",
        ),
        pytest.param(
            london(2026, 10, 23, 16, 0),
            utc(2026, 10, 26, 10, 0),
            2 * HOUR,
            id="across-autumn-clock-change",
        ),
        pytest.param(
            london(2026, 1, 13, 10, 0),
            london(2026, 1, 13, 10, 0),
            0.0,
            id="empty-interval",
        ),
        pytest.param(
            london(2026, 1, 14, 10, 0),
            london(2026, 1, 13, 10, 0),
            0.0,
            id="end-before-start-is-zero",
        ),
    ],
)
def test_working_seconds_between_counts_only_working_hours(
    start: datetime, end: datetime, seconds: float
) -> None:
    assert working_seconds_between(start, end, DEFAULT_CALENDAR) == seconds


def test_time_left_is_working_time_until_due() -> None:
    due = due_at(london(2026, 1, 16, 15, 0), "amber")  # due Monday 15:00
    assert due is not None
    now = london(2026, 1, 17, 12, 0)  # Saturday: the clock is stopped
    assert working_seconds_between(now, due, DEFAULT_CALENDAR) == 6 * HOUR


@pytest.mark.parametrize(
    ("at", "working"),
    [
        pytest.param(london(2026, 1, 13, 9, 0), True, id="09:00-is-in"),
        pytest.param(datetime(2026, 1, 13, 8, 59, 59, tzinfo=LONDON), False, id="08:59:59-is-out"),
        pytest.param(datetime(2026, 1, 13, 16, 59, 59, tzinfo=LONDON), True, id="16:59:59-is-in"),
        pytest.param(london(2026, 1, 13, 17, 0), False, id="17:00-is-out"),
        pytest.param(london(2026, 1, 17, 12, 0), False, id="saturday-is-out"),
        pytest.param(london(2026, 4, 3, 12, 0), False, id="good-friday-is-out"),
    ],
)
def test_is_working_time_window_is_half_open(at: datetime, working: bool) -> None:
    assert is_working_time(at, DEFAULT_CALENDAR) is working


def test_adding_zero_working_time_out_of_hours_gives_next_clock_start() -> None:
    start = london(2026, 1, 17, 11, 0)
    assert add_working_time(start, 0, DEFAULT_CALENDAR) == london(2026, 1, 19, 9, 0)


# --- Property -----------------------------------------------------------------

_ZONES = st.sampled_from(
    [
        UTC,
        LONDON,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-8)),
        ZoneInfo("America/New_York"),
    ]
)


# The first lookup for each year builds that year's bank holiday table, which
# can take longer than Hypothesis's default per-example deadline.
@settings(deadline=None)
@given(
    received_at=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2028, 12, 31, 23, 59, 59),
        timezones=_ZONES,
        allow_imaginary=False,
    ),
    days=st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
)
def test_working_day_due_time_is_exactly_the_target_in_working_time(
    received_at: datetime, days: float
) -> None:
    target = RagTarget("working_days", days)
    due = due_at(received_at, "x", targets={"x": target})
    assert due is not None
    assert due >= received_at

    local = due.astimezone(LONDON)
    at_day_end = DEFAULT_CALENDAR.is_working_day(local.date()) and local.time() == DEFAULT_CALENDAR.day_end
    assert is_working_time(due, DEFAULT_CALENDAR) or at_day_end

    worked = working_seconds_between(received_at, due, DEFAULT_CALENDAR)
    assert worked == pytest.approx(days * WORKING_DAY, abs=1e-6)
