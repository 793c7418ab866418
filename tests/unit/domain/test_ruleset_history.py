"""Every ruleset version the service has used, and which one screens a contact.

A contact is screened under the version in force on the London date it was received; a version,
once used, always means the same rules.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mash.domain.ruleset import Ruleset, RulesetError, load_ruleset, parse_ruleset
from mash.domain.ruleset_history import RulesetConflict, RulesetHistory

DEFAULT = load_ruleset()


def version(number: str, effective_from: date, **changes: object) -> Ruleset:
    return Ruleset.model_validate(
        {**DEFAULT.model_dump(), "version": number, "effective_from": effective_from, **changes}
    )


APRIL_2025 = version("2025.1", date(2025, 4, 1))
APRIL_2026 = version("2026.1", date(2026, 4, 1))


def at_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def test_a_contact_is_screened_under_the_latest_version_in_force_on_the_day_it_was_received():
    history = RulesetHistory.of(APRIL_2026, APRIL_2025)  # the order they were first used does not matter

    assert history.in_force(at_noon(date(2025, 12, 1))) is APRIL_2025
    assert history.in_force(at_noon(date(2026, 4, 1))) is APRIL_2026
    assert history.in_force(at_noon(date(2024, 1, 1))) is APRIL_2025  # before any: the earliest


def test_a_version_put_in_place_before_its_first_day_screens_nothing_until_then():
    history = RulesetHistory.of(APRIL_2025).with_ruleset(APRIL_2026)

    assert history.in_force(at_noon(date(2026, 3, 31))) is APRIL_2025


def test_of_two_versions_in_force_from_the_same_day_the_one_used_later_wins():
    correction = version("2026.1a", date(2026, 4, 1), name="corrected")

    history = RulesetHistory.of(APRIL_2026, correction)

    assert history.in_force(at_noon(date(2026, 5, 1))) is correction


def test_every_version_is_kept_by_its_name():
    history = RulesetHistory.of(APRIL_2025).with_ruleset(APRIL_2026)

    assert (history.get("2025.1"), history.get("2026.1"), history.get("1999.9")) == (
        APRIL_2025,
        APRIL_2026,
        None,
    )
    assert "2025.1" in history


def test_the_same_version_with_other_rules_is_refused_and_the_same_rules_again_change_nothing():
    history = RulesetHistory.of(APRIL_2025)
    edited = version("2025.1", date(2025, 4, 1), name="edited without a new version")

    with pytest.raises(RulesetConflict, match=r"2025\.1 is already in use with other rules"):
        history.with_ruleset(edited)
    assert history.with_ruleset(version("2025.1", date(2025, 4, 1))) is history


def test_a_ruleset_file_must_say_from_when_it_is_in_force():
    text = (Path(__file__).parents[3] / "mash" / "rulesets" / "default.yaml").read_text()

    with pytest.raises(RulesetError) as caught:
        parse_ruleset(text.replace("effective_from: 2024-04-01\n", ""), "council.yaml")

    [problem] = caught.value.problems
    assert (problem.field, problem.reason) == ("effective_from", "Field required")


def test_the_service_may_decide_only_levels_1_and_2_itself():
    with pytest.raises(ValueError, match="a referral needs a person"):
        version("x", date(2026, 4, 1), service_decides={"levels": [1, 3]})
