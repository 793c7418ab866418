"""What coordinators and managers see of a contact, and what their forms do: the queue row, the case
page, decisions, a manager's re-screen and the trail. In-process, without Kafka (the app's
lifespan is not started): the view is filled with records derived as the worker derives them."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import pytest

from mash.domain.contact import Consent, ConsentStatus, ContactEvent, Referrer
from mash.domain.decisions import ConsentBasis, DecisionAction, DecisionEvent, ImmOutcome, PartnerAgency, Role
from mash.domain.sealed import Sealed
from mash.views.queues import ConsoleView
from tests.support.console_app import Console
from tests.support.console_world import (
    BOTH,
    NARRATIVE,
    NEXT_YEAR,
    NOW,
    confirm_event,
    contact_event,
    decision_event,
    records,
    view_with,
)

NO_REASON = Consent(status=ConsentStatus.NOT_SOUGHT)
NO_PHONE = Referrer(name="A Neighbour", role="neighbour")


def row(html: str, contact_id: str) -> str:
    found = re.search(rf'<tr data-id="{contact_id}".*?</tr>', html, flags=re.DOTALL)
    assert found is not None, f"no row for {contact_id}"
    return found.group(0)


def text(html: str) -> str:
    """What a person reads: the words without the tags."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, flags=re.DOTALL)
    assert found is not None, f"no section {section_id}"
    return found.group(0)


@pytest.fixture
def two_children() -> ConsoleView:
    return view_with(
        contact_event(
            "ct-1", "persistent_absence", given="Quillon", family="Marchbank", born=date(2013, 9, 30)
        ),
        contact_event(
            "ct-2",
            "unborn_pre_birth_assessment",
            child_key="ck-2",
            given="Baby",
            family="Ferris",
            expected=date(2026, 5, 1),
            consent=NO_REASON,
            referrer=NO_PHONE,
        ),
    )


# --- the queue row ----------------------------------------------------------------------------------


def test_a_queue_row_names_the_child_by_initials_and_age_and_the_concern_never_the_narrative(
    tmp_path: Path, two_children: ConsoleView
) -> None:
    console = Console(tmp_path, view=two_children).sign_in("coordinator")
    page = console.client.get("/queues/awaiting").text
    rows = console.client.get("/queues/awaiting/rows").json()["html"]
    for html in (page, rows):
        first, unborn = text(row(html, "ct-1")), text(row(html, "ct-2"))
        assert "QM , aged 12" in first
        assert "Persistent absence from school" in first
        assert "BF , unborn" in unborn
        assert "Unborn baby who needs a pre-birth assessment" in unborn
        for personal in (
            "Quillon",
            "Marchbank",
            "30 Sep 2013",
            "2013-09-30",
            "Ferris",
            "May 2026",
            NARRATIVE,
        ):
            assert personal not in html


def test_a_data_quality_problem_is_a_badge_in_the_queue_and_explained_on_the_case(
    tmp_path: Path, two_children: ConsoleView
) -> None:
    console = Console(tmp_path, view=two_children).sign_in("coordinator")
    flagged = row(console.client.get("/queues/awaiting").text, "ct-2")
    assert re.findall(r'data-quality="(\w+)">([^<]+)<', flagged) == [
        ("consent_basis_missing", "consent basis missing"),
        ("referrer_unreachable", "referrer unreachable"),
    ]
    assert "data-quality" not in row(console.client.get("/queues/awaiting").text, "ct-1")
    case = console.client.get("/cases/ct-2").text
    quality = text(section(case, "case-data-quality"))
    assert "Consent basis missing The family has not consented" in quality
    assert "Referrer unreachable" in quality
    # The proposed pathway says consent is still to be sought, never that the family consented.
    recommended = text(section(case, "case-recommendation"))
    assert "(consent to be sought)" in recommended
    assert "with the family's consent" not in recommended


# --- the case page ----------------------------------------------------------------------------------


def test_the_case_page_leads_with_the_child_the_concern_and_the_recommendation_then_the_decision(
    tmp_path: Path, two_children: ConsoleView
) -> None:
    page = Console(tmp_path, view=two_children).sign_in("coordinator").client.get("/cases/ct-1").text
    order = [
        "case-child",
        "case-concern",
        "case-recommendation",
        "case-data-quality",
        "case-decide",
        "case-history",
        "case-trail",
    ]
    assert sorted(order, key=lambda s: page.index(f'id="{s}"')) == order
    assert page.index('id="case-recommendation"') < page.index('class="decision-form"')
    child = text(section(page, "case-child"))
    assert "Quillon Marchbank" in child
    assert "30 Sep 2013" in child
    assert "Aged 12 when the contact was received" in child
    concern = text(section(page, "case-concern"))
    assert "Persistent absence from school: below 90% and falling despite support" in concern
    assert NARRATIVE in concern
    recommendation = text(section(page, "case-recommendation"))
    for shown in (
        "Level 3 · Targeted / complex",
        "Amber",
        "Children's social care: Children's social care assessment (child in need, s17) (with the "
        "family's consent)",
        "Level 3 indicator: Persistent absence from school",
        "The family has consented",
        "version 2026.2",
    ):
        assert shown in recommendation
    assert 'data-field="state">Awaiting decision<' in page


