"""The coordinator console in real headless Chromium, against a real worker and intake on the embedded broker.

A contact posted to the intake adapter travels through Kafka and the worker, and the open
browser shows it in the right queue without a reload, with the child's initials and age and
the concern; decisions made in the browser (and a manager's re-screen) go to the decisions
topic, the worker applies them, and the queues and trail change in front of the coordinator.
A refused form sends the browser back to the case, so a reload posts nothing. Screenshots of
every queue view go to tests/output/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mash.adapters.ruleset_registry import Registry
from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.ruleset import Ruleset, load_ruleset
from mash.domain.sealed import Sealed
from mash.services.privacy import read_keyring
from mash.views.summaries import age_in_years
from tests.integration.conftest import ConsoleProc, Service, running_console
from tests.support.builders import child, submission
from tests.support.console_pages import CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.support.kafka_topics import read_topic

OUTPUT = Path(__file__).resolve().parents[1] / "output"
ARRIVE_MS = 20_000  # screening by the worker included; the push itself takes well under a second

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium: make system-deps"
)


@pytest.fixture
def console(service: Service) -> Iterator[ConsoleProc]:
    """The console as `mash console` runs it, beside the service's intake and worker."""
    with running_console(service) as running:
        yield running


@pytest.fixture
def browser(service: Service) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running on this thread, so the service's
    # own asyncio set-up (topics) has to happen first: hence the dependency on `service`.
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    try:
        yield context.new_page()
    finally:
        context.close()


def post_contact(service: Service, body: dict[str, object], agency: str = "police") -> str:
    with service.client() as client:
        response = client.post("/v1/contacts", json=body, headers=service.auth(agency))
    assert response.status_code == 202, response.text
    [contact_id] = response.json()["contact_ids"]
    return str(contact_id)


def screenshot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"console-{name}.png"), full_page=True)


def mark_page(page: Page) -> None:
    """A marker that a reload would wipe: its survival proves an update came without one."""
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload === true"), "the page was reloaded"


def decisions(service: Service) -> list[dict[str, object]]:
    # In a thread of its own: Playwright's event loop is running on this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        records = pool.submit(read_topic, service.bootstrap, service.topic("decisions"), 0, 3.0).result()
    return [orjson.loads(r.value) for r in records]


def next_ruleset() -> Ruleset:
    """A version registered beside the default, in force only from 2099 (so no new contact is
    screened under it): persistent absence is early help there."""
    data = load_ruleset().model_dump()
    data.update(version="2099.1", effective_from=date(2099, 4, 1))
    for indicator in data["indicators"]:
        if indicator["code"] == "persistent_absence":
            indicator["level"] = 2
    return Ruleset.model_validate(data)


def register(service: Service, ruleset: Ruleset) -> None:
    """Registers a ruleset version on the service's registry topic, as a worker does at start."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # off Playwright's event loop
        pool.submit(lambda: asyncio.run(Registry(service.settings).register(ruleset))).result()


def age_today(born: date) -> str:
    """The age a row shows for a contact received now: whole years on today's London date."""
    return f"aged {age_in_years(born, datetime.now(DEFAULT_CALENDAR.zone).date())}"


