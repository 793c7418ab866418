"""The console's queue rules, clocks, decision form and live-update messages, without Kafka or HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from mash.config import Settings
from mash.console.app import create_console_app
from mash.console.forms import Refused, decision_from_form, pending_sign_offs
from mash.console.live import MAX_ROWS_PER_MESSAGE, Hub, update_messages
from mash.console.present import environment
from mash.console.users import ConsoleRole, User, UserDirectory, hash_password, write_demo_users
from mash.console.view import ConsoleView, Queue, clock, queues_of
from mash.domain.case import CaseRecord, CaseState, PlanRecord, Referral, TrailItem, TrailStatus
from mash.domain.contact import CinSource, ConsentStatus
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.domain.ruleset import Rag, Route, load_ruleset

# Tuesday 10 March 2026, 10:30 in London (GMT): inside working hours.
NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
ROUTES = {1: Route.UNIVERSAL, 2: Route.EARLY_HELP, 3: Route.SOCIAL_CARE, 4: Route.SOCIAL_CARE}
RAGS = {1: Rag.BLUE, 2: Rag.GREEN, 3: Rag.AMBER, 4: Rag.RED}


def case(contact_id: str, level: int = 3, **changes: Any) -> CaseRecord:
    received = changes.pop("received_at", NOW - timedelta(hours=1))
    rag = changes.pop("rag", RAGS[level])
    fields: dict[str, Any] = {
        "contact_id": contact_id,
        "child_key": changes.pop("child_key", f"ck-{contact_id}"),
        "agency": "police",
        "source": CinSource.POLICE,
        "received_at": received,
        "accepted_at": received,
        "state": CaseState.AWAITING_DECISION,
        "screened_level": level,
        "screened_rag": rag,
        "level": level,
        "rag": rag,
        "due_at": received + timedelta(hours=4),
        "decided_at": None,
        "reasons": (),
        "ruleset_version": "2026.1",
        "route": ROUTES[level],
        "pathway": "a pathway",
        "referral": Referral.NOT_REFERRED,
        "case_id": None,
        "re_referral": False,
        "nfa": None,
        "case_closed_at": None,
        "imm_agenda": level >= 2,
        "consent_status": ConsentStatus.GIVEN,
        "consent_reason": None,
        "children_in_submission": 1,
        "awaiting_sign_off": False,
        "trail": (),
    }
    fields.update(changes)
    return CaseRecord(**fields)


def decided(record: CaseRecord, **changes: Any) -> CaseRecord:
    update: dict[str, Any] = {"state": CaseState.DECIDED, "decided_at": NOW - timedelta(minutes=5), **changes}
    return record.model_copy(update=update)


def closed(record: CaseRecord, at: datetime) -> CaseRecord:
    return record.model_copy(update={"state": CaseState.CLOSED, "case_closed_at": at, "imm_agenda": False})


# --- queue membership -------------------------------------------------------------------------


def test_an_undecided_case_awaits_a_decision_and_is_on_the_imm_agenda_at_levels_2_to_4() -> None:
    assert queues_of(case("a", level=3)) == {Queue.AWAITING, Queue.IMM}
    assert queues_of(case("b", level=1, imm_agenda=False)) == {Queue.AWAITING}


def test_decided_cases_go_to_their_route_and_closed_ones_only_to_recently_closed() -> None:
    assert queues_of(decided(case("eh", level=2))) == {Queue.EARLY_HELP, Queue.IMM}
    assert queues_of(decided(case("sc", level=4))) == {Queue.SOCIAL_CARE, Queue.IMM}
    assert queues_of(decided(case("sc", level=4), imm_agenda=False)) == {Queue.SOCIAL_CARE}
    assert queues_of(closed(decided(case("c", level=4)), NOW)) == {Queue.CLOSED}


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


# --- the decision form ----------------------------------------------------------------------------

COORDINATOR = User(username="cora", role=ConsoleRole.COORDINATOR, password_hash="$argon2id$x")
MANAGER = User(username="mani", role=ConsoleRole.MANAGER, password_hash="$argon2id$x")


def form(record: CaseRecord, **fields: str) -> dict[str, str]:
    return {"seen_level": str(record.level), "seen_rag": record.rag.value, **fields}


@pytest.mark.parametrize("rationale", ["", "   \n  "])
def test_a_decision_without_a_rationale_is_refused(rationale: str) -> None:
    record = case("c1")
    outcome = decision_from_form(
        form(record, action="confirm", rationale=rationale), record, COORDINATOR, NOW
    )
    assert isinstance(outcome, Refused)
    assert any("rationale" in e for e in outcome.errors)


def test_a_change_of_level_becomes_a_decision_event_with_who_when_and_why() -> None:
    record = case("c1", level=3)
    fields = form(record, action="change", level="2", rag="", rationale="Family engaging; early help fits.")
    event = decision_from_form(fields, record, COORDINATOR, NOW)
    assert isinstance(event, DecisionEvent)
    assert (event.action, event.level, event.rag) == (DecisionAction.CHANGE, 2, None)
    assert (event.by, event.role, event.decided_at, event.child_key) == (
        "cora",
        Role.COORDINATOR,
        NOW,
        "ck-c1",
    )
    assert re.fullmatch(r"dc-[0-9a-f]{32}", event.decision_id)


def test_a_change_of_rag_only_keeps_the_level() -> None:
    record = case("c1", level=3)
    event = decision_from_form(
        form(record, action="change", level="3", rag="red", rationale="why"), record, MANAGER, NOW
    )
    assert isinstance(event, DecisionEvent)
    assert (event.level, event.rag, event.role) == (None, Rag.RED, Role.MANAGER)


def test_a_change_that_changes_nothing_is_refused() -> None:
    record = case("c1", level=3)
    outcome = decision_from_form(
        form(record, action="change", level="3", rag="", rationale="why"), record, COORDINATOR, NOW
    )
    assert isinstance(outcome, Refused)


def test_a_decision_on_a_stale_view_of_the_case_is_refused() -> None:
    record = case("c1", level=3)
    fields = {"seen_level": "4", "seen_rag": "red", "action": "change", "level": "3", "rationale": "why"}
    outcome = decision_from_form(fields, record, COORDINATOR, NOW)
    assert isinstance(outcome, Refused)
    assert any("changed while you had it open" in e for e in outcome.errors)


def trail_item(
    decision_id: str,
    status: TrailStatus,
    to_level: int = 3,
    to_rag: Rag = Rag.AMBER,
    signs_off: str | None = None,
) -> TrailItem:
    return TrailItem(
        decision_id=decision_id,
        at=NOW,
        by="someone",
        role=Role.MANAGER if status == "signed_off" else Role.COORDINATOR,
        action=DecisionAction.SIGN_OFF if status == "signed_off" else DecisionAction.CHANGE,
        from_level=4,
        to_level=to_level,
        from_rag=Rag.RED,
        to_rag=to_rag,
        rationale="why",
        status=status,
        signs_off=signs_off,
    )


def test_a_signed_off_change_no_longer_waits_for_sign_off() -> None:
    first, second = (
        trail_item("dc-1", "awaiting_sign_off"),
        trail_item("dc-2", "awaiting_sign_off", 2, Rag.GREEN),
    )
    signed = trail_item("dc-3", "signed_off", signs_off="dc-1")
    assert pending_sign_offs(case("c", level=4, trail=(first, second), awaiting_sign_off=True)) == {
        "dc-1",
        "dc-2",
    }
    assert pending_sign_offs(case("c", level=4, trail=(first, second, signed), awaiting_sign_off=True)) == {
        "dc-2"
    }
    assert pending_sign_offs(case("c", level=3, trail=(first, signed), awaiting_sign_off=False)) == set()


def test_a_sign_off_releases_the_change_it_names_even_when_another_asks_for_the_same_level() -> None:
    first, second = trail_item("dc-1", "awaiting_sign_off"), trail_item("dc-2", "awaiting_sign_off")
    signed = trail_item("dc-3", "signed_off", signs_off="dc-2")
    assert pending_sign_offs(case("c", level=3, trail=(first, second, signed), awaiting_sign_off=True)) == {
        "dc-1"
    }


def test_only_a_manager_signs_off_and_only_a_decision_awaiting_it() -> None:
    item = TrailItem(
        decision_id="dc-1",
        at=NOW,
        by="cora",
        role=Role.COORDINATOR,
        action=DecisionAction.CHANGE,
        from_level=4,
        to_level=3,
        from_rag=Rag.RED,
        to_rag=Rag.AMBER,
        rationale="why",
        status="awaiting_sign_off",
    )
    record = case("c1", level=4, trail=(item,), awaiting_sign_off=True)
    fields = form(record, action="sign_off", signs_off="dc-1", rationale="Agreed.")
    assert isinstance(decision_from_form(fields, record, COORDINATOR, NOW), Refused)
    event = decision_from_form(fields, record, MANAGER, NOW)
    assert isinstance(event, DecisionEvent)
    assert event.signs_off == "dc-1"
    other = form(record, action="sign_off", signs_off="dc-nope", rationale="Agreed.")
    assert isinstance(decision_from_form(other, record, MANAGER, NOW), Refused)


def test_no_decisions_on_a_closed_case() -> None:
    record = closed(case("c1", level=4), NOW)
    outcome = decision_from_form(form(record, action="confirm", rationale="why"), record, COORDINATOR, NOW)
    assert isinstance(outcome, Refused)


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


# --- users ----------------------------------------------------------------------------------------


def test_demo_users_get_random_passwords_stored_only_as_argon2_hashes(tmp_path: Path) -> None:
    shown = write_demo_users(tmp_path / "users.json", tmp_path / "demo-users.json")
    assert {name: role for name, (role, _) in shown.items()} == {
        "coordinator": "coordinator",
        "manager": "manager",
        "operations": "read_only",
    }
    stored = (tmp_path / "users.json").read_text()
    assert "$argon2id$" in stored
    for _, password in shown.values():
        assert password not in stored
    directory = UserDirectory(tmp_path / "users.json")
    coordinator = directory.authenticate("coordinator", shown["coordinator"][1])
    assert coordinator is not None
    assert coordinator.role is ConsoleRole.COORDINATOR
    assert directory.authenticate("coordinator", shown["manager"][1]) is None
    assert directory.authenticate("nobody", "anything") is None
    assert write_demo_users(tmp_path / "u2.json", tmp_path / "d2.json")["manager"][1] != shown["manager"][1]


def test_roles_decide_who_may_decide_and_sign_off() -> None:
    hashed = hash_password("x")
    ops = User(username="ops", role=ConsoleRole.READ_ONLY, password_hash=hashed)
    assert not ops.can_decide
    assert not ops.can_sign_off
    assert COORDINATOR.can_decide
    assert not COORDINATOR.can_sign_off
    assert MANAGER.can_decide
    assert MANAGER.can_sign_off


# --- the web app's guards (no Kafka: the app's lifespan is not started) ---------------------------


def _app_client(tmp_path: Path, secure: bool) -> tuple[TestClient, dict[str, tuple[str, str]]]:
    users = write_demo_users(tmp_path / "users.json", tmp_path / "demo.json")
    settings = Settings(
        mode="development",
        console_session_secret="unit-secret",
        console_secure_cookies=secure,
        console_users_file=tmp_path / "users.json",
    )
    app = create_console_app(settings, UserDirectory(settings.console_users_file), load_ruleset())
    return TestClient(app, base_url="https://console.test", follow_redirects=False), users


def _sign_in(client: TestClient, username: str, password: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post(
        "/login", data={"csrf_token": token.group(1), "username": username, "password": password}
    )
    assert answer.status_code == 303


def test_session_cookies_are_secure_httponly_and_strict_in_production(tmp_path: Path) -> None:
    client, _ = _app_client(tmp_path, secure=True)
    flags = client.get("/login").headers["set-cookie"].lower()
    assert "secure" in flags
    assert "httponly" in flags
    assert "samesite=strict" in flags


def test_read_only_users_get_403_on_cases_and_lists(tmp_path: Path) -> None:
    client, users = _app_client(tmp_path, secure=True)
    _sign_in(client, "operations", users["operations"][1])
    assert client.get("/").headers["location"] == "/overview"
    for path in ("/cases/ct-anything", "/cases/ct-anything/live", "/queues/awaiting", "/queues/imm/rows"):
        assert client.get(path).status_code == 403, path
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    posted = client.post(
        "/cases/ct-anything/decisions", data={"csrf_token": token.group(1), "rationale": "x"}
    )
    assert posted.status_code == 403


def test_only_a_session_opens_the_console_never_an_api_key(tmp_path: Path) -> None:
    client, _ = _app_client(tmp_path, secure=True)
    partner = {"Authorization": "Bearer mash_police_some-real-looking-key"}
    assert client.get("/queues/awaiting", headers=partner).headers["location"] == "/login"
    assert client.get("/counts", headers=partner).status_code == 401
    assert client.post("/cases/ct-x/decisions", headers=partner, data={"rationale": "x"}).status_code == 401


def test_a_coordinator_post_without_the_csrf_token_is_refused(tmp_path: Path) -> None:
    client, users = _app_client(tmp_path, secure=True)
    _sign_in(client, "coordinator", users["coordinator"][1])
    refused = client.post("/cases/ct-x/decisions", data={"action": "confirm", "rationale": "why"})
    assert refused.status_code == 403
    assert client.post("/logout", data={}).status_code == 403


def test_rows_and_the_case_page_render_for_every_queue_with_rag_as_text() -> None:
    env = environment()
    view = ConsoleView()
    waiting = case("c1", level=4, trail=(trail_item("dc-1", "awaiting_sign_off"),), awaiting_sign_off=True)
    view.apply_case(waiting)
    for queue in Queue:
        html = env.get_template("_row.html").render(r=waiting, queue=queue, now=NOW)
        assert html.strip().startswith('<tr data-id="c1"')
        assert ">Red</span>" in html
    manager = User(username="mani", role=ConsoleRole.MANAGER, password_hash="$argon2id$x")
    page = env.get_template("_case_live.html").render(
        r=waiting,
        contact=None,
        history=view.history("c1"),
        pending=pending_sign_offs(waiting),
        catalogue={},
        usual_rag=RAGS,
        rags=list(Rag),
        user=manager,
        csrf="token",
        now=NOW,
        errors=[],
        form={},
    )
    assert 'name="signs_off" value="dc-1"' in page
    assert "Awaiting manager sign-off" in page