def test_the_confirm_form_carries_the_level_and_rag_shown(tmp_path: Path, two_children: ConsoleView) -> None:
    page = Console(tmp_path, view=two_children).sign_in("coordinator").client.get("/cases/ct-1").text
    form = section(page, "case-decide")
    assert '<input type="hidden" name="seen_level" value="3">' in form
    assert '<input type="hidden" name="seen_rag" value="amber">' in form
    assert "Confirm level 3, amber: children&#39;s social care" in form


@pytest.mark.parametrize(
    ("decision", "who"),
    [
        (confirm_event("ct-1"), "Decided by a coordinator"),
        (
            decision_event(
                "ct-1",
                DecisionAction.IMM_OUTCOME,
                meeting_id="imm-2026-03-10",
                outcome=ImmOutcome.EARLY_HELP,
                lead_agency=PartnerAgency.EARLY_HELP,
                consent_basis=ConsentBasis.GIVEN,
            ),
            "Decided by the integrated mid-day meeting (IMM)",
        ),
    ],
    ids=["a coordinator", "the IMM"],
)
def test_the_case_page_says_who_decided(tmp_path: Path, decision: object, who: str) -> None:
    view = view_with(contact_event("ct-1"), decision)  # type: ignore[arg-type]
    page = Console(tmp_path, view=view).sign_in("coordinator").client.get("/cases/ct-1").text
    assert f'data-field="state">{who}<' in page


def test_a_contact_the_service_decided_says_so(tmp_path: Path) -> None:
    view = view_with(contact_event("ct-1", "no_unmet_needs"))
    page = Console(tmp_path, view=view).sign_in("coordinator").client.get("/cases/ct-1").text
    assert "Decided by the service" in text(section(page, "case-decide"))
    trail = text(section(page, "case-trail"))
    assert "The service Decided by the service" in trail


def test_a_closed_case_offers_no_decision(tmp_path: Path) -> None:
    view = view_with(contact_event("ct-1"), decision_event("ct-1", DecisionAction.CHANGE, level=1))
    page = Console(tmp_path, view=view).sign_in("manager").client.get("/cases/ct-1").text
    decide = section(page, "case-decide")
    assert "decisions can no longer be recorded on it" in decide
    assert "<form" not in decide


# --- a refused form redirects -----------------------------------------------------------------------


def test_a_refused_decision_answers_303_to_the_case_which_says_why_once_and_keeps_what_was_typed(
    tmp_path: Path, two_children: ConsoleView
) -> None:
    console = Console(tmp_path, view=two_children).sign_in("coordinator")
    fields = {
        "csrf_token": console.csrf("/cases/ct-1"),
        "seen_level": "3",
        "seen_rag": "amber",
        "action": "change",
        "level": "2",
        "rag": "",
        "rationale": " ",
    }
    refused = console.client.post("/cases/ct-1/decisions", data=fields)
    assert (refused.status_code, refused.headers["location"]) == (303, "/cases/ct-1")

    shown = console.client.get("/cases/ct-1")  # where the browser goes: a reload repeats this GET
    assert shown.status_code == 200
    assert 'role="alert"' in shown.text
    assert "Give a rationale" in shown.text
    assert '<option value="2" selected>' in shown.text  # the level chosen is kept
    assert 'value="change" data-preserve-choice checked' in shown.text

    again = console.client.get("/cases/ct-1").text
    assert 'role="alert"' not in again
    metrics = console.client.get("/metrics").text
    assert "mash_console_decisions_refused_total 1.0" in metrics
    assert 'mash_console_decisions_total{action="change"}' not in metrics


def test_a_refusal_is_shown_only_on_the_case_it_was_for(tmp_path: Path, two_children: ConsoleView) -> None:
    console = Console(tmp_path, view=two_children).sign_in("coordinator")
    data = {
        "csrf_token": console.csrf("/cases/ct-1"),
        "seen_level": "3",
        "seen_rag": "amber",
        "rationale": "",
    }
    console.client.post("/cases/ct-1/decisions", data=data)
    assert 'role="alert"' not in console.client.get("/cases/ct-2").text
    assert 'role="alert"' not in console.client.get("/cases/ct-1").text


