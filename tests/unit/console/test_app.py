"""The console app's guards: sessions, roles and CSRF, and what the read-only role is shown.
In-process, without Kafka (the app's lifespan is not started)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.console_app import Console
from tests.support.console_world import contact_event, view_with


def test_session_cookies_are_secure_httponly_and_strict_in_production(tmp_path: Path) -> None:
    console = Console(tmp_path, secure=True)
    flags = console.client.get("/login").headers["set-cookie"].lower()
    assert "secure" in flags
    assert "httponly" in flags
    assert "samesite=strict" in flags


def test_read_only_users_get_403_on_cases_and_lists(tmp_path: Path) -> None:
    console = Console(tmp_path, view=view_with(contact_event("ct-1"))).sign_in("operations")
    client = console.client
    assert client.get("/").headers["location"] == "/overview"
    for path in ("/cases/ct-1", "/cases/ct-1/live", "/queues/awaiting", "/queues/imm/rows"):
        assert client.get(path).status_code == 403, path
    posted = client.post(
        "/cases/ct-1/decisions", data={"csrf_token": console.csrf("/login"), "rationale": "x"}
    )
    assert posted.status_code == 403


def test_the_read_only_role_is_shown_no_link_it_cannot_open(tmp_path: Path) -> None:
    console = Console(tmp_path, view=view_with(contact_event("ct-1"))).sign_in("operations")
    for start in ("/overview", "/imm"):
        page = console.client.get(start)
        assert page.status_code == 200
        assert "ct-1" not in page.text
        for href in set(re.findall(r'href="(/[^"]*)"', page.text)):
            assert console.client.get(href).status_code in (200, 303), f"{start} links to {href}"


def test_only_a_session_opens_the_console_never_an_api_key(tmp_path: Path) -> None:
    client = Console(tmp_path).client
    partner = {"Authorization": "Bearer mash_police_some-real-looking-key"}
    assert client.get("/queues/awaiting", headers=partner).headers["location"] == "/login"
    assert client.get("/counts", headers=partner).status_code == 401
    assert client.post("/cases/ct-x/decisions", headers=partner, data={"rationale": "x"}).status_code == 401


def test_a_decision_posted_without_the_csrf_token_records_nothing_and_sends_the_browser_back(
    tmp_path: Path,
) -> None:
    console = Console(tmp_path, view=view_with(contact_event("ct-1"))).sign_in("coordinator")
    refused = console.client.post("/cases/ct-1/decisions", data={"action": "confirm", "rationale": "why"})
    assert (refused.status_code, refused.headers["location"]) == (303, "/cases/ct-1")
    page = console.client.get("/cases/ct-1").text
    assert "This form expired before it was sent, so nothing was recorded" in page
    assert 'name="rationale"' in page
    assert ">why</textarea>" not in page  # what a form without the token said is never put back
    assert console.client.post("/logout", data={}).status_code == 403
