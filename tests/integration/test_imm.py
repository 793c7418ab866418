"""The integrated mid-day meeting end to end: real worker, intake and console on the embedded broker,
driven in headless Chromium.

Contacts are posted with received times on the working day before yesterday's meeting (so the
test gives the same result on any day of the week, weekends and bank holidays included); a
manager freezes that meeting's agenda from the console, a coordinator records outcomes for two
cases and carries the third, the worker applies the outcomes, and the queues, the agenda and
the figures follow. The next meeting's agenda carries the third case over. Screenshots and the
printable agenda (PDF) go to tests/output/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mash.cli.embedded import EmbeddedBroker
from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.imm import AgendaFrozen, MeetingRecorded, meeting_id, parse_imm_event, previous_working_day
from mash.domain.sealed import Sealed
from mash.services.privacy import read_keyring
from mash.worker.imm_agent import FreezeResult, run_freeze
from tests.integration.conftest import ConsoleProc, Service, make_service, running_console, serving
from tests.support.builders import child, submission
from tests.support.console_pages import CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.support.kafka_topics import read_topic

OUTPUT = Path(__file__).resolve().parents[1] / "output"
ARRIVE_MS = 20_000
LONDON = DEFAULT_CALENDAR.zone
T = TypeVar("T")


def in_thread(fn: Callable[[], T]) -> T:
    """Runs asyncio code off Playwright's thread (its sync API keeps an event loop running there)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def meeting_days() -> tuple[date, date]:
    """The two most recent meetings before today: the first is recorded, the second carries over."""
    today = datetime.now(LONDON).date()
    second = previous_working_day(today)
    return previous_working_day(second), second


def at_london(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(UTC).isoformat()


def post_contact(service: Service, body: dict[str, Any], agency: str = "police") -> str:
    with service.client() as client:
        response = client.post("/v1/contacts", json=body, headers=service.auth(agency))
    assert response.status_code == 202, response.text
    [contact_id] = response.json()["contact_ids"]
    return str(contact_id)


def imm_events(service: Service, at_least: int = 0) -> list[AgendaFrozen | MeetingRecorded]:
    records = in_thread(lambda: read_topic(service.bootstrap, service.topic("imm"), at_least, 5.0))
    return [parse_imm_event(r.value) for r in records if r.value is not None]


def decisions(service: Service) -> list[dict[str, Any]]:
    records = in_thread(lambda: read_topic(service.bootstrap, service.topic("decisions"), 0, 3.0))
    return [orjson.loads(r.value) for r in records if r.value is not None]


def screenshot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"console-{name}.png"), full_page=True)


@pytest.fixture
def service(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Service]:
    """Intake and one worker that take contacts dated back to the last two meetings: up to a
    fortnight, for a long weekend or the Christmas bank holidays in between. Today's cut-off is
    put after the working day, so the worker's own jobs never freeze today's meeting while a test
    counts agendas (its catch-up runs every 10 minutes from the cut-off to the end of the day)."""
    with serving(
        make_service(broker.bootstrap, tmp_path, MASH_MAX_BACKDATE_HOURS="336", MASH_IMM_CUTOFF="23:59")
    ) as svc:
        yield svc


@pytest.fixture
def console(service: Service) -> Iterator[ConsoleProc]:
    with running_console(service) as running:
        yield running


@pytest.fixture
def browser(service: Service) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium: make system-deps")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB").new_page()


def nav_count(page: Page, queue: str) -> Any:
    return page.locator(f'a[href="/queues/{queue}"] [data-count="{queue}"]')