def test_a_stale_page_is_refused_with_a_redirect_saying_the_case_changed(tmp_path: Path) -> None:
    view = view_with(contact_event("ct-1"), decision_event("ct-1", DecisionAction.CHANGE, level=2))
    console = Console(tmp_path, view=view).sign_in("coordinator")
    stale = {"csrf_token": console.csrf("/cases/ct-1"), "seen_level": "3", "seen_rag": "amber"}
    answer = console.client.post(
        "/cases/ct-1/decisions", data=stale | {"action": "confirm", "rationale": "Ok"}
    )
    assert answer.status_code == 303
    assert "This case changed while you had it open" in console.client.get("/cases/ct-1").text


def test_a_decision_the_event_store_cannot_take_is_refused_with_a_redirect_keeping_the_rationale(
    tmp_path: Path, two_children: ConsoleView
) -> None:
    console = Console(tmp_path, view=two_children).sign_in("coordinator")  # Kafka is not started here
    fields = {
        "csrf_token": console.csrf("/cases/ct-1"),
        "seen_level": "3",
        "seen_rag": "amber",
        "action": "confirm",
        "rationale": "Agree: refer for an assessment.",
    }
    assert console.client.post("/cases/ct-1/decisions", data=fields).status_code == 303
    page = console.client.get("/cases/ct-1").text
    assert "could not be recorded just now" in page
    assert ">Agree: refer for an assessment.</textarea>" in page


# --- what a person writes is sealed ------------------------------------------------------------------

WRITTEN = "Ms Halberdine (mother) asked for support; early help fits."


def decide(console: Console, contact_id: str = "ct-1") -> None:
    fields = {
        "csrf_token": console.csrf(f"/cases/{contact_id}"),
        "seen_level": "3",
        "seen_rag": "amber",
        "action": "change",
        "level": "2",
        "rag": "",
        "rationale": WRITTEN,
    }
    answer = console.client.post(f"/cases/{contact_id}/decisions", data=fields)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/cases/{contact_id}")


def sent_decision(console: Console) -> DecisionEvent:
    decisions = [sent for sent in console.sent if sent.topic == "mash.decisions.v1"]
    [sent] = decisions
    assert sent.key == b"ct-1"
    assert sent.value is not None
    assert b"Halberdine" not in sent.value
    assert b"early help fits" not in sent.value
    return DecisionEvent.model_validate_json(sent.value)


def applied(view: ConsoleView, contact: ContactEvent, event: DecisionEvent) -> None:
    """The worker applies the decision as it came (its rationale copied unopened)."""
    for record in records(contact, event).values():
        view.apply_case(record)


def test_a_posted_decision_is_sealed_under_the_contacts_key_and_the_case_page_opens_it(
    tmp_path: Path,
) -> None:
    contact = contact_event("ct-1")
    view = view_with(contact)
    console = Console(tmp_path, view=view, outbox=True).sign_in("coordinator")
    decide(console)
    event = sent_decision(console)
    assert [sent.topic for sent in console.sent] == ["mash.decisions.v1"]  # its key was there already
    assert isinstance(event.rationale, Sealed)
    assert event.rationale.key == view.keyring.live["ct-1"]
    assert (event.action, event.level, event.by) == (DecisionAction.CHANGE, 2, "coordinator")

    applied(view, contact, event)
    assert isinstance(view.records["ct-1"].trail[0].rationale, Sealed)
    trail = text(section(console.client.get("/cases/ct-1").text, "case-trail"))
    assert WRITTEN in trail
    assert "Level 3 amber → level 2 green" in trail

    # Erasing the contact's data key erases what was written with it.
    view.on_key(event.rationale.key.encode(), None)
    trail = text(section(console.client.get("/cases/ct-1").text, "case-trail"))
    assert WRITTEN not in trail
    assert "(erased)" in trail


def test_a_decision_about_a_contact_with_no_live_key_writes_a_new_key_first(tmp_path: Path) -> None:
    contact = contact_event("ct-1")
    view = view_with(contact)
    for key_id in view.keyring.keys_of({"ct-1"}):
        view.on_key(key_id.encode(), None)  # erased before anyone decided
    console = Console(tmp_path, view=view, outbox=True).sign_in("coordinator")
    decide(console)
    keys, _ = console.sent
    assert keys.topic == "mash.keys.v1"
    assert keys.key is not None
    event = sent_decision(console)
    assert isinstance(event.rationale, Sealed)
    assert event.rationale.key == keys.key.decode()
    assert keys.key.decode().startswith("ct-1/")
    applied(view, contact, event)
    page = text(console.client.get("/cases/ct-1").text)
    assert "Personal details erased" in page  # the contact's own details stay erased
    assert WRITTEN in text(section(console.client.get("/cases/ct-1").text, "case-trail"))


