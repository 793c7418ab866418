"""The console's view: which queues a contact is in and in what order, what a row says about the
child, the screening clocks, and the live-update messages. Pure: no Kafka, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from mash.console.live import MAX_ROWS_PER_MESSAGE, Hub, update_messages
from mash.domain.case import (
    CaseRecord,
    CaseState,
    DecidedBy,
    PlanRecord,
    Recommendation,
    Referral,
)
from mash.domain.contact import CinSource, ConsentStatus, ContactEvent
from mash.domain.decisions import DecisionAction
from mash.domain.ruleset import Rag, Route
from mash.views.clocks import clock
from mash.views.queue_order import Queue, queues_of
from mash.views.queues import ERASED, ConsoleView
from mash.views.summaries import ERASED as ERASED_LINE
from tests.support.console_world import confirm_event, contact_event, decision_event, view_with
from tests.support.keys import sealed_json, test_keyring

# Tuesday 10 March 2026, 10:30 in London (GMT): inside working hours.
NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
ROUTES = {1: Route.UNIVERSAL, 2: Route.EARLY_HELP, 3: Route.SOCIAL_CARE, 4: Route.SOCIAL_CARE}
RAGS = {1: Rag.BLUE, 2: Rag.GREEN, 3: Rag.AMBER, 4: Rag.RED}


def case(contact_id: str, level: int = 3, **changes: Any) -> CaseRecord:
    """A record by hand, waiting for a decision at the level recommended, for the queue rules."""
    received = changes.pop("received_at", NOW - timedelta(hours=1))
    rag = changes.pop("rag", RAGS[level])
    fields: dict[str, Any] = {
        "contact_id": contact_id,
        "child_key": changes.pop("child_key", f"ck-{contact_id}"),
        "agency": "police",
        "source": CinSource.POLICE,
        "received_at": received,
        "accepted_at": received,
        "recommendation": Recommendation(
            level=level,
            rag=rag,
            route=ROUTES[level],
            pathway="a pathway",
            reasons=(),
            ruleset_version="2026.2",
        ),
        "state": CaseState.AWAITING_DECISION,
        "level": level,
        "rag": rag,
        "route": ROUTES[level],
        "pathway": "a pathway",
        "due_at": received + timedelta(hours=4),
        "decided_at": None,
        "decided_by": None,
        "referral": Referral.NOT_REFERRED,
        "case_id": None,
        "re_referral": False,
        "nfa": None,
        "case_closed_at": None,
        "imm_agenda": level >= 2,
        "consent_status": ConsentStatus.GIVEN,
        "consent_reason": None,
        "data_quality": (),
        "children_in_submission": 1,
        "awaiting_sign_off": False,
        "trail": (),
    }
    fields.update(changes)
    return CaseRecord(**fields)


def decided(record: CaseRecord, **changes: Any) -> CaseRecord:
    update: dict[str, Any] = {
        "state": CaseState.DECIDED,
        "decided_at": NOW - timedelta(minutes=5),
        "decided_by": DecidedBy.COORDINATOR,
        **changes,
    }
    return record.model_copy(update=update)


def closed(record: CaseRecord, at: datetime) -> CaseRecord:
    return record.model_copy(update={"state": CaseState.CLOSED, "case_closed_at": at, "imm_agenda": False})


# --- queue membership -------------------------------------------------------------------------


def test_an_undecided_case_awaits_a_decision_and_is_on_the_imm_agenda_at_levels_2_to_4() -> None:
    assert queues_of(case("a", level=3)) == {Queue.AWAITING, Queue.IMM}
    assert queues_of(case("b", level=1, imm_agenda=False)) == {Queue.AWAITING}


def test_a_recommendation_of_social_care_is_not_in_the_social_care_queue_until_a_person_decides() -> None:
    waiting = view_with(contact_event("ct-1", "persistent_absence"))
    assert waiting.records["ct-1"].route is Route.SOCIAL_CARE  # what is recommended
    assert waiting.counts(NOW)[Queue.SOCIAL_CARE] == 0
    assert [r.contact_id for r in waiting.page(Queue.AWAITING, NOW)] == ["ct-1"]

    confirmed = view_with(contact_event("ct-1", "persistent_absence"), confirm_event("ct-1", 3))
    assert confirmed.records["ct-1"].referral is Referral.REFERRAL
    assert queues_of(confirmed.records["ct-1"]) == {Queue.SOCIAL_CARE, Queue.IMM}


def test_decided_cases_go_to_their_route_and_closed_ones_only_to_recently_closed() -> None:
    assert queues_of(decided(case("eh", level=2))) == {Queue.EARLY_HELP, Queue.IMM}
    assert queues_of(decided(case("sc", level=4))) == {Queue.SOCIAL_CARE, Queue.IMM}
    assert queues_of(decided(case("sc", level=4), imm_agenda=False)) == {Queue.SOCIAL_CARE}
    assert queues_of(closed(decided(case("c", level=4)), NOW)) == {Queue.CLOSED}


def test_a_contact_about_a_child_whose_case_is_open_waits_and_is_listed_for_the_allocated_worker() -> None:
    view = view_with(
        contact_event("ct-1", "persistent_absence", at=NOW - timedelta(days=2)),
        confirm_event("ct-1", 3, decided_at=NOW - timedelta(days=1)),
        contact_event("ct-2", "young_carer_outcomes_affected", at=NOW - timedelta(hours=1)),
    )
    linked = view.records["ct-2"]
    assert (linked.state, linked.referral) == (CaseState.AWAITING_DECISION, Referral.LINKED_TO_OPEN_CASE)
    assert queues_of(linked) == {Queue.AWAITING, Queue.SOCIAL_CARE}
    assert [r.contact_id for r in view.page(Queue.SOCIAL_CARE, NOW)] == ["ct-1", "ct-2"]


def test_imm_agenda_needs_level_2_to_4_even_if_flagged() -> None:
    assert Queue.IMM not in queues_of(case("x", level=1, imm_agenda=True))


# --- ordering, counts and moves ----------------------------------------------------------------


def test_awaiting_is_soonest_due_first_so_overdue_lead_and_no_target_comes_last() -> None:
    view = ConsoleView()
    view.apply_case(case("later", due_at=NOW + timedelta(hours=3)))
    view.apply_case(case("blue", level=1, due_at=None))
    view.apply_case(case("overdue", due_at=NOW - timedelta(minutes=10)))
    view.apply_case(case("soon", due_at=NOW + timedelta(minutes=30)))
    listed = [r.contact_id for r in view.page(Queue.AWAITING, NOW)]
    assert listed == ["overdue", "soon", "later", "blue"]
    assert view.overdue_count(NOW) == 1
    assert view.overdue_by_rag(NOW)[Rag.AMBER] == 1
    assert view.overdue_by_rag(NOW)[Rag.RED] == 0


def test_a_decision_moves_the_case_between_queues_and_reports_where_from_and_to() -> None:
    view = ConsoleView()
    first = case("c1", level=3)
    view.apply_case(first)
    [change] = view.apply_case(decided(first, level=2, rag=Rag.GREEN, route=Route.EARLY_HELP))
    assert change.before == {Queue.AWAITING, Queue.IMM}
    assert change.after == {Queue.EARLY_HELP, Queue.IMM}
    counts = view.counts(NOW)
    assert (counts[Queue.AWAITING], counts[Queue.EARLY_HELP], counts[Queue.IMM]) == (0, 1, 1)


def test_the_same_record_twice_changes_nothing() -> None:
    view = ConsoleView()
    record = case("c1")
    assert view.apply_case(record)
    version = view.version
    assert view.apply_case(record) == []
    assert view.version == version


def test_the_latest_record_wins() -> None:
    view = ConsoleView()
    view.apply_case(case("c1", level=3))
    view.apply_case(case("c1", level=4))
    assert view.records["c1"].level == 4
    assert [r.contact_id for r in view.page(Queue.AWAITING, NOW)] == ["c1"]


def test_recently_closed_is_the_last_7_days_newest_first() -> None:
    view = ConsoleView()
    view.apply_case(closed(case("old", level=4), NOW - timedelta(days=8)))
    view.apply_case(closed(case("week", level=4), NOW - timedelta(days=6)))
    view.apply_case(closed(case("today", level=4), NOW - timedelta(hours=1)))
    assert [r.contact_id for r in view.page(Queue.CLOSED, NOW)] == ["today", "week"]
    assert view.counts(NOW)[Queue.CLOSED] == 2
    assert view.position(Queue.CLOSED, "old", NOW) is None
    assert view.position(Queue.CLOSED, "today", NOW) == 0


def test_an_nfa_decision_counts_as_closed_when_decided() -> None:
    view = ConsoleView()
    nfa = decided(case("nfa", level=1), state=CaseState.CLOSED, imm_agenda=False)
    view.apply_case(nfa)
    assert [r.contact_id for r in view.page(Queue.CLOSED, NOW)] == ["nfa"]


def test_imm_agenda_is_highest_level_first_then_longest_waiting() -> None:
    view = ConsoleView()
    view.apply_case(case("l2-old", level=2, received_at=NOW - timedelta(days=2)))
    view.apply_case(case("l4", level=4))
    view.apply_case(case("l2-new", level=2))
    assert [r.contact_id for r in view.page(Queue.IMM, NOW)] == ["l4", "l2-old", "l2-new"]


def test_route_queues_are_longest_waiting_first_and_pages_are_slices() -> None:
    view = ConsoleView()
    for hours in range(5):
        view.apply_case(decided(case(f"c{hours}", level=3, received_at=NOW - timedelta(hours=hours))))
    assert [r.contact_id for r in view.page(Queue.SOCIAL_CARE, NOW, offset=1, limit=2)] == ["c3", "c2"]
    assert view.position(Queue.SOCIAL_CARE, "c4", NOW) == 0


def test_oldest_waiting_is_the_longest_undecided_case() -> None:
    view = ConsoleView()
    assert view.oldest_waiting_seconds(NOW) == 0.0
    view.apply_case(case("a", received_at=NOW - timedelta(hours=2)))
    view.apply_case(case("b", received_at=NOW - timedelta(hours=5), due_at=NOW + timedelta(days=2)))
    assert view.oldest_waiting_seconds(NOW) == 5 * 3600


def test_history_shows_the_childs_other_contacts_open_case_and_plans() -> None:
    view = ConsoleView()
    referral = decided(case("first", level=4, child_key="ck-1", received_at=NOW - timedelta(days=30)))
    referral = referral.model_copy(update={"referral": Referral.REFERRAL, "case_id": "first"})
    view.apply_case(referral)
    view.apply_case(case("second", level=3, child_key="ck-1"))
    view.apply_case(case("stranger", level=3, child_key="ck-2"))
    changes = view.apply_plan(
        PlanRecord(
            plan_id="plan-1",
            child_key="ck-1",
            started_at=NOW - timedelta(days=20),
            ended_at=None,
            second_or_subsequent=False,
        )
    )
    assert {c.contact_id for c in changes} == {"first", "second"}
    assert not any(c.record_changed for c in changes)
    history = view.history("second")
    assert [r.contact_id for r in history.others] == ["first"]
    assert history.open_case is not None
    assert history.open_case.contact_id == "first"
    assert [p.plan_id for p in history.plans] == ["plan-1"]


def test_a_new_contact_about_a_child_touches_the_childs_other_cases() -> None:
    view = ConsoleView()
    view.apply_case(case("first", child_key="ck-1"))
    changes = view.apply_case(case("second", child_key="ck-1"))
    assert [(c.contact_id, c.record_changed) for c in changes] == [("second", True), ("first", False)]


# --- clocks ---------------------------------------------------------------------------------------


def test_red_counts_clock_time_and_shows_overdue() -> None:
    assert clock(Rag.RED, NOW + timedelta(hours=2, minutes=14), NOW).text == "2 h 14 m left"
    late = clock(Rag.RED, NOW - timedelta(minutes=35), NOW)
    assert late.overdue
    assert late.text == "overdue by 35 m"


def test_amber_counts_working_time_only() -> None:
    # Due Wednesday 10:30: from Tuesday 10:30 that is one working day of 8 hours.
    due = NOW + timedelta(days=1)
    assert clock(Rag.AMBER, due, NOW).text == "1 working day left (working time)"
    # Friday 16:00, due Monday 10:00: 1 h on Friday + 1 h on Monday.
    friday = datetime(2026, 3, 13, 16, 0, tzinfo=UTC)
    monday = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)
    result = clock(Rag.GREEN, monday, friday)
    assert result.working
    assert not result.overdue
    assert result.text == "2 h left (working time)"


def test_amber_overdue_is_measured_in_working_time() -> None:
    due = datetime(2026, 3, 13, 16, 0, tzinfo=UTC)  # Friday 16:00
    monday = datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
    result = clock(Rag.AMBER, due, monday)
    assert result.overdue
    assert result.text == "overdue by 1 h 30 m (working time)"


def test_blue_has_no_target() -> None:
    assert clock(Rag.BLUE, None, NOW).text == "no target"


# --- live-update messages -------------------------------------------------------------------------


def _data(message: bytes) -> dict[str, Any]:
    [line] = [ln for ln in message.decode().splitlines() if ln.startswith("data: ")]
    parsed: dict[str, Any] = orjson.loads(line[len("data: ") :])
    return parsed


def test_an_update_carries_each_moved_row_once_with_its_place_and_counts_only_for_read_only() -> None:
    view = ConsoleView()
    view.apply_case(case("a", due_at=NOW + timedelta(hours=1)))
    first = case("b", due_at=NOW + timedelta(hours=2))
    changes = view.apply_case(first)
    changes += view.apply_case(decided(first, level=2, rag=Rag.GREEN, route=Route.EARLY_HELP))
    rendered: list[tuple[Queue, str]] = []

    def render(queue: Queue, cid: str, _: datetime) -> str:
        rendered.append((queue, cid))
        return f"<tr data-id='{cid}'></tr>"

    full, counts_only = update_messages(view, changes, NOW, render)
    data = _data(full)
    ops = {(r["queue"], r["op"], r.get("index")) for r in data["rows"]}
    # b entered awaiting and left it within one batch: browsers only need the net effect.
    assert ops == {("early_help", "upsert", 0), ("imm", "upsert", 1)}
    assert sorted(rendered) == [(Queue.EARLY_HELP, "b"), (Queue.IMM, "b")]
    assert data["counts"]["awaiting"] == 1
    assert data["touched"] == ["b"]
    assert set(_data(counts_only)) == {"version", "counts", "overdue"}


def test_a_large_batch_becomes_a_resync_instead_of_rendering_every_row() -> None:
    view = ConsoleView()
    changes = []
    for i in range(MAX_ROWS_PER_MESSAGE + 1):
        changes += view.apply_case(case(f"c{i}"))
    full, _ = update_messages(view, changes, NOW, lambda *_: pytest.fail("rendered a row"))
    assert _data(full)["resync"] is True


async def test_a_browser_that_falls_behind_is_dropped_and_told_to_reconnect() -> None:
    hub = Hub()
    slow = hub.subscribe(sees_cases=True)
    for _ in range(slow.queue.maxsize + 1):
        hub.publish(b"full", b"counts")
    assert slow not in hub.subscribers
    assert slow.queue.get_nowait() is None


# --- what a row says about the child --------------------------------------------------------------


def test_a_row_names_the_child_by_initials_and_age_on_the_day_the_contact_was_received() -> None:
    view = view_with(
        contact_event("ct-1", given="quillon", family="Marchbank", born=date(2013, 9, 30)),
        contact_event("ct-2", child_key="ck-2", given="Ada", family="Greenway", expected=date(2026, 5, 1)),
        contact_event("ct-3", child_key="ck-3", given="Bo", family="Byrne", born=date(2025, 11, 2)),
    )
    lines = {cid: view.child_line(cid) for cid in ("ct-1", "ct-2", "ct-3")}
    assert {cid: (line.initials, line.age) for cid, line in lines.items() if line} == {
        "ct-1": ("QM", "aged 12"),
        "ct-2": ("AG", "unborn"),
        "ct-3": ("BB", "under 1"),
    }


def test_a_birthday_on_the_london_date_of_receipt_counts_though_it_was_still_the_day_before_in_utc() -> None:
    # 23:30 UTC on 29 June is 00:30 on 30 June in London (BST): the child's 10th birthday.
    at = datetime(2026, 6, 29, 23, 30, tzinfo=UTC)
    view = view_with(contact_event("ct-1", at=at, born=date(2016, 6, 30)))
    line = view.child_line("ct-1")
    assert line is not None
    assert line.age == "aged 10"


def test_a_contact_read_after_its_record_shows_its_row_again_with_the_child() -> None:
    view = ConsoleView(test_keyring())
    event = contact_event("ct-1")
    [record] = view_with(event).records.values()
    view.apply_case(record)
    assert view.child_line("ct-1") is None
    raw = sealed_json(view.keyring, event)
    changes = view.add_contact("ct-1", raw)
    assert [(c.contact_id, c.record_changed, c.after) for c in changes] == [
        ("ct-1", True, frozenset({Queue.AWAITING, Queue.IMM}))
    ]
    assert view.child_line("ct-1") is not None
    assert view.add_contact("ct-1", raw) == []  # read again: nothing new


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"schema_version": 2}'])
def test_an_unreadable_contact_gives_no_child_line_rather_than_an_error(raw: bytes) -> None:
    view = ConsoleView(test_keyring())
    view.add_contact("ct-1", raw)
    assert view.child_line("ct-1") is None


def test_a_contact_sealed_under_a_key_this_console_does_not_hold_gives_no_child_line() -> None:
    elsewhere = test_keyring()
    view = ConsoleView(test_keyring())
    view.add_contact("ct-1", sealed_json(elsewhere, contact_event("ct-1")))
    assert view.child_line("ct-1") is None


def test_once_a_childs_key_is_erased_its_rows_say_so_and_its_contacts_open_no_more() -> None:
    view = view_with(contact_event("ct-1"), contact_event("ct-2", child_key="ck-2"))
    assert view.child_line("ct-1") is not None  # read once and kept: erasure must drop it
    [key_id] = view.keyring.keys_of({"ct-1"})
    changes = view.on_key(key_id.encode(), None)
    assert [c.contact_id for c in changes] == ["ct-1"]
    assert view.child_line("ct-1") == ERASED_LINE
    assert view.opened("ct-1") is ERASED
    assert isinstance(view.opened("ct-2"), ContactEvent)  # another child's details stay


def test_a_decided_early_help_contact_is_in_the_early_help_queue() -> None:
    view = view_with(
        contact_event("ct-1", "persistent_absence"),
        decision_event("ct-1", DecisionAction.CHANGE, level=2),
    )
    assert [r.contact_id for r in view.page(Queue.EARLY_HELP, NOW)] == ["ct-1"]
    assert view.counts(NOW)[Queue.AWAITING] == 0
