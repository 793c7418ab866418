"""Erasure and retention by crypto-shredding: `mash erase` and `mash retention run`.

After a child is erased, the console, the exports and a raw read of Kafka show nothing personal
about them, another child's details stay, and `mash report` is unchanged: the figures are
pseudonymous. The retention policy finds, reports and erases the children whose every contact
ended with no further action longer ago than the policy's years.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mash.adapters.sealing import Unreadable
from mash.cli.embedded import EmbeddedBroker
from mash.domain.contact import SealedContactEvent
from mash.domain.decisions import DecisionAction, DecisionEvent, Role
from mash.services.privacy import read_keyring
from tests.integration.conftest import ConsoleProc, Service, make_console, make_service
from tests.support.builders import child, submission
from tests.support.imm_world import RAG_OF
from tests.support.kafka_topics import read_topic, write_topic
from tests.support.traffic import console_client, wait_published

NAMES = {
    "erased": ("Erasmina", "Shreddington"),
    "kept": ("Keepsie", "Staywell"),
    "old": ("Oldwyn", "Agedale"),
}


def mash(service: Service, *args: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mash", *args],
        env={**service.env, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def console_get(console: ConsoleProc, path: str) -> str:
    session = console_client(console.url, "coordinator", console.password("coordinator"))
    try:
        return session.get(path).text
    finally:
        session.close()


def case_page(console: ConsoleProc, contact_id: str) -> str:
    return console_get(console, f"/cases/{contact_id}")


def wait_for_page(console: ConsoleProc, contact_id: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        page = case_page(console, contact_id)
        if text in page or time.monotonic() > deadline:
            return page
        time.sleep(0.3)


def opens(service: Service) -> dict[str, bool]:
    """For each contact on the contacts topic, whether its personal details open with the master key."""
    keyring = asyncio.run(read_keyring(service.settings, opens=True))
    result = {}
    for record in read_topic(service.bootstrap, service.topic("contacts")):
        event = SealedContactEvent.model_validate_json(record.value)
        try:
            keyring.personal(event)
            result[event.contact_id] = True
        except Unreadable:
            result[event.contact_id] = False
    return result


def latest(service: Service, contact_id: str) -> dict[str, Any]:
    return wait_published(service.bootstrap, service.settings, {contact_id}, 5).copies[contact_id][-1]


def post(service: Service, who: str, indicator: str, **extra: str) -> str:
    given, family = NAMES[who]
    body = submission(indicator, children=[child(given, family, dob="2014-05-06")], **extra)
    with service.client() as client:
        response = client.post("/v1/contacts", json=body, headers=service.auth())
    assert response.status_code == 202, response.text
    [contact_id] = response.json()["contact_ids"]
    return contact_id


def test_an_erased_child_shows_nothing_personal_anywhere_and_the_figures_do_not_change(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # Contacts may be dated back two years: the old child's history, for the retention policy.
    service = make_service(broker.bootstrap, tmp_path, MASH_MAX_BACKDATE_HOURS="20000")
    console = make_console(service)
    for proc in (service.intake, service.worker, console.proc):
        proc.start()
    try:
        for proc in (service.intake, service.worker, console.proc):
            proc.wait_ready()
        erased = [post(service, "erased", "young_carer"), post(service, "erased", "persistent_absence")]
        kept = post(service, "kept", "young_carer")
        two_years_ago = (datetime.now(UTC) - timedelta(days=730)).isoformat()
        old = post(service, "old", "no_unmet_needs", received_at=two_years_ago)
        published = wait_published(service.bootstrap, service.settings, {*erased, kept, old}, timeout=60)
        old_child = published.copies[old][-1]["child_key"]
        # A coordinator decided the old contact needed no further action, at the time.
        decided = DecisionEvent(
            decision_id="dc-erasure-test-old",
            contact_id=old,
            child_key=old_child,
            action=DecisionAction.CHANGE,
            decided_at=datetime.now(UTC) - timedelta(days=729),
            by="coordinator-7",
            role=Role.COORDINATOR,
            level=1,
            rag=RAG_OF[1],
            rationale="Advice given to the family; no further action.",
        )
        write_topic(
            service.bootstrap,
            service.topic("decisions"),
            [(old_child.encode(), decided.model_dump_json().encode())],
        )
        deadline = time.monotonic() + 30
        while (
            wait_published(service.bootstrap, service.settings, {old}, 5).copies[old][-1]["state"] != "closed"
        ):
            assert time.monotonic() < deadline, "the old contact was never closed"
            time.sleep(0.3)

        assert "Erasmina" in wait_for_page(console, erased[0], "Erasmina")
        report_before = mash(service, "report", "--from", "2020-01-01", "--to", "2030-12-31")
        assert opens(service) == {cid: True for cid in (*erased, kept, old)}

        said = mash(service, "erase", erased[1], "--reason", "DPO decision 2026-117", "--by", "dpo")
        assert "data keys destroyed" in said

        page = wait_for_page(console, erased[0], "Personal details erased")
        assert "Personal details erased" in page
        for personal in ("Erasmina", "Shreddington", "06 May 2014"):
            assert personal not in page
        assert "personal details erased" in console_get(console, "/queues/awaiting")
        assert "Keepsie" in case_page(console, kept)
        assert opens(service) == {erased[0]: False, erased[1]: False, kept: True, old: True}
        assert mash(service, "report", "--from", "2020-01-01", "--to", "2030-12-31") == report_before

        # The policy at one year: only the old child, whose one contact ended with no further action.
        one_year = {"MASH_RETENTION_NFA_YEARS": "1"}
        dry = mash(service, "retention", "run", "--dry-run", **one_year)
        assert old_child in dry
        assert "would erase 1 children" in dry
        assert opens(service)[old] is True  # a dry run erases nothing
        applied = mash(service, "retention", "run", "--apply", **one_year)
        assert "erased 1 children" in applied
        after = opens(service)
        assert (after[old], after[kept]) == (False, True)
        assert "would erase 0 children" in mash(service, "retention", "run", "--dry-run", **one_year)
        assert "Personal details erased" in wait_for_page(console, old, "Personal details erased")
        assert mash(service, "report", "--from", "2020-01-01", "--to", "2030-12-31") == report_before
        logs = service.intake.log_text() + service.worker.log_text() + console.proc.log_text()
        assert "Erasmina" not in logs
    finally:
        for proc in (service.intake, console.proc, service.worker):
            proc.stop()