# --- a manager's re-screen --------------------------------------------------------------------------


def test_a_manager_may_rescreen_a_waiting_contact_under_any_other_registered_version(tmp_path: Path) -> None:
    view = view_with(contact_event("ct-1"))
    page = (
        Console(tmp_path, view=view, rulesets=[NEXT_YEAR]).sign_in("manager").client.get("/cases/ct-1").text
    )
    rescreen = re.search(r'<form[^>]*class="rescreen-form.*?</form>', page, flags=re.DOTALL)
    assert rescreen is not None
    assert re.findall(r'<option value="([^"]+)"', rescreen.group(0)) == ["2027.1"]
    assert '<input type="hidden" name="action" value="rescreen">' in rescreen.group(0)
    assert "disabled" not in rescreen.group(0)


def test_with_no_other_version_registered_the_rescreen_control_is_disabled_and_says_why(
    tmp_path: Path,
) -> None:
    page = (
        Console(tmp_path, view=view_with(contact_event("ct-1"))).sign_in("manager").client.get("/cases/ct-1")
    )
    rescreen = re.search(r'<form[^>]*class="rescreen-form.*?</form>', page.text, flags=re.DOTALL)
    assert rescreen is not None
    assert re.search(r'<select id="ruleset_version"[^>]*disabled', rescreen.group(0))
    assert re.search(r'<button type="submit" disabled>Re-screen</button>', rescreen.group(0))
    assert "No ruleset version other than 2026.2 is registered" in rescreen.group(0)


@pytest.mark.parametrize(
    ("user", "events"),
    [
        ("coordinator", (contact_event("ct-1"),)),
        ("manager", (contact_event("ct-1"), confirm_event("ct-1"))),
    ],
    ids=["to a coordinator", "on a decided contact"],
)
def test_no_rescreen_control_is_offered(tmp_path: Path, user: str, events: tuple[object, ...]) -> None:
    view = view_with(*events)  # type: ignore[arg-type]
    page = Console(tmp_path, view=view, rulesets=[NEXT_YEAR]).sign_in(user).client.get("/cases/ct-1").text
    assert "rescreen-form" not in page


# --- the trail --------------------------------------------------------------------------------------


def test_the_trail_reads_as_english(tmp_path: Path) -> None:
    at = NOW - timedelta(hours=1)
    view = view_with(
        contact_event("ct-1", "disclosure_of_abuse", "persistent_absence", at=at),
        decision_event(
            "ct-1",
            DecisionAction.RESCREEN,
            ruleset_version="2027.1",
            role=Role.MANAGER,
            by="mani",
            decided_at=at + timedelta(minutes=5),
        ),
        decision_event(
            "ct-1",
            DecisionAction.CHANGE,
            level=3,
            decision_id="dc-lower",
            decided_at=at + timedelta(minutes=10),
        ),
        decision_event(
            "ct-1",
            DecisionAction.SIGN_OFF,
            signs_off="dc-lower",
            role=Role.MANAGER,
            by="mani",
            decided_at=at + timedelta(minutes=15),
        ),
        decision_event(
            "ct-1",
            DecisionAction.IMM_OUTCOME,
            meeting_id="imm-2026-03-10",
            outcome=ImmOutcome.CSC_ASSESSMENT,
            lead_agency=PartnerAgency.CHILDRENS_SOCIAL_CARE,
            consent_basis=ConsentBasis.GIVEN,
            decided_at=at + timedelta(minutes=20),
        ),
        rulesets=BOTH,
    )
    page = Console(tmp_path, view=view, rulesets=[NEXT_YEAR]).sign_in("coordinator").client.get("/cases/ct-1")
    steps = re.findall(r'<td data-field="action">(.*?)</td>', page.text, flags=re.DOTALL)
    assert [text(s).strip() for s in steps] == [
        "Re-screened",
        "Changed",
        "Signed off",
        "IMM outcome Children's social care assessment; lead agency: Children's social care; meeting of "
        "2026-03-10",
    ]
    trail = text(section(page.text, "case-trail"))
    assert "mani manager" in trail
    assert "coordinator-7 coordinator" in trail
    for code_word in ("_", "childrens", "csc assessment", "imm outcome"):
        assert code_word not in trail
