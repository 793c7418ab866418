"""`mash report --year`: the statutory year, 1 April to 31 March, as councils report it."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from mash.cli.main import main
from mash.domain.referrals import statutory_year


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[date, date]]:
    """`mash report`'s periods, instead of reading Kafka; run in an empty folder with a secret."""
    for key in list(os.environ):
        if key.upper().startswith("MASH_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MASH_CHILD_KEY_SECRET", "a-secret")
    monkeypatch.chdir(tmp_path)
    periods: list[tuple[date, date]] = []

    async def compute_report(settings: Any, start: date, end: date) -> dict[str, Any]:
        periods.append((start, end))
        return {"from": start.isoformat(), "to": end.isoformat()}

    monkeypatch.setattr("mash.cli.report.compute_report", compute_report)
    return periods


def report(*args: str) -> Result:
    return CliRunner().invoke(main, ["report", *args])


def test_the_statutory_year_2025_runs_from_1_april_2025_to_31_march_2026() -> None:
    assert statutory_year(2025) == (date(2025, 4, 1), date(2026, 3, 31))


@given(st.integers(min_value=1990, max_value=2100))
def test_statutory_years_follow_one_another_with_no_gap_or_overlap(year: int) -> None:
    start, end = statutory_year(year)
    assert end + timedelta(days=1) == statutory_year(year + 1)[0]
    assert (end - start).days + 1 in (365, 366)


def test_report_year_reports_the_statutory_year(reported: list[tuple[date, date]]) -> None:
    result = report("--year", "2025")
    assert result.exit_code == 0, result.output
    assert reported == [(date(2025, 4, 1), date(2026, 3, 31))]


def test_report_from_to_still_reports_any_period(reported: list[tuple[date, date]]) -> None:
    result = report("--from", "2025-04-01", "--to", "2025-06-30")
    assert result.exit_code == 0, result.output
    assert reported == [(date(2025, 4, 1), date(2025, 6, 30))]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--year", "2025", "--from", "2025-04-01"], "give --year, or --from and --to, not both"),
        (["--year", "2025", "--to", "2026-03-31"], "give --year, or --from and --to, not both"),
        ([], "give --year YEAR (1 April YEAR to 31 March the year after), or --from and --to"),
        (["--from", "2025-04-01"], "or --from and --to"),
        (["--to", "2025-04-01"], "or --from and --to"),
        (["--from", "2025-04-02", "--to", "2025-04-01"], "--to is before --from"),
    ],
)
def test_report_needs_a_year_or_a_whole_period_and_says_so(
    reported: list[tuple[date, date]], args: list[str], says: str
) -> None:
    result = report(*args)
    assert result.exit_code == 2
    assert says in result.output
    assert reported == []
