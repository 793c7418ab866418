"""Re-referrals and the statutory year: the date arithmetic of the definitions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/London")


def local_date(at: datetime) -> date:
    """The calendar date in England: a contact at 23:30 UTC in summer is the next day locally."""
    return at.astimezone(LOCAL).date()


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