def test_a_posted_contact_arrives_live_and_a_level_change_moves_it_with_its_trail(
    service: Service, console: ConsoleProc, page: Page, browser: Browser
) -> None:
    sign_in(page, console, "coordinator")
    expect(page).to_have_url(f"{console.url}/queues/awaiting")
    mark_page(page)
    name = child("Quillon", "Marchbank", dob="2013-09-30")
    body = submission("persistent_absence", "parental_mental_health_significant", children=[name])
    contact_id = post_contact(service, body, agency="school")

    arrived = page.locator(f'#rows tr[data-id="{contact_id}"]')
    expect(arrived).to_be_visible(timeout=ARRIVE_MS)
    assert_not_reloaded(page)
    expect(arrived).to_contain_text("Amber")
    expect(arrived).to_contain_text("Level 3")
    expect(arrived).to_contain_text("left (working time)")
    # The child in a few words, and the concern: never the name, the date of birth or the narrative.
    expect(arrived.locator('[data-field="child"]')).to_contain_text(f"QM, {age_today(date(2013, 9, 30))}")
    expect(arrived.locator('[data-field="concern"]')).to_contain_text("Persistent absence from school")
    for personal in ("Quillon", "Marchbank", "2013", "A fictional concern"):
        expect(arrived).not_to_contain_text(personal)
    expect(page.locator('.count-big[data-count="awaiting"]')).to_have_text("1")
    screenshot(page, "awaiting")

    # A second coordinator's screen on the same queue, to watch the case leave it live.
    watcher = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(watcher, console, "coordinator")
    expect(watcher.locator(f'#rows tr[data-id="{contact_id}"]')).to_be_visible()
    mark_page(watcher)

    arrived.locator("a.case-link").click()
    expect(page.locator("h1")).to_have_text("Quillon Marchbank")
    expect(page.locator(".case-id")).to_contain_text(contact_id)
    expect(page.locator('[data-field="state"]')).to_have_text("Awaiting decision")
    recommendation = page.locator("#case-recommendation")
    expect(recommendation.locator('li[data-rule="persistent_absence"]')).to_be_visible()
    expect(recommendation.locator('li[data-rule="parental_mental_health_significant"]')).to_be_visible()
    expect(page.locator('[data-field="ruleset"]')).to_have_text("version 2026.2")
    expect(page.locator("#case-child")).to_contain_text("Quillon Marchbank")
    expect(page.locator("#case-concern")).to_contain_text("A fictional concern used in tests.")
    expect(page.locator('[data-field="consent"]')).to_contain_text("Given")
    # The child, the concern and the recommendation come before the decision form.
    tops = [
        page.locator(f"#{s}").bounding_box() for s in ("case-child", "case-recommendation", "case-decide")
    ]
    assert all(box is not None for box in tops)
    assert [box["y"] for box in tops if box] == sorted(box["y"] for box in tops if box)
    # Confirming leaves nothing to choose: the level and RAG are disabled until "change" is chosen.
    expect(page.get_by_label("Confirm level 3, amber")).to_be_checked()
    expect(page.get_by_label("New level")).to_be_disabled()
    expect(page.get_by_label("New RAG")).to_be_disabled()
    screenshot(page, "case")

    page.get_by_label("Change the level and/or RAG").check()
    expect(page.get_by_label("New level")).to_be_enabled()
    page.get_by_label("New level").select_option("2")
    page.get_by_label("Rationale").fill(
        "Parent has asked for support; attendance plan in place. Early help fits."
    )
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".flash")).to_contain_text("Decision recorded")
    mark_page(page)

    trail = page.locator("table.trail tr[data-decision]")
    expect(trail).to_have_count(1, timeout=ARRIVE_MS)
    assert_not_reloaded(page)
    expect(trail).to_contain_text("Changed")
    expect(trail).to_contain_text("Level 3 amber → level 2 green")
    expect(trail).to_contain_text("coordinator")
    expect(trail).to_contain_text("Early help fits.")
    expect(page.locator('[data-field="level"]')).to_contain_text("Level 2")
    expect(page.locator('[data-field="level"]')).to_contain_text("recommended level 3")
    expect(page.locator('[data-field="state"]')).to_have_text("Decided by a coordinator")

    expect(watcher.locator(f'#rows tr[data-id="{contact_id}"]')).to_have_count(0, timeout=ARRIVE_MS)
    expect(watcher.locator('.count-big[data-count="awaiting"]')).to_have_text("0")
    expect(watcher.locator('a[href="/queues/early_help"] [data-count="early_help"]')).to_have_text("1")
    assert_not_reloaded(watcher)
    screenshot(watcher, "awaiting-empty")
    watcher.context.close()

    page.goto(f"{console.url}/queues/early_help")
    expect(page.locator(f'#rows tr[data-id="{contact_id}"]')).to_contain_text("Green")
    expect(page.locator(f'#rows tr[data-id="{contact_id}"]')).to_contain_text("by a coordinator")
    screenshot(page, "early_help")

    [event] = decisions(service)
    assert (event["action"], event["level"], event["rag"]) == ("change", 2, None)
    assert (event["by"], event["role"], event["contact_id"]) == ("coordinator", "coordinator", contact_id)
    assert str(event["decision_id"]).startswith("dc-")
    # What the coordinator wrote is sealed under the contact's data key (the trail above opened it).
    assert "Early help fits" not in orjson.dumps(event).decode()
    rationale = Sealed.model_validate(event["rationale"])
    assert rationale.key.startswith(f"{contact_id}/")
    with ThreadPoolExecutor(max_workers=1) as pool:  # off Playwright's event loop
        keyring = pool.submit(lambda: asyncio.run(read_keyring(service.settings, opens=True))).result()
    written = keyring.open(rationale, f"{event['decision_id']}/rationale".encode()).decode()
    assert written == "Parent has asked for support; attendance plan in place. Early help fits."

    console.proc.stop()
    logs = console.proc.log_text()
    assert "console_decision" in logs  # the scan below is of real logs
    for personal in ("Quillon", "Marchbank", "2013-09-30", "fictional concern"):
        assert personal not in logs


