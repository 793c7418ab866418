"""Whose contact is it: an identity to check in the queues and on its case, the coordinator's "same
child" and "different child", links and splits (each an identity decision on the identities topic),
and possible matches on the case page. In-process, without Kafka: what the console sends is kept
(`Console(..., outbox=True)`). The names are fictional."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from mash.domain.contact import ContactEvent
from mash.domain.decisions import Role
from mash.domain.persons import IdentityAction, IdentityDecisionEvent
from mash.domain.sealed import Sealed
from mash.views.queue_order import Queue
from mash.views.queues import ConsoleView
from tests.support.console_app import Console
from tests.support.console_world import NOW, child_contact, identity_to_check, records, view_with
from tests.support.keys import sealed_json, test_keyring

IDENTITIES = "mash.identities.v1"
RECORDED = "Recorded: the records are being derived again."


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, flags=re.DOTALL)
    assert found is not None, f"no section {section_id}"
    return found.group(0)


def form(html: str, action: str) -> str:
    found = re.search(
        rf'<form[^>]*>(?:(?!</form>).)*name="action" value="{action}".*?</form>', html, flags=re.DOTALL
    )
    assert found is not None, f"no {action} form"
    return found.group(0)


@pytest.fixture
def conflict() -> ConsoleView:
    """ct-2's NHS number is ct-1's child's, with another date of birth (day and month swapped):
    the worker made it a child of its own, to check. ct-3 is another child altogether."""
    view = view_with(
        child_contact("ct-1", given="Orla", family="Pennywhistle", born=date(2015, 4, 3), nhs="nhs-1"),
        child_contact(
            "ct-2", child_key="ck-2", given="Orla", family="Pennywhistle", born=date(2015, 3, 4), nhs="nhs-1"
        ),
        child_contact("ct-3", child_key="ck-3", given="Torben", family="Quayle", born=date(2011, 1, 9)),
    )
    identity_to_check(view, "ct-2", "ct-1")
    return view


def sent_decision(console: Console) -> IdentityDecisionEvent:
    [sent] = console.sent
    assert sent.topic == IDENTITIES
    assert sent.value is not None
    event = IdentityDecisionEvent.model_validate_json(sent.value)
    assert sent.key == event.subjects[0].encode()  # keyed by its first subject, as the worker reads it
    # The rationale travels sealed under the first subject's data key, the decision id bound in.
    assert isinstance(event.rationale, Sealed)
    assert event.rationale.key.startswith(f"{event.subjects[0]}/")
    rationale = console.view.keyring.open(event.rationale, f"{event.decision_id}/rationale".encode())
    return event.model_copy(update={"rationale": rationale.decode()})


def read(view: ConsoleView, child_key: str, *contacts: ContactEvent) -> None:
    """The view reads more contacts about one child, and their records."""
    for contact in contacts:
        view.add_contact(contact.contact_id, sealed_json(view.keyring, contact))
    for record in records(*contacts, child_key=child_key).values():
        view.apply_case(record)


def post(console: Console, contact_id: str, **fields: str) -> Any:
    token = console.csrf(f"/cases/{contact_id}")
    return console.client.post(f"/cases/{contact_id}/decisions", data={"csrf_token": token, **fields})


# --- flagged first ----------------------------------------------------------------------------------


def test_an_identity_to_check_is_a_badge_in_its_row_and_leads_the_awaiting_queue(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    page = Console(tmp_path, view=conflict).sign_in("coordinator").client.get("/queues/awaiting").text
    assert re.findall(r'<tr data-id="([^"]+)"', page)[0] == "ct-2"
    row = re.search(r'<tr data-id="ct-2".*?</tr>', page, flags=re.DOTALL)
    assert row is not None
    assert 'data-flag="identity">Identity to check</span>' in row.group(0)
    others = re.search(r'<tr data-id="ct-1".*?</tr>', page, flags=re.DOTALL)
    assert others is not None
    assert "Identity to check" not in others.group(0)


def test_an_identity_to_check_sorts_before_cases_due_sooner_and_overdue_ones_still_count() -> None:
    view = view_with(
        child_contact("ct-late", at=NOW - timedelta(days=5), child_key="ck-a"),  # overdue
        child_contact("ct-soon", at=NOW - timedelta(hours=6), child_key="ck-b"),
        child_contact("ct-flag", at=NOW - timedelta(hours=1), child_key="ck-c"),
        child_contact("ct-flag-overdue", at=NOW - timedelta(days=4), child_key="ck-d"),
    )
    identity_to_check(view, "ct-flag", "ct-soon")
    identity_to_check(view, "ct-flag-overdue", "ct-soon")
    order = [r.contact_id for r in view.page(Queue.AWAITING, NOW)]
    assert order == ["ct-flag-overdue", "ct-flag", "ct-late", "ct-soon"]
    assert view.overdue_count(NOW) == 2
    assert sum(view.overdue_by_rag(NOW).values()) == 2
    # Settled, it takes its place by its due time again.
    view.apply_case(view.records["ct-flag"].model_copy(update={"identity_to_check": False}))
    assert [r.contact_id for r in view.page(Queue.AWAITING, NOW)][1:] == ["ct-late", "ct-soon", "ct-flag"]


# --- the panel --------------------------------------------------------------------------------------


def test_the_case_page_leads_with_the_identity_to_check_linking_the_conflicting_case(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    page = Console(tmp_path, view=conflict).sign_in("coordinator").client.get("/cases/ct-2").text
    panel = section(page, "case-identity-check")
    assert page.index('id="case-identity-check"') < page.index('id="case-child"')
    words = text(panel)
    assert "Identity to check" in words
    assert (
        "The NHS number on this contact is already another child's, with a different date of birth." in words
    )
    assert "nothing of it joins that child's history" in words
    assert '<a href="/cases/ct-1" data-field="conflict-link">contact ct-1</a>' in panel
    assert "(OP, aged 10)" in words
    for action in ("same_child", "different_child"):
        chosen = form(panel, action)
        assert 'name="csrf_token"' in chosen
        assert 'name="conflict" value="ct-1"' in chosen  # the record the page showed
        assert 'name="rationale"' in chosen
    badges = re.search(r'<p class="case-badges">.*?</p>', page, flags=re.DOTALL)
    assert badges is not None
    assert 'data-flag="identity">Identity to check</span>' in badges.group(0)
    # A case that is not to check shows no panel.
    other = Console(tmp_path, view=conflict).sign_in("coordinator").client.get("/cases/ct-1").text
    assert 'id="case-identity-check"' not in other


def test_a_conflict_with_an_outcome_the_console_does_not_show_is_named_not_linked(tmp_path: Path) -> None:
    view = view_with(child_contact("ct-1"))
    identity_to_check(view, "ct-1", "oc-77")
    panel = section(
        Console(tmp_path, view=view).sign_in("manager").client.get("/cases/ct-1").text, "case-identity-check"
    )
    assert "oc-77" in panel
    assert 'href="/cases/oc-77"' not in panel
    assert "an outcome from the case system" in text(panel)


@pytest.mark.parametrize(
    ("user", "action", "role"),
    [
        ("coordinator", IdentityAction.SAME_CHILD, Role.COORDINATOR),
        ("manager", IdentityAction.DIFFERENT_CHILD, Role.MANAGER),
    ],
)
def test_same_child_and_different_child_post_an_identity_decision_naming_the_conflicting_record(
    tmp_path: Path, conflict: ConsoleView, user: str, action: IdentityAction, role: Role
) -> None:
    console = Console(tmp_path, view=conflict, outbox=True).sign_in(user)
    answer = post(
        console, "ct-2", action=action.value, conflict="ct-1", rationale="Checked with the GP surgery."
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/cases/ct-2")
    event = sent_decision(console)
    assert (event.action, event.subjects, event.others) == (action, ["ct-2"], ["ct-1"])
    assert (event.by, event.role, event.rationale, event.decided_at) == (
        user,
        role,
        "Checked with the GP surgery.",
        NOW,
    )
    assert RECORDED in console.client.get("/cases/ct-2").text
    metrics = console.client.get("/metrics").text
    assert f'mash_console_decisions_total{{action="{action.value}"}} 1.0' in metrics


# --- refusals ---------------------------------------------------------------------------------------


def test_an_identity_decision_without_a_rationale_is_refused_saying_why_once(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    console = Console(tmp_path, view=conflict, outbox=True).sign_in("coordinator")
    answer = post(console, "ct-2", action="same_child", conflict="ct-1", rationale="  ")
    assert (answer.status_code, answer.headers["location"]) == (303, "/cases/ct-2")
    assert console.sent == []
    page = console.client.get("/cases/ct-2").text
    summary = text(re.search(r'<div class="error-summary".*?</div>', page, flags=re.DOTALL).group(0))  # type: ignore[union-attr]
    assert "The identity decision was not recorded" in summary
    assert "Give a rationale: every identity decision must record why it was made." in summary
    assert 'role="alert"' not in console.client.get("/cases/ct-2").text


def test_an_identity_decision_on_a_page_that_no_longer_shows_the_conflict_is_refused(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    console = Console(tmp_path, view=conflict, outbox=True).sign_in("coordinator")
    token = console.csrf("/cases/ct-2")
    conflict.apply_case(conflict.records["ct-2"].model_copy(update={"identity_to_check": False}))
    fields = {"csrf_token": token, "action": "different_child", "conflict": "ct-1", "rationale": "Twins."}
    assert console.client.post("/cases/ct-2/decisions", data=fields).status_code == 303
    assert console.sent == []
    assert "This contact's identity is no longer to check" in text(console.client.get("/cases/ct-2").text)


def test_an_identity_decision_without_the_csrf_token_records_nothing(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    console = Console(tmp_path, view=conflict, outbox=True).sign_in("coordinator")
    data = {"action": "same_child", "conflict": "ct-1", "rationale": "Same child."}
    answer = console.client.post("/cases/ct-2/decisions", data=data)
    assert (answer.status_code, answer.headers["location"]) == (303, "/cases/ct-2")
    assert console.sent == []
    assert "This form expired before it was sent" in console.client.get("/cases/ct-2").text


def test_read_only_users_can_record_no_identity_decision(tmp_path: Path, conflict: ConsoleView) -> None:
    console = Console(tmp_path, view=conflict, outbox=True).sign_in("operations")
    data = {"csrf_token": console.csrf("/login"), "action": "link", "other": "ct-3", "rationale": "x"}
    assert console.client.post("/cases/ct-2/decisions", data=data).status_code == 403
    assert console.sent == []


def test_an_identity_decision_the_event_store_cannot_take_keeps_the_rationale(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    console = Console(tmp_path, view=conflict).sign_in("coordinator")  # Kafka is not started here
    post(console, "ct-2", action="same_child", conflict="ct-1", rationale="Same GP, same school.")
    page = console.client.get("/cases/ct-2").text
    assert "could not be recorded just now" in page
    assert ">Same GP, same school.</textarea>" in form(page, "same_child")
    assert "Same GP, same school." not in form(page, "different_child")


# --- link and split ---------------------------------------------------------------------------------


def test_linking_posts_a_link_of_this_contact_with_the_other_record(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    console = Console(tmp_path, view=conflict, outbox=True).sign_in("coordinator")
    page = console.client.get("/cases/ct-3").text
    assert 'name="other"' in form(section(page, "case-link"), "link")
    answer = post(console, "ct-3", action="link", other=" ct-1 ", rationale="The school confirmed it.")
    assert answer.status_code == 303
    event = sent_decision(console)
    assert (event.action, event.subjects, event.others, event.rationale) == (
        IdentityAction.LINK,
        ["ct-3"],
        ["ct-1"],
        "The school confirmed it.",
    )
    assert RECORDED in console.client.get("/cases/ct-3").text


@pytest.mark.parametrize(
    ("other", "rationale", "says"),
    [
        ("", "Same child.", "Give the contact id of the record to link this contact with."),
        ("ct-404", "Same child.", "There is no contact ct-404 in the console: check the contact id."),
        ("ct-3", "Same child.", "That is this contact"),
        ("ct-4", "Same child.", "Contact ct-4 is already about the same child as this one"),
        ("ct-1", "", "Give a rationale"),
    ],
)
def test_a_link_is_refused_with_a_clear_message(
    tmp_path: Path, conflict: ConsoleView, other: str, rationale: str, says: str
) -> None:
    read(conflict, "ck-3", child_contact("ct-4", child_key="ck-3", given="Torben", family="Quayle"))
    console = Console(tmp_path, view=conflict, outbox=True).sign_in("manager")
    assert post(console, "ct-3", action="link", other=other, rationale=rationale).status_code == 303
    assert console.sent == []
    page = console.client.get("/cases/ct-3").text
    assert "The link was not recorded" in text(page)
    assert says in text(page)
    assert f'value="{other}"' in form(page, "link")  # what was typed is kept


def test_splitting_names_every_other_contact_of_the_child(tmp_path: Path) -> None:
    view = view_with(
        child_contact("ct-1", at=NOW - timedelta(days=30)),
        child_contact("ct-2", at=NOW - timedelta(days=3)),
        child_contact("ct-3"),
    )
    console = Console(tmp_path, view=view, outbox=True).sign_in("coordinator")
    split = form(section(console.client.get("/cases/ct-2").text, "case-link"), "split")
    assert "the child's 2 other contacts" in text(split)
    answer = post(console, "ct-2", action="split", rationale="A different child at the same school.")
    assert answer.status_code == 303
    event = sent_decision(console)
    assert (event.action, event.subjects, event.others) == (IdentityAction.SPLIT, ["ct-2"], ["ct-1", "ct-3"])


def test_a_split_is_offered_only_when_the_child_has_other_contacts_and_refused_otherwise(
    tmp_path: Path, conflict: ConsoleView
) -> None:
    console = Console(tmp_path, view=conflict, outbox=True).sign_in("coordinator")
    links = section(console.client.get("/cases/ct-3").text, "case-link")
    assert 'value="split"' not in links
    assert "this is its only one" in text(links)
    post(console, "ct-3", action="split", rationale="Not the same child.")
    assert console.sent == []
    page = text(console.client.get("/cases/ct-3").text)
    assert "The split was not recorded" in page
    assert "This child has no other contacts: there is nothing to split this contact from." in page


def test_a_contact_linked_to_another_child_leaves_its_former_childs_history() -> None:
    view = view_with(child_contact("ct-1"), child_contact("ct-2"), child_contact("ct-3", child_key="ck-3"))
    assert [r.contact_id for r in view.history("ct-1").others] == ["ct-2"]
    changes = view.apply_case(view.records["ct-2"].model_copy(update={"child_key": "ck-3"}))
    assert {c.contact_id for c in changes} == {"ct-1", "ct-2", "ct-3"}  # both children's pages change
    assert view.history("ct-1").others == []
    assert [r.contact_id for r in view.history("ct-3").others] == ["ct-2"]
    assert view.child_contacts("ct-3") == ["ct-2"]


# --- possible matches -------------------------------------------------------------------------------


@pytest.fixture
def lookalikes() -> ConsoleView:
    """Jon Smith (ct-1, ct-2); John Smyth, the same birthday and postcode (ct-3); Jonathan Smith, a
    birthday with day and month swapped (ct-4); his twin Torben Smith (ct-5); and another Jon
    Smith born years apart (ct-6)."""
    born, postcode = date(2013, 5, 7), "ZZ1 1AA"

    def kid(cid: str, child: str, given: str, family: str = "Smith", when: date = born) -> Any:
        return child_contact(cid, child_key=child, given=given, family=family, born=when, postcode=postcode)

    return view_with(
        kid("ct-1", "ck-1", "Jon"),
        kid("ct-2", "ck-1", "Jon"),
        kid("ct-3", "ck-3", "John", "Smyth"),
        kid("ct-4", "ck-4", "Jon", when=date(2013, 7, 5)),
        kid("ct-5", "ck-5", "Torben"),
        kid("ct-6", "ck-6", "Jon", when=date(2009, 5, 7)),
    )


def test_possible_matches_show_who_how_likely_and_why_with_a_link_to_each(
    tmp_path: Path, lookalikes: ConsoleView
) -> None:
    console = Console(tmp_path, view=lookalikes).sign_in("coordinator")
    matches = section(console.client.get("/cases/ct-1").text, "case-matches")
    rows = re.findall(r'<tr data-match="([^"]+)">(.*?)</tr>', matches, flags=re.DOTALL)
    assert [cid for cid, _ in rows] == ["ct-3", "ct-4"]  # never its own child's ct-2, the twin or ct-6
    by_id = {cid: text(html) for cid, html in rows}
    assert by_id["ct-3"].strip() == (
        "JS , aged 12 07 May 2013 Likely Same date of birth, similar given name, similar family name, "
        "same postcode ct-3 Link with this record"
    )
    assert "Date of birth with the day and month swapped, same given name, same family name" in by_id["ct-4"]
    assert '<a href="/cases/ct-3">ct-3</a>' in matches
    assert 'href="/cases/ct-1?link=ct-3#case-link"' in matches


def test_link_with_this_record_fills_the_link_form(tmp_path: Path, lookalikes: ConsoleView) -> None:
    console = Console(tmp_path, view=lookalikes).sign_in("coordinator")
    for path in ("/cases/ct-1?link=ct-3", "/cases/ct-1/live?link=ct-3"):
        link = form(console.client.get(path).text, "link")
        assert re.search(r'<input type="text" id="link-other" name="other"[^>]*value="ct-3"', link), path


def test_possible_matches_leave_out_erased_contacts(lookalikes: ConsoleView) -> None:
    assert [m.contact_id for m in lookalikes.possible_matches("ct-1")] == ["ct-3", "ct-4"]
    sealed = lookalikes.sealed("ct-3")
    assert sealed is not None
    lookalikes.on_key(sealed.personal.key.encode(), None)  # its data key destroyed
    assert [m.contact_id for m in lookalikes.possible_matches("ct-1")] == ["ct-4"]
    assert lookalikes.possible_matches("ct-3") == []


def test_a_contact_read_before_its_data_key_is_matched_once_the_key_is_read(lookalikes: ConsoleView) -> None:
    intake = test_keyring()  # another process's keyring: the view has not read this key yet
    late = child_contact("ct-7", child_key="ck-7", given="Jonn", family="Smith", born=date(2013, 5, 7))
    lookalikes.add_contact("ct-7", sealed_json(intake, late))
    for record in records(late, child_key="ck-7").values():
        lookalikes.apply_case(record)
    assert "ct-7" not in [m.contact_id for m in lookalikes.possible_matches("ct-1")]
    [key] = intake.records.values()
    lookalikes.on_key(key.key.encode(), key.model_dump_json().encode())
    assert "ct-7" in [m.contact_id for m in lookalikes.possible_matches("ct-1")]


def test_each_other_child_is_listed_once_by_its_best_contact_and_at_most_five(
    lookalikes: ConsoleView,
) -> None:
    for n in range(6):  # six more children with two contacts each, all like Jon Smith
        twice = [
            child_contact(
                f"ct-{n}{k}", child_key=f"ck-{n}x", given="Jon", family="Smyth", born=date(2013, 5, 7)
            )
            for k in "ab"
        ]
        read(lookalikes, f"ck-{n}x", *twice)
    found = lookalikes.possible_matches("ct-1")
    assert len(found) == 5
    assert len({lookalikes.records[m.contact_id].child_key for m in found}) == 5


def test_possible_matches_are_worked_out_only_when_a_page_asks_and_the_index_is_kept(
    monkeypatch: pytest.MonkeyPatch, lookalikes: ConsoleView
) -> None:
    opened: list[str] = []
    personal = lookalikes.keyring.personal
    monkeypatch.setattr(
        lookalikes.keyring, "personal", lambda e: (opened.append(e.contact_id), personal(e))[1]
    )
    read(
        lookalikes,
        "ck-7",
        child_contact("ct-7", child_key="ck-7", given="Jonn", family="Smith", born=date(2013, 5, 7)),
    )
    assert opened == []  # reading contacts and records opens nothing
    assert "ct-7" in [m.contact_id for m in lookalikes.possible_matches("ct-1")]
    assert sorted(opened) == ["ct-1", "ct-2", "ct-3", "ct-4", "ct-5", "ct-6", "ct-7"]
    opened.clear()
    lookalikes.possible_matches("ct-3")
    assert opened == []  # the index is kept: nothing is opened again


def test_a_contact_linked_to_the_child_is_no_longer_its_possible_match(lookalikes: ConsoleView) -> None:
    """Linked by a coordinator, ct-3 is Jon Smith's: no longer a possible match of his."""
    lookalikes.apply_case(lookalikes.records["ct-3"].model_copy(update={"child_key": "ck-1"}))
    assert [m.contact_id for m in lookalikes.possible_matches("ct-1")] == ["ct-4"]
    assert sorted(r.contact_id for r in lookalikes.history("ct-1").others) == ["ct-2", "ct-3"]
