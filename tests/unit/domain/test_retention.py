"""The retention policy: which children's personal details are erased, and why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from mash.domain.case import CaseRecord
from mash.domain.decisions import DecisionAction
from mash.domain.retention import RetentionPolicy, due_for_erasure, years_after
from tests.support.console_world import contact_event, decision_event, records

SIX_YEARS = RetentionPolicy(nfa_years=6)
THEN = datetime(2019, 3, 12, 10, 0, tzinfo=UTC)


def nfa_contact(contact_id: str, child_key: str, at: datetime = THEN) -> list[CaseRecord]:
    """A contact a coordinator decided needed no further action (level 1: advice, signposting)."""
    contact = contact_event(contact_id, "persistent_absence", at=at, child_key=child_key)
    decided = decision_event(
        contact_id,
        DecisionAction.CHANGE,
        child_key=child_key,
        level=1,
        rag="green",
        decided_at=at + timedelta(hours=2),
    )
    return list(records(contact, decided, child_key=child_key).values())


def test_a_child_whose_every_contact_ended_in_nfa_is_erased_six_years_after_the_last_contact() -> None:
    history = nfa_contact("ct-1", "ck-1")
    assert due_for_erasure(history, SIX_YEARS, date(2025, 3, 11), set()) == []
    [due] = due_for_erasure(history, SIX_YEARS, date(2025, 3, 12), set())
    assert (due.child_key, due.contacts, due.last_contact) == ("ck-1", 1, date(2019, 3, 12))
    assert "no further action" in due.reason
    assert "2019-03-12" in due.reason


def test_a_later_contact_restarts_the_clock() -> None:
    history = nfa_contact("ct-1", "ck-1") + nfa_contact("ct-2", "ck-1", at=THEN + timedelta(days=400))
    assert due_for_erasure(history, SIX_YEARS, date(2025, 6, 1), set()) == []
    assert [d.contacts for d in due_for_erasure(history, SIX_YEARS, date(2026, 5, 1), set())] == [2]


def test_a_child_with_any_contact_still_open_or_not_nfa_is_kept() -> None:
    waiting = list(records(contact_event("ct-2", at=THEN, child_key="ck-2"), child_key="ck-2").values())
    history = nfa_contact("ct-1", "ck-2") + waiting
    assert due_for_erasure(history, SIX_YEARS, date(2040, 1, 1), set()) == []


def test_a_child_already_erased_is_not_erased_again() -> None:
    assert due_for_erasure(nfa_contact("ct-1", "ck-1"), SIX_YEARS, date(2040, 1, 1), {"ck-1"}) == []


def test_children_are_listed_oldest_last_contact_first() -> None:
    history = nfa_contact("ct-b", "ck-b", at=THEN + timedelta(days=30)) + nfa_contact("ct-a", "ck-z")
    assert [d.child_key for d in due_for_erasure(history, SIX_YEARS, date(2040, 1, 1), set())] == [
        "ck-z",
        "ck-b",
    ]


def test_a_29_february_last_contact_counts_from_28_february_in_a_year_without_one() -> None:
    assert years_after(date(2020, 2, 29), 6) == date(2026, 2, 28)