def test_a_refused_decision_redirects_to_the_case_saying_why_and_a_reload_posts_nothing(
    service: Service, console: ConsoleProc, page: Page
) -> None:
    contact_id = post_contact(service, submission("young_carer_outcomes_affected"))
    sign_in(page, console, "coordinator")
    expect(page.locator(f'#rows tr[data-id="{contact_id}"]')).to_be_visible(timeout=ARRIVE_MS)
    page.goto(f"{console.url}/cases/{contact_id}")
    page.get_by_label("Change the level and/or RAG").check()
    page.get_by_label("New level").select_option("2")
    page.get_by_label("Rationale").fill("   ")
    with page.expect_response(re.compile(r"/decisions$")) as answer:
        page.get_by_role("button", name="Record decision").click()
    assert answer.value.status == 303
    assert answer.value.headers["location"] == f"/cases/{contact_id}"
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The decision was not recorded")
    expect(alert).to_contain_text("Give a rationale")
    expect(page).to_have_url(f"{console.url}/cases/{contact_id}")
    # What the coordinator chose is kept, so only the rationale needs adding.
    expect(page.get_by_label("Change the level and/or RAG")).to_be_checked()
    expect(page.get_by_label("New level")).to_have_value("2")
    expect(page.get_by_label("New level")).to_be_enabled()
    screenshot(page, "refused")

    reloaded = page.reload()
    assert reloaded is not None
    assert (reloaded.request.method, reloaded.status) == ("GET", 200)
    expect(page.get_by_role("alert")).to_have_count(0)  # said once

    # The same POST without the session's CSRF token is refused before it is even read.
    forged = page.request.post(
        f"{console.url}/cases/{contact_id}/decisions",
        form={"action": "confirm", "rationale": "forged", "seen_level": "3", "seen_rag": "amber"},
        max_redirects=0,
    )
    assert (forged.status, forged.headers["location"]) == (303, f"/cases/{contact_id}")
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("This form expired before it was sent")
    assert decisions(service) == []


