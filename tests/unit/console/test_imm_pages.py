"""The console's integrated mid-day meeting pages: the recording form, the figures' collector and
the pages' guards."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mash.config import Settings
from mash.console.imm_forms import CARRY, meeting_from_form
from mash.console.imm_metrics import ImmCollector
from mash.console.imm_present import item_result
from mash.console.present import Said, environment
from mash.console.users import ConsoleRole, User, hash_password
from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.case import CaseRecord, CaseState
from mash.domain.contact import ConsentStatus
from mash.domain.decisions import (
    ImmAction,
    ImmOutcome,
    PartnerAgency,
    Role,
)
from mash.domain.imm import (
    AgendaFrozen,
)
from mash.domain.timeline import DecisionEntry
from mash.services.meeting import FormRefused, Recorded
from tests.support.imm_world import (
    FRI,
    LEVEL_2,
    LEVEL_4,
    MEETING_AT,
    RULESET,
    World,
    change,
    contact,
    london,
    record,
    week_for_figures,
)
from tests.support.keys import MASTER_KEYS, test_keyring


def test_the_prometheus_collector_reports_the_same_figures_with_no_personal_labels() -> None:
    world = week_for_figures()
    records = {r.contact_id: r for r in world.records()}
    metrics = {m.name: m for m in ImmCollector(world.log, records, DEFAULT_CALENDAR).compute()}
    value = {name: m.samples[0].value for name, m in metrics.items() if len(m.samples) == 1}
    assert value["mash_imm_meetings_frozen"] == 2
    assert value["mash_imm_agenda_cases"] == 4
    assert value["mash_imm_discussed_cases"] == 3
    assert value["mash_imm_carried_over_cases"] == 1
    assert value["mash_imm_latest_agenda_cases"] == 1
    assert value["mash_imm_decided_within_1_working_day_ratio"] == pytest.approx(2 / 3)
    outcomes = {
        (s.labels["outcome"], s.labels["lead_agency"]): s.value for s in metrics["mash_imm_outcomes"].samples
    }
    assert outcomes == {
        ("csc_assessment", "early_help"): 1,
        ("early_help", "early_help"): 1,
        ("strategy_discussion", "early_help"): 1,
    }
    attendance = {s.labels["agency"]: s.value for s in metrics["mash_imm_attendance"].samples}
    assert (attendance["police"], attendance["education"]) == (2, 0)
    histogram = {s.name: s for s in metrics["mash_imm_contact_to_decision_seconds"].samples}
    assert histogram["mash_imm_contact_to_decision_seconds_count"].value == 3
    buckets = {
        s.labels["le"]: s.value
        for s in metrics["mash_imm_contact_to_decision_seconds"].samples
        if "le" in s.labels
    }
    assert (buckets["14400.0"], buckets["86400.0"], buckets["+Inf"]) == (1, 2, 3)
    for m in metrics.values():
        for sample in m.samples:
            assert not any(v.startswith(("ct-", "ck-")) for v in sample.labels.values())


# --- the recording form (pure) -----------------------------------------------------------------------


COORDINATOR = User(username="coordinator", role=ConsoleRole.COORDINATOR, password_hash=hash_password("x"))


def _agenda_of_three() -> tuple[AgendaFrozen, dict[str, CaseRecord]]:
    world = World()
    world.add("ck-1", contact("ct-a", london(FRI, 9), LEVEL_2))
    world.add("ck-2", contact("ct-b", london(FRI, 9, 30)))
    world.add("ck-3", contact("ct-c", london(FRI, 10), LEVEL_4))
    agenda = world.freeze(FRI)
    assert agenda is not None
    return agenda, {r.contact_id: r for r in world.records()}


def _filled() -> dict[str, str]:
    return {
        "present.police": "on",
        "present.childrens_social_care": "on",
        "ct-a.outcome": "early_help",
        "ct-a.lead": "early_help",
        "ct-a.consent": "given",
        "ct-a.rationale": "Family want support; health checks missed.",
        "ct-a.action1.what": "Allocate a family support worker",
        "ct-a.action1.owner": "Early help hub",
        "ct-a.action1.due": "2026-09-04",
        "ct-b.outcome": "csc_assessment",
        "ct-b.lead": "childrens_social_care",
        "ct-b.consent": "given",
        "ct-b.rationale": "Persistent absence with parental mental ill-health.",
        "ct-b.dissent": "Education preferred early help first.",
        "ct-c.outcome": CARRY,
    }


def test_a_recording_form_gives_one_decision_per_case_discussed_and_the_meeting_record() -> None:
    agenda, records = _agenda_of_three()
    result = meeting_from_form(_filled(), agenda, records, COORDINATOR, MEETING_AT, "rec1")
    assert isinstance(result, Recorded)
    b, a = result.decisions  # in agenda order: amber ct-b before green ct-a
    assert (a.decision_id, a.contact_id, a.child_key, a.outcome, a.meeting_id) == (
        "dc-rec1-ct-a",
        "ct-a",
        "ck-1",
        ImmOutcome.EARLY_HELP,
        "imm-2026-08-28",
    )
    assert a.actions == [
        ImmAction(what="Allocate a family support worker", owner="Early help hub", due=date(2026, 9, 4))
    ]
    assert (b.lead_agency, b.dissent, b.role, b.by) == (
        PartnerAgency.CHILDRENS_SOCIAL_CARE,
        "Education preferred early help first.",
        Role.COORDINATOR,
        "coordinator",
    )
    meeting = result.meeting
    assert (meeting.discussed, meeting.carried, meeting.closed) == (("ct-b", "ct-a"), ("ct-c",), ())
    assert meeting.agencies_present == (PartnerAgency.CHILDRENS_SOCIAL_CARE, PartnerAgency.POLICE)


def test_an_item_left_alone_carries_over() -> None:
    agenda, records = _agenda_of_three()
    result = meeting_from_form({"present.police": "on"}, agenda, records, COORDINATOR, MEETING_AT, "r")
    assert isinstance(result, Recorded)
    assert (result.decisions, result.meeting.carried) == ([], ("ct-c", "ct-b", "ct-a"))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"ct-a.rationale": "  "}, "Case ct-a: give the rationale"),
        ({"ct-a.lead": ""}, "Case ct-a: choose the agreed lead agency"),
        ({"ct-a.consent": ""}, "Case ct-a: early help needs the family's consent"),
        ({"ct-a.consent": "not_required"}, "Case ct-a: early help needs the family's consent"),
        ({"ct-a.outcome": "single_agency"}, "Case ct-a: name the single agency"),
        ({"ct-a.action1.owner": ""}, "Case ct-a, action 1: give what is to be done"),
        ({"ct-a.action1.due": "next week"}, "Case ct-a, action 1: the due date must be a date"),
        ({"ct-a.outcome": "send_a_letter"}, "Case ct-a: choose an outcome"),
        ({"present.police": "", "present.childrens_social_care": ""}, "Tick the agencies present"),
    ],
)
def test_a_form_missing_what_the_record_needs_is_refused_with_words_to_act_on(
    change: dict[str, str], error: str
) -> None:
    agenda, records = _agenda_of_three()
    result = meeting_from_form(_filled() | change, agenda, records, COORDINATOR, MEETING_AT, "r")
    assert isinstance(result, FormRefused)
    assert any(e.startswith(error) for e in result.errors), result.errors


def test_a_case_closed_since_the_freeze_is_recorded_as_closed_and_an_outcome_for_it_is_refused() -> None:
    agenda, records = _agenda_of_three()
    closed = records["ct-c"].model_copy(
        update={"state": CaseState.CLOSED, "case_closed_at": london(FRI, 11, 45)}
    )
    records = records | {"ct-c": closed}
    result = meeting_from_form(_filled(), agenda, records, COORDINATOR, MEETING_AT, "r")
    assert isinstance(result, Recorded)
    assert (result.meeting.carried, result.meeting.closed) == ((), ("ct-c",))
    refused = meeting_from_form(
        _filled() | {"ct-c.outcome": "nfa"}, agenda, records, COORDINATOR, MEETING_AT, "r"
    )
    assert isinstance(refused, FormRefused)
    assert "closed after the agenda was frozen" in refused.errors[0]


def test_what_each_item_came_to_reads_the_case_trail_first() -> None:
    agenda, records = _agenda_of_three()
    recorded = meeting_from_form(_filled(), agenda, records, COORDINATOR, MEETING_AT, "r")
    assert isinstance(recorded, Recorded)
    assert item_result("ct-a", agenda.meeting_id, records["ct-a"], None).kind == "open"
    assert item_result("ct-a", agenda.meeting_id, records["ct-a"], recorded.meeting).kind == "pending"
    assert (
        item_result("ct-c", agenda.meeting_id, records["ct-c"], recorded.meeting).text
        == "Not reached: carried over"
    )
    decided = next(d for d in recorded.decisions if d.contact_id == "ct-a")
    applied = record("ct-a", contact("ct-a", london(FRI, 9), LEVEL_2), DecisionEntry.of(decided))
    result = item_result("ct-a", agenda.meeting_id, applied, recorded.meeting)
    assert (result.kind, result.text, result.lead) == ("outcome", "Early help", "Early help")


def test_a_sealed_single_agency_name_is_opened_for_the_agenda_and_erased_with_its_key() -> None:
    agenda, records = _agenda_of_three()
    form = _filled() | {"ct-a.outcome": "single_agency", "ct-a.single_agency": "Fernleigh school nurses"}
    recorded = meeting_from_form(form, agenda, records, COORDINATOR, MEETING_AT, "r")
    assert isinstance(recorded, Recorded)
    ring = test_keyring()
    ring.add(ring.new_key("ct-a")[0])
    decided = next(d for d in recorded.decisions if d.contact_id == "ct-a").sealed(ring.seal)
    applied = record("ct-a", contact("ct-a", london(FRI, 9), LEVEL_2), DecisionEntry.of(decided))
    assert "Fernleigh" not in applied.model_dump_json()
    result = item_result("ct-a", agenda.meeting_id, applied, recorded.meeting, Said(ring))
    assert result.text == "Single agency: Fernleigh school nurses"
    # Without the key (a process holding none), and once it is erased, nothing is shown of it.
    unopened = item_result("ct-a", agenda.meeting_id, applied, recorded.meeting)
    assert unopened.text == "Single agency: (cannot be opened here)"
    ring.erase(ring.live["ct-a"])
    erased = item_result("ct-a", agenda.meeting_id, applied, recorded.meeting, Said(ring))
    assert erased.text == "Single agency: (erased)"


# --- the console pages' guards (no Kafka: the app's lifespan is not started) -----------------------------


def _client(tmp_path: Any) -> tuple[TestClient, dict[str, tuple[str, str]]]:
    import re

    from mash.console.app import create_console_app
    from mash.console.runtime import build_runtime
    from mash.console.users import UserDirectory, write_demo_users

    users = write_demo_users(tmp_path / "users.json", tmp_path / "demo.json")
    settings = Settings(
        mode="development",
        console_session_secret="unit-secret",
        console_users_file=tmp_path / "users.json",
        master_keys=MASTER_KEYS,
    )
    app = create_console_app(build_runtime(settings, UserDirectory(settings.console_users_file), RULESET))
    client = TestClient(app, base_url="https://console.test", follow_redirects=False)

    def sign_in(name: str) -> str:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post(
            "/login", data={"csrf_token": token.group(1), "username": name, "password": users[name][1]}
        )
        again = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/imm").text)
        return again.group(1) if again else ""

    client.sign_in = sign_in  # type: ignore[attr-defined]
    return client, users


def test_read_only_users_see_the_imm_figures_but_no_agenda(tmp_path: Any) -> None:
    client, _ = _client(tmp_path)
    assert client.get("/imm").headers["location"] == "/login"
    client.sign_in("operations")  # type: ignore[attr-defined]
    page = client.get("/imm")
    assert page.status_code == 200
    assert 'data-figure="cases_discussed"' in page.text
    assert "Freeze agenda now" not in page.text
    assert client.get("/imm/imm-2026-08-28").status_code == 403
    assert client.get("/imm/imm-2026-08-28/record").status_code == 403


def test_only_a_manager_may_freeze_and_every_form_needs_its_csrf_token(tmp_path: Any) -> None:
    client, _ = _client(tmp_path)
    token = client.sign_in("coordinator")  # type: ignore[attr-defined]
    assert "Freeze agenda now" not in client.get("/imm").text
    assert client.post("/imm/freeze", data={"csrf_token": token, "day": "2026-08-28"}).status_code == 403
    assert client.get("/imm/imm-2026-08-28").status_code == 404  # nothing frozen
    assert client.get("/imm/not-a-meeting").status_code == 404
    # A recording form without the session's token records nothing: the browser is sent back.
    forged = client.post("/imm/imm-2026-08-28/record", data={"present.police": "on"})
    assert (forged.status_code, forged.headers["location"]) == (303, "/imm/imm-2026-08-28/record")

    (tmp_path / "m").mkdir()
    manager, _ = _client(tmp_path / "m")
    token = manager.sign_in("manager")  # type: ignore[attr-defined]
    assert "Freeze agenda now" in manager.get("/imm").text
    assert manager.post("/imm/freeze", data={"day": "2026-08-29"}).status_code == 403  # no token
    saturday = manager.post("/imm/freeze", data={"csrf_token": token, "day": "2026-08-29"})
    assert (saturday.status_code, saturday.headers["location"]) == (303, "/imm")
    assert "no meeting on Saturday 29 August 2026" in manager.get("/imm").text


def test_an_agenda_item_shows_the_recommended_level_beside_the_decided_one_and_the_data_quality_badges() -> (
    None
):
    world = World()
    world.add(
        "ck-1",
        contact("ct-a", london(FRI, 9), LEVEL_2, consent=ConsentStatus.NOT_SOUGHT),
        change("dc-1", "ct-a", london(FRI, 9, 30), level=3),
    )
    agenda = world.freeze(FRI)
    assert agenda is not None
    [item] = agenda.items
    html = environment().get_template("imm_item.html").render(item=item)
    assert "Level 3 · Targeted / complex" in html
    assert "(recommended level 2)" in html
    assert 'data-quality="consent_basis_missing">consent basis missing<' in html
    assert "Not sought" in html
