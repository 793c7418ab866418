"""Re-referrals and the statutory year: the date arithmetic of the definitions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/London")


def local_date(at: datetime) -> date:
    """The calendar date in England: a contact at 23:30 UTC in summer is the next day locally."""
    return at.astimezone(LOCAL).date()


def statutory_year(year: int) -> tuple[date, date]:
    """The reporting year councils report on, which starts on 1 April: `statutory_year(2025)`
    is 1 April 2025 to 31 March 2026, both days included."""
    return date(year, 4, 1), date(year + 1, 3, 31)


def one_year_earlier(d: date) -> date:
    """The same calendar date a year before; 29 February maps to 28 February."""
    if d.month == 2 and d.day == 29:
        return date(d.year - 1, 2, 28)
    return d.replace(year=d.year - 1)


def is_re_referral(previous_referrals: Iterable[date], referred_on: date) -> bool:
    """A referral is a re-referral if the child had a referral within the 12 months before it:
    on or after the same calendar date one year earlier."""
    since = one_year_earlier(referred_on)
    return any(since <= earlier <= referred_on for earlier in previous_referrals)