def test_read_only_users_see_counts_but_never_a_case(
    service: Service, console: ConsoleProc, page: Page
) -> None:
    name = child("Ottoline", "Brackwater", dob="2016-01-12")
    contact_id = post_contact(service, submission("disclosure_of_abuse", children=[name]))
    sign_in(page, console, "operations")
    expect(page).to_have_url(f"{console.url}/overview")
    expect(page.locator('.tile-count[data-count="awaiting"]')).to_have_text("1", timeout=ARRIVE_MS)
    expect(page.locator("[data-overdue-rag=red]")).to_have_text("0")
    assert page.locator(f'a[href="/cases/{contact_id}"]').count() == 0
    screenshot(page, "overview")

    # Every link the role is shown opens: no case, queue or agenda it would be refused.
    for start in ("/overview", "/imm"):
        page.goto(f"{console.url}{start}")
        hrefs = {
            page.locator("a[href]").nth(i).get_attribute("href")
            for i in range(page.locator("a[href]").count())
        }
        for href in sorted(h for h in hrefs if h and h.startswith("/")):
            opened = page.request.get(f"{console.url}{href}", max_redirects=0)
            assert opened.status in (200, 303), f"{start} shows a link to {href}: {opened.status}"

    for path in (
        f"/cases/{contact_id}",
        f"/cases/{contact_id}/live",
        "/queues/awaiting",
        "/queues/awaiting/rows",
    ):
        response = page.goto(f"{console.url}{path}")
        assert response is not None
        assert response.status == 403, path
        assert "Ottoline" not in page.content()
        assert contact_id not in page.content()
    expect(page.locator("h1")).to_have_text("Not available to your role")


