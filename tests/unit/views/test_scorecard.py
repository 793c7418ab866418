"""The HTML scorecard (`mash report --format html`): what a scrutiny committee gets on paper.

One self-contained page: headline tiles, three inline SVG charts, the numbers behind them in
tables, and the definitions. No scripts, no network, "—" where a rate has nothing to divide by.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mash.domain.case import DecidedBy, Referral
from mash.domain.figures import ContactFact, PlanFact, figures
from mash.domain.ruleset import Rag, Route
from mash.views.scorecard import count, percent, render_html, source_name

START, END = date(2025, 4, 1), date(2026, 3, 31)
OUTPUT = Path(__file__).resolve().parents[2] / "output"
SOURCES = ["6"] * 6 + ["2A"] * 4 + ["3A", "3B", "3E", "4", "5D", "5D", "1A", "9", "8", "7"]


NOW = datetime(2026, 4, 2, 8, 30, tzinfo=UTC)


def fact(
    received_on: date,
    source: str,
    level: int,
    route: Route,
    referral: Referral,
    re_referral: bool = False,
    nfa: bool = False,
    decided_at: datetime | None = None,
    due_at: datetime | None = None,
) -> ContactFact:
    """A contact received at 10:00 UTC on `received_on`, with the facts the scorecard shows."""
    received = datetime(received_on.year, received_on.month, received_on.day, 10, tzinfo=UTC)
    return ContactFact(
        received_on=received_on,
        received_at=received,
        source=source,
        level=level,
        rag=(Rag.BLUE, Rag.GREEN, Rag.AMBER, Rag.RED)[level - 1],
        route=route,
        referral=referral,
        re_referral=re_referral,
        nfa=nfa,
        decided_at=decided_at,
        decided_by=None if decided_at is None else DecidedBy.COORDINATOR,
        due_at=due_at,
        data_quality=(),
    )


def a_year_of_contacts(seed: int = 2025) -> tuple[list[ContactFact], list[PlanFact]]:
    """A deterministic, plausible year: police and schools most, about a third become referrals."""
    rng = random.Random(seed)
    records: list[ContactFact] = []
    day = START
    while day <= END:
        for _ in range(rng.randint(0, 5) if day.weekday() < 5 else rng.randint(0, 1)):
            level = rng.choices([1, 2, 3, 4], weights=[3, 4, 2, 1])[0]
            route = [Route.UNIVERSAL, Route.EARLY_HELP, Route.SOCIAL_CARE, Route.SOCIAL_CARE][level - 1]
            referral = Referral.NOT_REFERRED
            if route is Route.SOCIAL_CARE:
                referral = Referral.LINKED_TO_OPEN_CASE if rng.random() < 0.15 else Referral.REFERRAL
            received = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
            due = received + timedelta(hours=4 if level == 4 else 24 * (5 - level))
            decided = received + timedelta(hours=rng.uniform(0.5, 30)) if level > 1 else None
            records.append(
                fact(
                    received_on=day,
                    source=rng.choice(SOURCES),
                    level=level,
                    route=route,
                    referral=referral,
                    re_referral=referral is Referral.REFERRAL and rng.random() < 0.2,
                    nfa=referral is Referral.REFERRAL and rng.random() < 0.3,
                    decided_at=decided,
                    due_at=due if level > 1 else None,
                )
            )
        day += timedelta(days=1)
    plans = [
        PlanFact(START + timedelta(days=rng.randrange(365)), f"ck-{i}", rng.random() < 0.2) for i in range(40)
    ]
    return records, plans


@pytest.fixture(scope="module")
def typical() -> dict[str, Any]:
    return figures(*a_year_of_contacts(), START, END, NOW)


@pytest.fixture(scope="module")
def page(typical: dict[str, Any]) -> str:
    html = render_html(
        typical, council="Seaview Council", generated_at=datetime(2026, 4, 2, 8, 30, tzinfo=UTC)
    )
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "scorecard-example.html").write_text(html, encoding="utf-8")
    return html


@pytest.fixture(scope="module")
def empty_page() -> str:
    return render_html(figures([], [], START, END, NOW))


class Structure(HTMLParser):
    """Checks that the main elements open and close in order; collects URLs and chart titles."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.urls: list[str] = []
        self.svg_titles: list[str] = []
        self._in_svg_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v or "" for k, v in attrs if k in {"src", "href", "action"}]
        if tag == "title" and self.stack and self.stack[-1] == "svg":
            self._in_svg_title = True
            self.svg_titles.append("")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v or "" for k, v in attrs if k in {"src", "href", "action"}]

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()
        self._in_svg_title = False

    def handle_data(self, data: str) -> None:
        if self._in_svg_title:
            self.svg_titles[-1] += data


