"""A queue row's few words: the child's initials and age, and the concern from the recommendation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mash.views.summaries import age_in_years, age_text, child_line, concern
from tests.support.console_world import contact_event, records

NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        (date(2013, 9, 30), date(2026, 9, 29), 12),
        (date(2013, 9, 30), date(2026, 9, 30), 13),  # a birthday counts from its own day
        (date(2016, 2, 29), date(2026, 2, 28), 9),  # a 29 February birthday comes on 1 March
        (date(2016, 2, 29), date(2026, 3, 1), 10),
    ],
)
def test_an_age_is_whole_years_on_the_day(born: date, on: date, years: int) -> None:
    assert age_in_years(born, on) == years


def test_a_baby_is_under_1_and_an_unborn_child_is_unborn() -> None:
    assert age_text(date(2026, 1, 1), False, date(2026, 3, 10)) == "under 1"
    assert age_text(None, True, date(2026, 3, 10)) == "unborn"
    assert age_text(date(2020, 3, 10), False, date(2026, 3, 10)) == "aged 6"


def test_the_child_line_reads_only_initials_and_an_age_from_the_contact() -> None:
    event = contact_event("ct-1", given="  élodie", family="O'Brien", born=date(2010, 3, 11), at=NOW)
    line = child_line(event)
    assert (line.initials, line.age) == ("ÉO", "aged 15")


def test_the_concern_is_the_top_indicators_in_a_few_words_most_serious_first() -> None:
    codes = ("young_carer", "persistent_absence", "disclosure_of_abuse", "parental_mental_health_significant")
    recommendation = records(contact_event("ct-1", *codes))["ct-1"].recommendation
    assert (
        concern(recommendation) == "The child has disclosed abuse; Persistent absence from school (+2 more)"
    )


def test_a_long_description_is_cut_at_a_word_and_the_detail_after_a_colon_is_left_out() -> None:
    recommendation = records(contact_event("ct-1", "fgm_or_honour_based_violence"))["ct-1"].recommendation
    assert concern(recommendation) == "Risk of female genital mutilation (FGM) or…"
    absent = records(contact_event("ct-1", "persistent_absence"))["ct-1"].recommendation
    assert concern(absent) == "Persistent absence from school"  # not ": below 90% and falling..."


def test_an_indicator_the_ruleset_does_not_know_is_said_so() -> None:
    recommendation = records(contact_event("ct-1", "not_a_code"))["ct-1"].recommendation
    assert concern(recommendation) == "an indicator the ruleset does not know"