def test_a_manager_signs_off_lowering_a_level_4_case_and_the_service_closes_information_only_contacts(
    service: Service, console: ConsoleProc, page: Page, browser: Browser
) -> None:
    urgent = post_contact(service, submission("disclosure_of_abuse"))
    info = post_contact(
        service, submission("no_unmet_needs", children=[child("Other", "Child", dob="2011-04-04")])
    )
    # Red is due 4 hours after receipt: received 20 hours ago (within the day a partner may date
    # a contact back), it is long overdue.
    hours_ago = (datetime.now(UTC) - timedelta(hours=20)).isoformat()
    late_child = [child("Late", "Child", dob="2010-02-02")]
    late = post_contact(
        service, submission("fgm_or_honour_based_violence", children=late_child, received_at=hours_ago)
    )
    sign_in(page, console, "coordinator")
    expect(page.locator(f'#rows tr[data-id="{urgent}"]')).to_contain_text("Red", timeout=ARRIVE_MS)
    overdue = page.locator(f'#rows tr[data-id="{late}"]')
    expect(overdue).to_contain_text("Overdue", timeout=ARRIVE_MS)
    expect(overdue).to_have_class(re.compile(r"\bis-overdue\b"))
    expect(page.locator("[data-overdue-banner]")).to_contain_text("1 overdue")
    # Overdue first, then red (4 clock hours). Information only about a child with no history is
    # the service's to close: it never waits for a person.
    expect(page.locator("#rows tr")).to_have_count(2)
    listed = [page.locator("#rows tr").nth(i).get_attribute("data-id") for i in range(2)]
    assert listed == [late, urgent]
    screenshot(page, "awaiting-overdue")
    page.goto(f"{console.url}/queues/imm")
    expect(page.locator(f'#rows tr[data-id="{urgent}"]')).to_be_visible()
    screenshot(page, "imm")

    page.goto(f"{console.url}/cases/{info}")
    expect(page.locator('[data-field="state"]')).to_have_text("Closed")
    expect(page.locator("#case-decide")).to_contain_text("Decided by the service")
    expect(page.locator("table.trail tr[data-decision]")).to_contain_text("Decided by the service")
    expect(page.locator(".decision-form")).to_have_count(0)

    page.goto(f"{console.url}/cases/{late}")
    page.get_by_label("Rationale").fill("FGM risk confirmed with the police: strategy discussion.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator('[data-field="state"]')).to_have_text("Decided by a coordinator", timeout=ARRIVE_MS)
    expect(page.locator("table.trail tr[data-decision]")).to_contain_text("Confirmed")

    page.goto(f"{console.url}/cases/{urgent}")
    page.get_by_label("Change the level and/or RAG").check()
    page.get_by_label("New level").select_option("3")
    page.get_by_label("Rationale").fill("Disclosure was about an adult relative; no current risk at home.")
    page.get_by_role("button", name="Record decision").click()
    pending = page.locator("table.trail tr.trail-awaiting_sign_off")
    expect(pending).to_contain_text("Awaiting manager sign-off", timeout=ARRIVE_MS)
    expect(page.locator('[data-field="level"]')).to_contain_text("Level 4")  # not applied until signed off
    expect(page.locator('[data-field="state"]')).to_have_text("Awaiting decision")
    expect(pending.get_by_role("button", name="Sign off")).to_have_count(0)  # coordinators can't
    expect(page.locator(".rescreen-form")).to_have_count(0)  # nor re-screen

    manager = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(manager, console, "manager")
    manager.goto(f"{console.url}/cases/{urgent}")
    form = manager.locator("form.sign-off")
    form.get_by_label("Sign-off rationale").fill("Agreed after speaking to the police.")
    form.get_by_role("button", name="Sign off").click()
    expect(manager.locator("table.trail tr.trail-signed_off")).to_contain_text("manager", timeout=ARRIVE_MS)
    expect(manager.locator("table.trail tr.trail-signed_off")).to_contain_text("Signed off")
    expect(manager.locator('[data-field="level"]')).to_contain_text("Level 3")
    expect(manager.locator("form.sign-off")).to_have_count(0)  # nothing awaits sign-off now
    screenshot(manager, "signed-off")
    manager.context.close()

    # The coordinator's open case page follows without a reload.
    expect(page.locator("table.trail tr.trail-signed_off")).to_have_count(1, timeout=ARRIVE_MS)
    page.goto(f"{console.url}/queues/social_care")
    expect(page.locator(f'#rows tr[data-id="{urgent}"]')).to_contain_text("Amber")
    expect(page.locator(f'#rows tr[data-id="{late}"]')).to_contain_text("Red")
    screenshot(page, "social_care")
    page.goto(f"{console.url}/queues/closed")
    expect(page.locator(f'#rows tr[data-id="{info}"]')).to_contain_text("Universal services")
    screenshot(page, "closed")

    actions = sorted(str(d["action"]) for d in decisions(service))
    assert actions == ["change", "confirm", "sign_off"]
    [confirmed] = [d for d in decisions(service) if d["action"] == "confirm"]
    assert (confirmed["contact_id"], confirmed["level"], confirmed["rag"]) == (late, 4, "red")


def test_a_managers_rescreen_is_recorded_and_the_page_shows_the_new_recommendation_once_applied(
    service: Service, console: ConsoleProc, page: Page, browser: Browser
) -> None:
    register(service, next_ruleset())
    contact_id = post_contact(service, submission("persistent_absence"), agency="school")
    sign_in(page, console, "manager")
    expect(page.locator(f'#rows tr[data-id="{contact_id}"]')).to_contain_text("Level 3", timeout=ARRIVE_MS)
    page.goto(f"{console.url}/cases/{contact_id}")
    version = page.get_by_label("Re-screen under ruleset")
    deadline = time.monotonic() + ARRIVE_MS / 1000
    while version.locator('option[value="2099.1"]').count() == 0:  # the console follows the registry
        assert time.monotonic() < deadline, "the console never listed the registered version"
        time.sleep(0.5)
        page.reload()
    assert version.locator("option").all_inner_texts() == ["version 2099.1"]  # never its own
    version.select_option("2099.1")
    page.get_by_label("Reason for re-screening").fill("The 2099 thresholds were agreed early for this pilot.")
    page.get_by_role("button", name="Re-screen").click()
    expect(page.locator(".flash")).to_contain_text("Decision recorded")

    expect(page.locator('[data-field="ruleset"]')).to_have_text("version 2099.1", timeout=ARRIVE_MS)
    expect(page.locator('[data-field="recommended-level"]')).to_contain_text("Level 2")
    expect(page.locator('[data-field="recommended-route"]')).to_contain_text("Early help")
    expect(page.locator('[data-field="state"]')).to_have_text("Awaiting decision")  # not a decision
    step = page.locator("table.trail tr[data-decision]")
    expect(step).to_contain_text("Re-screened")
    expect(step).to_contain_text("Level 3 amber → level 2 green")
    expect(step).to_contain_text("manager")
    # The refreshed form follows the case: what nobody touched shows the new values.
    expect(page.locator(".rescreen-form option")).to_have_count(1)
    expect(page.get_by_label("Re-screen under ruleset")).to_have_value("2026.2")
    expect(page.get_by_label("New level")).to_have_value("2")
    screenshot(page, "rescreened")

    coordinator = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(coordinator, console, "coordinator")
    coordinator.goto(f"{console.url}/cases/{contact_id}")
    expect(coordinator.locator('[data-field="ruleset"]')).to_have_text("version 2099.1")
    expect(coordinator.locator(".rescreen-form")).to_have_count(0)
    coordinator.context.close()

    [event] = decisions(service)
    assert (event["action"], event["ruleset_version"], event["role"], event["by"]) == (
        "rescreen",
        "2099.1",
        "manager",
        "manager",
    )


@contextmanager
def _signed_in_client(console: ConsoleProc, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, timeout=10.0) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        answer = client.post(
            "/login",
            data={"csrf_token": token.group(1), "username": username, "password": console.password(username)},
        )
        assert answer.status_code == 303, answer.text
        yield client


def test_sessions_are_guarded_and_partner_keys_never_open_the_console(
    service: Service, console: ConsoleProc
) -> None:
    with httpx.Client(base_url=console.url, timeout=10.0) as anonymous:
        partner = service.auth("police")
        assert anonymous.get("/queues/awaiting", headers=partner).status_code == 303
        assert anonymous.get("/queues/awaiting", headers=partner).headers["location"] == "/login"
        assert anonymous.get("/events", headers=partner).status_code == 401
        assert anonymous.get("/counts", headers=partner).status_code == 401
        refused = anonymous.post("/login", data={"username": "coordinator", "password": "wrong"})
        assert refused.status_code == 403  # no CSRF token from the sign-in form
    with _signed_in_client(console, "coordinator") as client:
        assert [c.name for c in client.cookies.jar] == ["mash_console"]
        queue = client.get("/queues/awaiting")
        assert queue.status_code == 200
        assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
        assert queue.headers["cache-control"] == "no-store"
    with httpx.Client(base_url=console.url, timeout=10.0) as fresh:
        form = fresh.get("/login")
        flags = form.headers["set-cookie"].lower()
        assert "httponly" in flags
        assert "samesite=strict" in flags
        wrong = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert wrong is not None
        answer = fresh.post(
            "/login", data={"csrf_token": wrong.group(1), "username": "coordinator", "password": "no"}
        )
        assert answer.status_code == 401
        assert "not recognised" in answer.text
    metrics = httpx.get(f"{console.url}/metrics").text
    assert 'mash_console_queue_depth{queue="awaiting"}' in metrics
    assert "mash_console_oldest_waiting_seconds" in metrics


def test_a_restarted_console_rebuilds_the_same_view(service: Service, console: ConsoleProc) -> None:
    ids = [post_contact(service, submission(code)) for code in ("disclosure_of_abuse", "young_carer")]
    with _signed_in_client(console, "manager") as client:
        deadline = time.monotonic() + ARRIVE_MS / 1000
        while (before := client.get("/counts").json())["counts"]["awaiting"] < len(ids):
            assert time.monotonic() < deadline, before
            time.sleep(0.2)
        rows_before = client.get("/queues/awaiting/rows").json()["html"]
    assert before["counts"]["awaiting"] == len(ids)
    console.proc.stop()
    console.proc.start()
    console.proc.wait_ready()
    with _signed_in_client(console, "manager") as client:
        after = client.get("/counts").json()
        rows_after = client.get("/queues/awaiting/rows").json()["html"]
    assert after["counts"] == before["counts"]
    assert re.findall(r'data-id="([^"]+)"', rows_after) == re.findall(r'data-id="([^"]+)"', rows_before)
