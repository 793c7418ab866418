"""The statutory figures for a period, computed from case facts (hand-computed expectations).

The definitions are docs/figures.md's. The timeliness figures never flatter: every contact whose
decision is due (decided, or past its due time) is counted, and one still undecided past its due
time is a miss. The nine-amber example is the one that showed the old figure at 100%.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prometheus_client import CollectorRegistry

from mash.domain.case import DataQuality, DecidedBy, Referral
from mash.domain.figures import ContactFact, PlanFact, figures, rolling_year, waiting_past_due
from mash.domain.ruleset import Rag, Route
from mash.views.figure_source import FigureSource
from mash.views.live_figures import FiguresCollector

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def fact(
    day: str, source: str = "6", referral: Referral = Referral.NOT_REFERRED, **extra: object
) -> ContactFact:
    """A contact received at 10:00 UTC on `day`: a decided early help one unless told otherwise."""
    received = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
    values: dict[str, object] = {
        "received_on": date.fromisoformat(day),
        "received_at": received,
        "source": source,
        "level": 2,
        "rag": Rag.GREEN,
        "route": Route.EARLY_HELP,
        "referral": referral,
        "re_referral": False,
        "nfa": False,
        "decided_at": received + timedelta(hours=1),
        "decided_by": DecidedBy.COORDINATOR,
        "due_at": None,
        "data_quality": (),
    }
    if referral is not Referral.NOT_REFERRED:
        values.update(level=4, rag=Rag.RED, route=Route.SOCIAL_CARE)
    values.update(extra)
    return ContactFact(**values)  # type: ignore[arg-type]


FACTS = [
    fact("2025-03-31", referral=Referral.REFERRAL),  # the day before the statutory year: outside
    fact("2025-04-01", referral=Referral.REFERRAL, re_referral=True),
    fact("2025-04-15"),
    fact(
        "2025-04-20", source="2A", route=Route.UNIVERSAL, level=1, rag=Rag.BLUE, decided_by=DecidedBy.SERVICE
    ),
    fact("2025-05-02", source="2A", referral=Referral.REFERRAL, nfa=True),
    fact("2025-05-03", source="2A", referral=Referral.LINKED_TO_OPEN_CASE),
    fact("2025-05-04", source="2A", decided_at=None, data_quality=(DataQuality.CONSENT_BASIS_MISSING,)),
    fact("2026-03-31", source="3E", referral=Referral.REFERRAL),  # the last day: inside
]
PLANS = [
    PlanFact(date(2025, 6, 1), "ck-a", False),
    PlanFact(date(2025, 7, 1), "ck-b", True),
    PlanFact(date(2025, 9, 1), "ck-c", False),
    PlanFact(date(2025, 11, 1), "ck-c", True),  # the same child's second plan in the year
    PlanFact(date(2026, 4, 1), "ck-d", True),
]


def test_a_statutory_year_counts_contacts_by_the_day_received_inclusive() -> None:
    year = figures(FACTS, PLANS, date(2025, 4, 1), date(2026, 3, 31), NOW)

    assert (year["contacts"], year["referrals"], year["re_referrals"]) == (7, 3, 1)
    assert year["conversion_rate"] == round(3 / 7, 6)
    assert year["re_referral_rate"] == round(1 / 3, 6)
    assert (year["linked_to_open_case"], year["referrals_nfa"], year["contacts_nfa"]) == (1, 1, 1)
    assert (year["awaiting_decision"], year["decided_by_service"]) == (1, 1)
    assert year["data_quality"] == {
        "consent_basis_missing": 1,
        "referrer_unreachable": 0,
        "unknown_indicator": 0,
    }


def test_second_or_subsequent_plans_count_children_not_plans():
    year = figures(FACTS, PLANS, date(2025, 4, 1), date(2026, 3, 31), NOW)

    assert (year["cp_plans_started"], year["cp_plan_children"]) == (4, 3)
    assert year["cp_plan_children_second_or_subsequent"] == 2
    assert year["cp_plan_children_second_or_subsequent_rate"] == round(2 / 3, 6)


def test_a_contact_waiting_for_a_decision_is_counted_as_a_contact_and_as_waiting_never_as_a_referral():
    waiting = fact("2025-04-02", referral=Referral.NOT_REFERRED, decided_at=None, decided_by=None, level=3)

    year = figures([waiting], [], date(2025, 4, 1), date(2025, 4, 30), NOW)

    assert (year["contacts"], year["awaiting_decision"], year["referrals"]) == (1, 1, 0)


def test_by_source_and_by_month() -> None:
    year = figures(FACTS, PLANS, date(2025, 4, 1), date(2026, 3, 31), NOW)
    assert year["by_source"] == {
        "6": {"contacts": 2, "referrals": 1, "re_referrals": 1},
        "2A": {"contacts": 4, "referrals": 1, "re_referrals": 0},
        "3E": {"contacts": 1, "referrals": 1, "re_referrals": 0},
    }
    assert list(year["by_month"]) == [f"2025-{m:02}" for m in range(4, 13)] + [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert year["by_month"]["2025-04"]["contacts"] == 3
    assert year["by_month"]["2025-05"]["conversion_rate"] == round(1 / 3, 6)
    assert year["by_month"]["2025-06"]["cp_plans_started"] == 1


def test_rates_are_none_when_there_is_nothing_to_divide_by() -> None:
    empty = figures([], [], date(2025, 1, 1), date(2025, 1, 31), NOW)
    assert empty["contacts"] == 0
    assert empty["conversion_rate"] is None
    assert empty["re_referral_rate"] is None
    assert empty["decided_within_target_rate"] is None
    assert empty["by_month"]["2025-01"]["conversion_rate"] is None


# --- timeliness ------------------------------------------------------------------------------------

MONDAY_10 = datetime(2025, 4, 7, 10, tzinfo=UTC)  # BST: 11:00 in London
AMBER_DUE = MONDAY_10 + timedelta(days=1)  # one working day


def amber(decided_at: datetime | None, received: datetime = MONDAY_10) -> ContactFact:
    return fact(
        received.date().isoformat(),
        received_at=received,
        level=3,
        rag=Rag.AMBER,
        due_at=received + timedelta(days=1),
        decided_at=decided_at,
        decided_by=None if decided_at is None else DecidedBy.COORDINATOR,
    )


def test_nine_amber_contacts_never_decided_and_long_overdue_and_one_decided_in_time_is_10_percent_not_100():
    contacts = [amber(None) for _ in range(9)] + [amber(MONDAY_10 + timedelta(hours=2))]

    result = figures(contacts, [], date(2025, 4, 1), date(2025, 4, 30), NOW)

    assert (result["decisions_due"], result["decided_within_target"]) == (10, 1)
    assert result["decided_within_target_rate"] == 0.1
    assert result["undecided_past_due"] == 9


def test_a_contact_decided_late_is_a_miss_and_one_not_yet_due_is_not_counted_yet():
    on_time = amber(AMBER_DUE - timedelta(minutes=1))
    late = amber(AMBER_DUE + timedelta(minutes=1))
    not_due = amber(None, received=NOW - timedelta(hours=2))

    result = figures([on_time, late, not_due], [], date(2025, 4, 1), date(2026, 5, 31), NOW)

    assert (result["decisions_due"], result["decided_within_target"]) == (2, 1)
    assert (result["awaiting_decision"], result["undecided_past_due"]) == (1, 0)


def test_contacts_the_service_decided_itself_are_not_counted_in_peoples_timeliness():
    by_service = fact("2025-04-07", decided_by=DecidedBy.SERVICE, due_at=MONDAY_10 + timedelta(days=1))

    result = figures([by_service], [], date(2025, 4, 1), date(2025, 4, 30), NOW)

    assert (result["decisions_due"], result["decisions_due_1_working_day"]) == (0, 0)


def test_decisions_within_one_working_day_count_every_route_and_the_undecided_as_misses():
    coordinator = amber(MONDAY_10 + timedelta(hours=3))
    meeting = fact(
        "2025-04-07",
        received_at=MONDAY_10,
        decided_at=MONDAY_10 + timedelta(days=2),
        decided_by=DecidedBy.IMM,
    )
    waiting = amber(None)

    result = figures([coordinator, meeting, waiting], [], date(2025, 4, 1), date(2025, 4, 30), NOW)

    assert (result["decisions_due_1_working_day"], result["decided_within_1_working_day"]) == (3, 1)
    assert result["undecided_past_1_working_day"] == 1
    assert result["decided_within_1_working_day_by"] == {
        "coordinator": {"decided": 1, "within": 1, "rate": 1.0},
        "imm": {"decided": 1, "within": 0, "rate": 0.0},
    }


def test_the_number_waiting_past_due_is_given_as_at_the_end_of_the_period_by_rag():
    red = fact("2025-04-29", rag=Rag.RED, level=4, received_at=datetime(2025, 4, 29, 10, tzinfo=UTC))
    red = red._replace(due_at=red.received_at + timedelta(hours=4), decided_at=None, decided_by=None)
    decided_after_the_end = amber(
        datetime(2025, 5, 2, tzinfo=UTC), received=datetime(2025, 4, 28, 10, tzinfo=UTC)
    )
    not_yet_due_at_the_end = amber(None, received=datetime(2025, 4, 30, 15, tzinfo=UTC))

    result = figures(
        [red, decided_after_the_end, not_yet_due_at_the_end], [], date(2025, 4, 1), date(2025, 4, 30), NOW
    )

    assert result["waiting_past_due_at_end"] == {"red": 1, "amber": 1, "green": 0}


def test_waiting_past_due_now_counts_only_contacts_still_undecided_and_overdue():
    contacts = [
        amber(None),
        amber(None, received=NOW - timedelta(hours=1)),
        amber(MONDAY_10 + timedelta(hours=1)),
    ]

    assert waiting_past_due(contacts, NOW) == {"red": 0, "amber": 1, "green": 0}


# --- the live gauges ---------------------------------------------------------------------------------


def test_the_rolling_year_ends_today_and_starts_the_day_after_a_year_ago() -> None:
    assert rolling_year(date(2026, 11, 24)) == (date(2025, 11, 25), date(2026, 11, 24))
    assert rolling_year(date(2028, 2, 29)) == (date(2027, 3, 1), date(2028, 2, 29))


def test_the_live_gauges_say_what_the_report_says() -> None:
    source = FigureSource()
    source.contacts = {str(i): f for i, f in enumerate(FACTS)}
    source.plans = {str(i): p for i, p in enumerate(PLANS)}
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    registry = CollectorRegistry()
    registry.register(FiguresCollector(source, now=lambda: now))
    year = figures(FACTS, PLANS, *rolling_year(date(2026, 3, 31)), now)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    for key in (
        "contacts",
        "referrals",
        "conversion_rate",
        "re_referral_rate",
        "decided_within_1_working_day_rate",
    ):
        assert value(f"mash_figures_rolling_12m_{key}") == year[key], key
    assert value("mash_figures_referrals", source="2A", level="4") == 1
    assert value("mash_figures_linked_to_open_case", source="2A", level="4") == 1
    assert value("mash_figures_cp_plan_children_second_or_subsequent") == 3
    assert value("mash_figures_awaiting_decision", rag="green") == 1
    assert value("mash_figures_waiting_past_due", rag="green") == 0
