"""The statutory figures for a period, computed from case facts (hand-computed expectations)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prometheus_client import CollectorRegistry

from mash.domain.case import Referral
from mash.domain.figures import ContactFact, PlanFact, figures, rolling_year
from mash.domain.ruleset import Route
from mash.figures.live import FiguresCollector
from mash.figures.source import FigureSource


def fact(
    day: str, source: str = "6", referral: Referral = Referral.NOT_REFERRED, **extra: object
) -> ContactFact:
    values: dict[str, object] = {
        "received_on": date.fromisoformat(day),
        "source": source,
        "level": 2,
        "route": Route.EARLY_HELP,
        "referral": referral,
        "re_referral": False,
        "nfa": False,
        "decided_at": None,
        "due_at": None,
    }
    if referral is not Referral.NOT_REFERRED:
        values.update(level=4, route=Route.SOCIAL_CARE)
    values.update(extra)
    return ContactFact(**values)  # type: ignore[arg-type]


FACTS = [
    fact("2025-03-31", referral=Referral.REFERRAL),  # the day before the statutory year: outside
    fact("2025-04-01", referral=Referral.REFERRAL, re_referral=True),
    fact("2025-04-15"),
    fact("2025-04-20", source="2A", route=Route.UNIVERSAL, level=1),
    fact("2025-05-02", source="2A", referral=Referral.REFERRAL, nfa=True),
    fact("2025-05-03", source="2A", referral=Referral.LINKED_TO_OPEN_CASE),
    fact("2026-03-31", source="3E", referral=Referral.REFERRAL),  # the last day: inside
]
PLANS = [
    PlanFact(date(2025, 6, 1), False),
    PlanFact(date(2025, 7, 1), True),
    PlanFact(date(2026, 4, 1), True),
]


def test_a_statutory_year_counts_contacts_by_the_day_received_inclusive() -> None:
    year = figures(FACTS, PLANS, date(2025, 4, 1), date(2026, 3, 31))
    assert (year["contacts"], year["referrals"], year["re_referrals"]) == (6, 3, 1)
    assert year["conversion_rate"] == 0.5
    assert year["re_referral_rate"] == round(1 / 3, 6)
    assert (year["linked_to_open_case"], year["referrals_nfa"], year["contacts_nfa"]) == (1, 1, 1)
    assert (year["cp_plans_started"], year["cp_plans_second_or_subsequent"]) == (2, 1)


def test_by_source_and_by_month() -> None:
    year = figures(FACTS, PLANS, date(2025, 4, 1), date(2026, 3, 31))
    assert year["by_source"] == {
        "6": {"contacts": 2, "referrals": 1, "re_referrals": 1},
        "2A": {"contacts": 3, "referrals": 1, "re_referrals": 0},
        "3E": {"contacts": 1, "referrals": 1, "re_referrals": 0},
    }
    assert list(year["by_month"]) == [f"2025-{m:02}" for m in range(4, 13)] + [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert year["by_month"]["2025-04"]["contacts"] == 3
    assert year["by_month"]["2025-05"]["conversion_rate"] == 0.5
    assert year["by_month"]["2025-06"]["cp_plans_started"] == 1


def test_rates_are_none_when_there_is_nothing_to_divide_by() -> None:
    empty = figures([], [], date(2025, 1, 1), date(2025, 1, 31))
    assert empty["contacts"] == 0
    assert empty["conversion_rate"] is None
    assert empty["re_referral_rate"] is None
    assert empty["by_month"]["2025-01"]["conversion_rate"] is None


def test_decisions_within_target_compare_decision_with_due_time() -> None:
    due = datetime(2025, 4, 2, 17, tzinfo=UTC)
    on_time = fact("2025-04-01", decided_at=datetime(2025, 4, 2, 16, tzinfo=UTC), due_at=due)
    late = fact("2025-04-01", decided_at=datetime(2025, 4, 2, 18, tzinfo=UTC), due_at=due)
    undecided = fact("2025-04-01", due_at=due)
    result = figures([on_time, late, undecided], [], date(2025, 4, 1), date(2025, 4, 30))
    assert (result["decided_with_target"], result["decided_within_target"]) == (2, 1)
    assert result["decided_within_target_rate"] == 0.5


def test_the_rolling_year_ends_today_and_starts_the_day_after_a_year_ago() -> None:
    assert rolling_year(date(2026, 11, 24)) == (date(2025, 11, 25), date(2026, 11, 24))
    assert rolling_year(date(2028, 2, 29)) == (date(2027, 3, 1), date(2028, 2, 29))


def test_the_live_gauges_say_what_the_report_says() -> None:
    source = FigureSource()
    source.contacts = {str(i): f for i, f in enumerate(FACTS)}
    source.plans = {str(i): p for i, p in enumerate(PLANS)}
    registry = CollectorRegistry()
    registry.register(FiguresCollector(source, today=lambda: date(2026, 3, 31)))
    year = figures(FACTS, PLANS, *rolling_year(date(2026, 3, 31)))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("mash_figures_rolling_12m_contacts") == year["contacts"]
    assert value("mash_figures_rolling_12m_referrals") == year["referrals"]
    assert value("mash_figures_rolling_12m_conversion_rate") == year["conversion_rate"]
    assert value("mash_figures_rolling_12m_re_referral_rate") == year["re_referral_rate"]
    assert value("mash_figures_referrals", source="2A", level="4") == 1
    assert value("mash_figures_linked_to_open_case", source="2A", level="4") == 1
    assert value("mash_figures_cp_plans_second_or_subsequent") == 2