def parse(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    return parser


def text_of(html: str) -> str:
    """The page's visible words, roughly: tags dropped, entities left escaped."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_headline_number_is_on_the_page(typical: dict[str, Any], page: str) -> None:
    words = text_of(page)
    assert typical["contacts"] > 100  # the example is a realistic year, not a toy
    for key in (
        "contacts",
        "referrals",
        "re_referrals",
        "linked_to_open_case",
        "contacts_nfa",
        "referrals_nfa",
        "cp_plan_children",
        "cp_plan_children_second_or_subsequent",
        "awaiting_decision",
        "decisions_due",
        "decided_within_target",
        "undecided_past_due",
        "decisions_due_1_working_day",
        "decided_within_1_working_day",
    ):
        assert count(typical[key]) in words, key
    for key in (
        "conversion_rate",
        "re_referral_rate",
        "decided_within_target_rate",
        "decided_within_1_working_day_rate",
    ):
        assert percent(typical[key]) in words, key


def test_rates_are_percentages_with_one_decimal() -> None:
    assert percent(0.224) == "22.4%"
    assert percent(0.5) == "50.0%"
    assert percent(None) == "—"
    assert count(12345) == "12,345"


def test_the_period_council_and_time_of_running_are_in_the_heading(page: str) -> None:
    assert "Seaview Council" in page
    assert "1 April 2025 to 31 March 2026" in page
    assert "2 April 2026 at 09:30" in page  # shown in UK time (BST)


def test_three_charts_each_an_svg_with_a_title_and_description(page: str) -> None:
    assert page.count("<svg") == 3
    titles = parse(page).svg_titles
    assert titles == [
        "Contacts and referrals received each month",
        "Conversion and re-referral rates each month",
        "Contacts and referrals by who made the contact",
    ]
    assert page.count("<desc") == 3
    assert page.count('role="img"') == 3


def test_each_month_has_a_pair_of_bars_and_a_column_in_the_table(typical: dict[str, Any], page: str) -> None:
    for key, month in typical["by_month"].items():
        name = datetime.strptime(key, "%Y-%m").strftime("%B %Y")
        assert f"{name}: {count(month['contacts'])} contacts" in page
        assert f"{name}: {count(month['referrals'])} referrals" in page
    assert "Apr 25" in page
    assert "Mar 26" in page


def test_the_national_reference_lines_are_dashed_and_labelled(page: str) -> None:
    assert page.count('class="reference"') == 2
    assert page.count(">England</text>") == 2  # labelled in the margin, clear of the data
    assert ">≈ 22%</text>" in page
    assert ">22.4%</text>" in page
    assert "stroke-dasharray" in page


def test_sources_have_readable_names_with_their_census_codes(typical: dict[str, Any], page: str) -> None:
    assert source_name("6") == "Police (6)"
    assert source_name("3E") == "A&E (3E)"  # escaped when rendered
    assert source_name("99") == "Source (99)"
    words = text_of(page)
    for code in typical["by_source"]:
        assert source_name(code).replace("&", "&amp;") in words
    police = words.index("Police (6)")
    schools = words.index("Schools (2A)")
    assert police < schools  # largest source first


def test_past_a_dozen_sources_the_smallest_share_a_bar_but_the_table_lists_all() -> None:
    codes = ["1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4", "6"]
    facts = [
        fact(START, code, 2, Route.EARLY_HELP, Referral.NOT_REFERRED)
        for i, code in enumerate(codes)
        for _ in range(i + 1)  # police (6) most, 1A fewest
    ]
    html = render_html(figures(facts, [], START, END, NOW))
    assert "3 other sources: 6 contacts" in html  # 1A, 1B and 1C: 1 + 2 + 3
    assert "Police (6): 14 contacts" in html
    assert "1A" in text_of(html.split("</svg>")[-1])  # still in the table
    assert parse(html).problems == []


def test_colour_is_not_the_only_way_to_tell_contacts_from_referrals(page: str) -> None:
    assert "Referrals (hatched)" in page
    assert page.count("<pattern") == 2  # a hatch in each bar chart
    assert "<circle" in page  # conversion points are circles, re-referral points squares


def test_self_contained_no_scripts_or_network(page: str) -> None:
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page
    assert "url(http" not in page
    assert parse(page).urls == []
    # The only "http" is the SVG namespace name, which browsers never fetch.
    assert set(re.findall(r"https?://[^\"' )]+", page)) == {"http://www.w3.org/2000/svg"}


def test_the_html_is_well_formed(page: str, empty_page: str) -> None:
    for html in (page, empty_page):
        structure = parse(html)
        assert structure.problems == []
        assert structure.stack == []
        assert html.startswith("<!DOCTYPE html>")
        assert '<html lang="en-GB">' in html
        assert html.count("<main>") == html.count("</main>") == 1


def test_printable_on_a4(page: str) -> None:
    assert "@page { size: A4;" in page
    assert "@media print" in page


def test_definitions_are_in_plain_words(page: str) -> None:
    text = text_of(page)
    for words in (
        "a call naming three children is three contacts",
        "does not already have an open social care case",
        "12 months before it",
        "event time",
        "nothing to divide by",
        "however long ago",
    ):
        assert words in text


def test_an_empty_period_renders_with_dashes_and_no_division_errors(empty_page: str) -> None:
    words = text_of(empty_page)
    assert "Conversion rate —" in words
    assert "Re-referral rate —" in words
    assert "Decisions within target —" in words
    assert "No contacts in this period" in words
    assert "Nothing to divide by" in words
    assert empty_page.count("<svg") == 3
    assert "nan" not in words.lower().split()
    assert "Seaview" not in empty_page
    assert "generated" not in words  # no time given, none invented


def test_everything_from_the_data_is_escaped() -> None:
    result = figures([], [], START, END, NOW)
    result["by_source"] = {"<b>x</b>": {"contacts": 1, "referrals": 0, "re_referrals": 0}}
    html = render_html(result, council='<script>alert("x")</script> & Co')
    assert "<script" not in html
    assert "<b>x</b>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert parse(html).problems == []


def test_a_short_period_and_a_month_with_nothing_to_divide_by() -> None:
    facts = [
        fact(date(2025, 5, 2), "6", 4, Route.SOCIAL_CARE, Referral.REFERRAL, re_referral=True),
        fact(date(2025, 5, 9), "2A", 1, Route.UNIVERSAL, Referral.NOT_REFERRED),
    ]
    plans = [PlanFact(date(2025, 6, 1), "ck-1", True)]
    result = figures(facts, plans, date(2025, 4, 1), date(2025, 6, 30), NOW)
    html = render_html(result)
    words = text_of(html)
    assert "1 April 2025 to 30 June 2025" in words
    assert "Conversion rate — 50.0% — 50.0%" in words  # April and June have no contacts
    assert "Re-referral rate — 100.0% — 100.0%" in words
    assert "1 (100.0%) second or later" in words
    assert parse(html).problems == []
