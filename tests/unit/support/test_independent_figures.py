"""The independent count of the statutory figures (tests/support/independent_figures.py)
agrees with the service's, without Kafka.

The integration test `tests/integration/test_report_checks.py` checks that `mash report`, after
`mash replay` of a two-year `mash simulate` file through Kafka and the workers, equals the
independent count of the file. Here the same property is checked in a few seconds: the
service's records are built with the worker's own functions (tests/support/replayed.py) and its
figures with `mash.domain.figures.figures`; the independent count re-derives everything from
the file by the documented definitions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from mash.domain.figures import ContactFact, PlanFact, figures
from mash.simulate import SimulationConfig, simulate
from tests.support.independent_figures import COUNTED, History, history_from_lines, report_figures
from tests.support.replayed import DEFAULT_SOURCES, Replayed, replayed

TWO_YEARS = SimulationConfig(seed=11, children=1200, days=730)
PERIODS = [
    (date(2024, 4, 1), date(2026, 3, 31)),  # the whole run
    (date(2024, 4, 1), date(2025, 3, 31)),  # the first statutory year: no earlier year to re-refer from
    (date(2025, 6, 15), date(2026, 1, 14)),  # mid-month to mid-month, through the second year
    (date(2025, 11, 1), date(2025, 11, 30)),  # one month
    (date(2024, 2, 29), date(2024, 4, 1)),  # starts before the history: one day of it
]


def the_services(service: Replayed, start: date, end: date, now: datetime) -> dict[str, Any]:
    facts = [ContactFact.of(r) for r in service.records.values()]
    plans = [PlanFact.of(p) for p in service.plans.values()]
    return figures(facts, plans, start, end, now)


def differing(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    return sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))


@pytest.fixture(scope="module")
def two_years() -> tuple[list[dict[str, Any]], Replayed, History]:
    lines = list(simulate(TWO_YEARS))
    return lines, replayed(lines), history_from_lines(lines)


@pytest.mark.parametrize(("start", "end"), PERIODS)
def test_the_independent_count_of_two_simulated_years_is_what_the_service_reports(
    two_years: tuple[list[dict[str, Any]], Replayed, History], start: date, end: date
) -> None:
    _, service, by_hand = two_years
    assert len(by_hand.contacts) == len(service.records)
    assert by_hand.same_instant == 0, "no two events of one kind about one child at one instant"
    now = TWO_YEARS.end_at + timedelta(days=30)
    theirs = the_services(service, start, end, now)
    ours = report_figures(by_hand.contacts, by_hand.plans, start, end, now)
    assert not differing(theirs, ours), f"{start}..{end}: the counts differ on {differing(theirs, ours)}"


def test_every_figure_of_the_two_years_has_something_to_agree_on(
    two_years: tuple[list[dict[str, Any]], Replayed, History],
) -> None:
    _, _, by_hand = two_years
    now = TWO_YEARS.end_at + timedelta(days=30)
    whole = report_figures(by_hand.contacts, by_hand.plans, *PERIODS[0], now)
    for key in COUNTED:
        assert whole[key] > 0, key
    assert whole["decided_within_1_working_day_by"]["imm"]["decided"] > 0
    assert 0 < whole["decided_within_target"] < whole["decisions_due"]
    assert whole["data_quality"]["consent_basis_missing"] > 0
    assert whole["data_quality"]["referrer_unreachable"] > 0
    assert sum(whole["waiting_past_due_at_end"].values()) > 0


def test_the_counts_agree_while_the_period_is_still_running(
    two_years: tuple[list[dict[str, Any]], Replayed, History],
) -> None:
    """At the end of a period contacts still wait, some past their due time."""
    _, service, by_hand = two_years
    start, end = date(2025, 10, 1), date(2025, 10, 31)
    theirs = the_services(service, start, end, TWO_YEARS.end_at + timedelta(days=30))
    ours = report_figures(by_hand.contacts, by_hand.plans, start, end, TWO_YEARS.end_at + timedelta(days=30))
    assert theirs["waiting_past_due_at_end"] == ours["waiting_past_due_at_end"]
    assert sum(ours["waiting_past_due_at_end"].values()) > 0


# --- a hand-written file: the definitions the simulation rarely reaches -------------------------------------

KID = {"given_name": "Testa", "family_name": "Sampleford", "date_of_birth": "2015-03-02"}
OTHER = {"given_name": "Proba", "family_name": "Otherby", "date_of_birth": "2016-07-01"}


def contact(
    reference: str, at: str, *codes: str, child: dict[str, Any] = KID, **extra: Any
) -> dict[str, Any]:
    submission = {
        "agency_reference": reference,
        "received_at": at,
        "children": [child],
        "indicators": list(codes),
        "consent": {"status": "given"},
        "referrer": {"name": "PC Example", "role": "officer", "phone": "01632 960001"},
        **extra,
    }
    return {"kind": "contact", "agency": "police", "submission": submission}


def decided(reference: str, of: str, at: str, action: str = "confirm", **fields: Any) -> dict[str, Any]:
    decision = {
        "contact": {"agency": "police", "agency_reference": of, "child": 0},
        "reference": reference,
        "action": action,
        "decided_at": at,
        "by": "manager-1" if fields.get("role") == "manager" else "coordinator-1",
        "role": "coordinator",
        "rationale": "Decided.",
        **fields,
    }
    return {"kind": "decision", "decision": decision}


def outcome(kind: str, at: str, child: dict[str, Any] = KID, **extra: Any) -> dict[str, Any]:
    event = {"type": kind, "child": child, "occurred_at": at, **extra}
    return {"kind": "outcome", "agency": "case-system", "event": event}


HAND_WRITTEN = [
    # A plan with no case open opens one; sent again under a new reference it is one plan.
    outcome("cp_plan_started", "2024-05-01T10:00:00Z", reference="O1", plan_id="P1"),
    outcome("cp_plan_started", "2024-05-01T10:00:00Z", reference="O2", plan_id="P1"),
    # Received while the plan's case is open: linked, whatever its level.
    contact("C1", "2024-05-10T10:00:00Z", "young_carer"),
    decided("D1", "C1", "2024-05-10T12:00:00Z", level=2, rag="green"),
    outcome("cp_plan_ended", "2024-11-01T10:00:00Z", reference="O3", plan_id="P1"),
    outcome("case_closed", "2024-11-15T10:00:00Z", reference="O4"),
    # Level 4. A coordinator lowers it, which waits for a manager: decided at the sign-off, a
    # referral (dated by its receipt) that opens a case.
    contact("C2", "2025-01-06T10:00:00Z", "sexual_abuse"),
    decided("D2", "C2", "2025-01-06T11:00:00Z", action="change", level=3, rag="amber"),
    decided("D3", "C2", "2025-01-06T16:00:00Z", action="sign_off", role="manager", signs_off="D2"),
    # Received before that case opened (level 4: the ended plan raises it), decided after: linked.
    contact("C3", "2025-01-06T10:30:00Z", "persistent_absence"),
    decided("D4", "C3", "2025-01-07T10:00:00Z", level=4, rag="red"),
    outcome("case_closed", "2025-02-01T10:00:00Z", reference="O5", nfa=True),
    # The meeting sends it to early help; a manager's change to level 3 routes it by the level
    # again: a referral, and a re-referral (C2 was received within the year before). Later
    # decided no further action: still a referral, its case closed with no further action.
    contact("C4", "2026-01-05T10:00:00Z", "persistent_absence"),
    decided(
        "D5",
        "C4",
        "2026-01-06T12:30:00Z",
        action="imm_outcome",
        meeting_id="imm-2026-01-06",
        outcome="early_help",
        lead_agency="early_help",
        consent_basis="given",
    ),
    decided("D6", "C4", "2026-01-08T10:00:00Z", action="change", role="manager", level=3, rag="amber"),
    decided("D7", "C4", "2026-02-02T10:00:00Z", action="change", role="manager", level=1),
    # Nobody decides it.
    contact("C5", "2026-01-05T10:30:00Z", "persistent_absence"),
    # Another child: information only with no history (the service decides it; nobody can call
    # the referrer back), then a level 3 with no consent basis that nobody decides.
    contact("C6", "2025-03-03T10:00:00Z", "no_unmet_needs", child=OTHER, referrer={"name": "X", "role": "y"}),
    contact(
        "C7", "2025-03-04T10:00:00Z", "persistent_absence", child=OTHER, consent={"status": "not_sought"}
    ),
]


def test_a_hand_written_history_is_counted_as_the_service_counts_it() -> None:
    service = replayed(HAND_WRITTEN)
    by_hand = history_from_lines(
        HAND_WRITTEN, default_sources={k: v.value for k, v in DEFAULT_SOURCES.items()}
    )
    now = datetime(2026, 6, 1, tzinfo=UTC)
    start, end = date(2024, 4, 1), date(2026, 3, 31)
    theirs = the_services(service, start, end, now)
    ours = report_figures(by_hand.contacts, by_hand.plans, start, end, now)
    assert not differing(theirs, ours), differing(theirs, ours)
    expected = {
        "contacts": 7,
        "referrals": 2,  # C2, C4
        "re_referrals": 1,  # C4
        "linked_to_open_case": 2,  # C1 (at receipt), C3 (at its decision)
        "referrals_nfa": 2,  # C2 (closed with no further action), C4 (decided it)
        "contacts_nfa": 2,  # C4, C6
        "cp_plans_started": 1,
        "cp_plan_children": 1,
        "decided_by_service": 1,  # C6
        "awaiting_decision": 2,  # C5, C7
    }
    assert {k: ours[k] for k in expected} == expected
    assert ours["data_quality"] == {
        "consent_basis_missing": 1,  # C7
        "referrer_unreachable": 1,  # C6
        "unknown_indicator": 0,
    }
    # C4 was decided first at the next day's meeting, after 12:00: past its one working day.
    assert ours["decided_within_1_working_day_by"]["imm"] == {"decided": 1, "within": 0, "rate": 0.0}
