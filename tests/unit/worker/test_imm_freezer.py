"""The IMM freezer: the worker's scheduled jobs that freeze each meeting's agenda."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from mash.config import Settings
from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from mash.domain.imm import (
    meeting_id,
)
from mash.worker.imm_agent import FreezeResult, install_imm
from tests.support.imm_world import (
    BANK_HOLIDAY,
    FRI,
    LONDON,
    london,
)

# --- the scheduled freezer ------------------------------------------------------------------------------


class FakeApp:
    def __init__(self) -> None:
        self.crontabs: list[tuple[str, Any, bool]] = []

    def crontab(self, spec: str, *, timezone: Any = None, on_leader: bool = False) -> Callable[[Any], Any]:
        self.crontabs.append((spec, timezone, on_leader))
        return lambda fun: fun


class FakeFreeze:
    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[date, datetime]] = []
        self.fail = fail

    def __call__(
        self, settings: Settings, day: date, *, now: datetime, by: str, **_: Any
    ) -> Awaitable[FreezeResult]:
        async def run() -> FreezeResult:
            self.calls.append((day, now))
            if self.fail:
                self.fail -= 1
                raise ConnectionError("broker away")
            return FreezeResult(meeting_id(day), None, published=True)

        return run()


SETTINGS = Settings(mode="development")


def _jobs(
    at: datetime, freeze: FakeFreeze, calendar: WorkingCalendar = DEFAULT_CALENDAR
) -> tuple[FakeApp, Any]:
    app = FakeApp()
    jobs = install_imm(app, SETTINGS, calendar=calendar, now=lambda: at, freeze=freeze, retry_wait_s=0)  # type: ignore[arg-type]
    return app, jobs


def test_the_freezer_runs_at_the_cut_off_on_weekdays_in_london_on_the_leader_only() -> None:
    app, _ = _jobs(london(FRI, 11, 30), FakeFreeze())
    assert app.crontabs[0] == ("30 11 * * 1-5", LONDON, True)
    assert app.crontabs[1] == ("*/10 * * * 1-5", LONDON, True)


def test_the_freezer_freezes_on_a_working_day_and_not_on_a_bank_holiday() -> None:
    freeze = FakeFreeze()
    _, jobs = _jobs(london(FRI, 11, 30), freeze)
    assert asyncio.run(jobs.at_cutoff()) is not None
    assert freeze.calls == [(FRI, london(FRI, 11, 30))]
    holiday = FakeFreeze()
    _, jobs = _jobs(london(BANK_HOLIDAY, 11, 30), holiday)
    assert asyncio.run(jobs.at_cutoff()) is None
    assert holiday.calls == []


def test_the_catch_up_freezes_only_between_the_cut_off_and_the_end_of_the_working_day() -> None:
    for at, runs in ((london(FRI, 11, 20), False), (london(FRI, 11, 40), True), (london(FRI, 17, 10), False)):
        freeze = FakeFreeze()
        _, jobs = _jobs(at, freeze)
        asyncio.run(jobs.catch_up())
        assert bool(freeze.calls) is runs, at


def test_the_freezer_retries_when_the_broker_is_away() -> None:
    freeze = FakeFreeze(fail=2)
    _, jobs = _jobs(london(FRI, 11, 30), freeze)
    result = asyncio.run(jobs.at_cutoff())
    assert result is not None
    assert len(freeze.calls) == 3