def reload_until(page: Page, check: Callable[[], bool], timeout_s: float = ARRIVE_MS / 1000) -> None:
    """For parts of a page that change on the server but are not pushed live (the agenda's results)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the page never showed the change"
        time.sleep(0.5)
        page.reload()


def freeze_from_console(page: Page, console: ConsoleProc, day: date) -> None:
    page.goto(f"{console.url}/imm")
    page.get_by_label("Meeting date").fill(day.isoformat())
    page.get_by_role("button", name="Freeze agenda now").click()
    expect(page).to_have_url(f"{console.url}/imm/{meeting_id(day)}")


def test_a_meeting_freezes_its_agenda_records_two_outcomes_carries_a_third_and_the_figures_follow(
    service: Service, console: ConsoleProc, browser: Browser
) -> None:
    first, second = meeting_days()
    green = post_contact(
        service,
        submission(
            "missed_health_checks", children=[child("Ada", "Greenway")], received_at=at_london(first, 9)
        ),
        agency="health",
    )
    amber = post_contact(
        service,
        submission(
            "persistent_absence", children=[child("Bram", "Amberley")], received_at=at_london(first, 9, 30)
        ),
        agency="school",
    )
    red = post_contact(
        service,
        submission(
            "disclosure_of_abuse", children=[child("Cora", "Redfern")], received_at=at_london(first, 10)
        ),
    )

    manager = new_page(browser)
    sign_in(manager, console, "manager")
    expect(nav_count(manager, "imm")).to_have_text("3", timeout=ARRIVE_MS)
    freeze_from_console(manager, console, first)
    expect(manager.locator(".flash")).to_contain_text("Agenda frozen: 3 cases")
    items = manager.locator("li[data-item]")
    expect(items).to_have_count(3)
    assert [items.nth(i).get_attribute("data-item") for i in range(3)] == [red, amber, green]  # RAG order
    red_item = manager.locator(f'li[data-item="{red}"]')
    expect(red_item.locator('[data-tag="new"]')).to_be_visible()
    expect(red_item.locator("h2 .initials")).to_have_text("CR")  # the child by initials, not only an id
    expect(manager.locator(f'li[data-item="{amber}"] [data-field="agencies"]')).to_have_text("school")
    expect(manager.locator(f'li[data-item="{green}"] [data-field="consent"]')).to_contain_text("Given")
    screenshot(manager, "imm-agenda")

    manager.get_by_role("link", name="Print version").click()
    expect(manager.locator("h1")).to_contain_text("Agenda:")
    expect(manager.locator(".imm-print-item")).to_have_count(3)
    manager.emulate_media(media="print")
    screenshot(manager, "imm-print")
    manager.pdf(path=str(OUTPUT / "imm-agenda.pdf"), format="A4")
    manager.emulate_media(media="screen")
    manager.context.close()

    coordinator = new_page(browser)
    sign_in(coordinator, console, "coordinator")
    coordinator.goto(f"{console.url}/imm/{meeting_id(first)}")
    coordinator.get_by_role("link", name="Record the meeting").click()
    present = coordinator.locator("fieldset.imm-present")
    for agency in ("Police", "Health", "Children's social care"):
        present.get_by_label(agency, exact=True).check()

    form = coordinator.locator(f'fieldset[data-item="{green}"]')
    form.get_by_role("radio", name="Early help", exact=True).check()
    form.get_by_label("Lead agency").select_option("early_help")
    form.get_by_label("Consent").select_option("given")
    form.get_by_label("Rationale").fill(
        "Missed health checks; the family asked for support. Early help fits."
    )
    form.get_by_label("Action 1: what").fill("Allocate a family support worker")
    form.get_by_label("Action 1: owner").fill("Early help hub")
    form.get_by_label("Action 1: due").fill(second.isoformat())

    form = coordinator.locator(f'fieldset[data-item="{amber}"]')
    form.get_by_role("radio", name="Children's social care assessment").check()
    form.get_by_label("Lead agency").select_option("childrens_social_care")
    form.get_by_label("Consent").select_option("given")
    form.get_by_label("Rationale").fill("Persistent absence with other concerns at home: assess (s17).")
    form.get_by_label("Dissent").fill("Education would have tried early help first.")

    carry = coordinator.locator(f'fieldset[data-item="{red}"]').get_by_role(
        "radio", name=re.compile("carry over")
    )
    expect(carry).to_be_checked()
    screenshot(coordinator, "imm-record")
    coordinator.get_by_role("button", name="Record the meeting").click()

    expect(coordinator.locator(".flash")).to_contain_text("Meeting recorded: 2 discussed, 1 carried over")
    expect(coordinator.locator('[data-recorded="discussed"]')).to_have_text("2")
    # The queues follow live as the worker applies the outcomes: off the IMM queue, into their routes.
    expect(nav_count(coordinator, "imm")).to_have_text("1", timeout=ARRIVE_MS)
    expect(nav_count(coordinator, "early_help")).to_have_text("1", timeout=ARRIVE_MS)
    expect(nav_count(coordinator, "social_care")).to_have_text("1", timeout=ARRIVE_MS)
    expect(nav_count(coordinator, "awaiting")).to_have_text("1", timeout=ARRIVE_MS)

    def results_applied() -> bool:
        kinds = [
            coordinator.locator(f'li[data-item="{c}"]').get_attribute("data-result")
            for c in (red, amber, green)
        ]
        return kinds == ["carried", "outcome", "outcome"]

    reload_until(coordinator, results_applied)
    expect(coordinator.locator(f'li[data-item="{green}"] [data-field="result"]')).to_contain_text(
        "Early help · lead agency: Early help"
    )
    expect(coordinator.locator(f'li[data-item="{amber}"] [data-field="result"]')).to_contain_text(
        "Children's social care assessment"
    )
    screenshot(coordinator, "imm-recorded")
    # What the meeting wrote travels sealed; the case page opens it.
    coordinator.goto(f"{console.url}/cases/{amber}")
    expect(coordinator.locator("table.trail")).to_contain_text(
        "Persistent absence with other concerns at home: assess (s17)."
    )

    coordinator.goto(f"{console.url}/queues/imm")
    expect(coordinator.locator("#rows tr")).to_have_count(1)
    expect(coordinator.locator(f'#rows tr[data-id="{red}"]')).to_be_visible()

    coordinator.goto(f"{console.url}/imm")
    expect(coordinator.locator('[data-figure="cases_on_agendas"]')).to_have_text("3")
    expect(coordinator.locator('[data-figure="cases_discussed"]')).to_have_text("2")
    expect(coordinator.locator('[data-figure="cases_carried_over"]')).to_have_text("1")
    expect(coordinator.locator('[data-outcome="early_help"]')).to_have_text("1")
    expect(coordinator.locator('[data-outcome="csc_assessment"]')).to_have_text("1")
    expect(coordinator.locator('[data-lead="childrens_social_care"]')).to_have_text("1")
    expect(coordinator.locator('[data-attended="police"]')).to_have_text("1")
    expect(coordinator.locator('[data-figure="within_rate"]')).not_to_have_text("—")
    screenshot(coordinator, "imm-figures")

    # Recording the same meeting again is refused.
    coordinator.goto(f"{console.url}/imm/{meeting_id(first)}/record")
    expect(coordinator.locator(".flash")).to_contain_text("already been recorded")
    coordinator.context.close()

    # The next meeting carries the case that was not reached.
    manager = new_page(browser)
    sign_in(manager, console, "manager")
    freeze_from_console(manager, console, second)
    next_items = manager.locator("li[data-item]")
    expect(next_items).to_have_count(1)
    expect(manager.locator(f'li[data-item="{red}"] [data-tag="carried"]')).to_contain_text(
        f"Carried over from {first.isoformat()}"
    )
    screenshot(manager, "imm-carried")
    manager.context.close()

    outcomes = sorted(
        (str(d["contact_id"]), str(d["outcome"]), str(d["lead_agency"]))
        for d in decisions(service)
        if d["action"] == "imm_outcome"
    )
    assert outcomes == sorted(
        [(green, "early_help", "early_help"), (amber, "csc_assessment", "childrens_social_care")]
    )
    written = {str(d["contact_id"]): d for d in decisions(service) if d["action"] == "imm_outcome"}
    for typed in ("Missed health checks", "family support worker", "Early help hub", "Education would"):
        assert typed not in orjson.dumps(list(written.values())).decode()
    keyring = in_thread(lambda: asyncio.run(read_keyring(service.settings, opens=True)))

    def opened(contact_id: str, field: str, value: Any) -> str:
        decision_id = written[contact_id]["decision_id"]
        return keyring.open(Sealed.model_validate(value), f"{decision_id}/{field}".encode()).decode()

    [action] = written[green]["actions"]
    assert (
        opened(green, "actions/0/what", action["what"]),
        opened(green, "actions/0/owner", action["owner"]),
    ) == (
        "Allocate a family support worker",
        "Early help hub",
    )
    assert (
        opened(amber, "dissent", written[amber]["dissent"]) == "Education would have tried early help first."
    )
    events = imm_events(service, at_least=3)
    assert [type(e).__name__ for e in events].count("AgendaFrozen") == 2
    [meeting] = [e for e in events if isinstance(e, MeetingRecorded)]
    assert (meeting.meeting_id, set(meeting.discussed), meeting.carried) == (
        meeting_id(first),
        {green, amber},
        (red,),
    )
    assert set(meeting.agencies_present) == {"police", "health", "childrens_social_care"}

    deadline = time.monotonic() + 30
    while "mash_imm_discussed_cases 2.0" not in (metrics := httpx.get(f"{console.url}/metrics").text):
        assert time.monotonic() < deadline, metrics[-2000:]
        time.sleep(1.0)
    assert 'mash_imm_outcomes{lead_agency="early_help",outcome="early_help"} 1.0' in metrics
    assert 'mash_imm_attendance{agency="police"} 1.0' in metrics
    assert "mash_imm_contact_to_decision_seconds_count 2.0" in metrics

    console.proc.stop()
    logs = console.proc.log_text()
    assert "console_imm_recorded" in logs
    for personal in ("Ada", "Greenway", "Bram", "Amberley", "Cora", "Redfern"):
        assert personal not in logs


def test_mash_imm_freeze_is_idempotent_and_freezes_nothing_without_a_meeting(service: Service) -> None:
    first, _ = meeting_days()
    contact_id = post_contact(service, submission("persistent_absence", received_at=at_london(first, 9)))
    cases = read_topic(service.bootstrap, service.topic("cases"), at_least=1, timeout=20.0)
    assert [r.key for r in cases] == [contact_id.encode()]
    settings = service.settings.model_copy(update={"embedded_broker": True})

    frozen: FreezeResult = asyncio.run(run_freeze(settings, first))
    assert frozen.published
    assert frozen.agenda is not None
    assert [i.contact_id for i in frozen.agenda.items] == [contact_id]
    assert "frozen: 1 cases (0 carried over, 0 for ratification)" in frozen.describe()

    again = asyncio.run(run_freeze(settings, first))
    assert (again.published, again.agenda) == (False, frozen.agenda)
    assert "already frozen; kept" in again.describe()

    saturday = first
    while DEFAULT_CALENDAR.is_working_day(saturday):
        saturday = date.fromordinal(saturday.toordinal() - 1)
    nothing = asyncio.run(run_freeze(settings, saturday))
    assert (nothing.agenda, nothing.published) == (None, False)

    [event] = imm_events(service, at_least=1)
    assert event == frozen.agenda
    assert re.search(r"no meeting", nothing.describe())
