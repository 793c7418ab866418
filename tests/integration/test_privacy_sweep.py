"""Privacy sweep: the suite's kinds of traffic, carrying marker personal data, and a scan of
everything that must never hold it.

The traffic: simulated contacts and the case system's outcomes with every name, date of
birth, postcode, narrative and referrer replaced by markers; people's decisions whose free text
(rationales, an IMM dissent, action and single agency, an identity decision) holds markers,
written as the console writes them (sealed); invalid and oversized
submissions; status checks by the right and the wrong agency; bad events on the input
topics; the console used by each role; and a worker and an intake SIGKILLed and restarted
while it flows. The scan: every log line of every process, every metric of the intake,
worker and console, every dead-letter reason, every error response, and every Kafka key and
header and value on every one of the service's topics (internal ones included; sealed parts
set aside: they are ciphertext), and the worker's state directory. Zero hits; and the markers
are there, sealed, for a process holding the master key.

Then the logs of every other test in this session (under pytest's base temporary directory)
are scanned for the personal data the suite's own builders and simulator use.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from faust.stores.rocksdb import RocksDBOptions

from mash.cli.embedded import EmbeddedBroker
from mash.domain.contact import SealedContactEvent
from mash.domain.decisions import (
    ConsentBasis,
    DecisionAction,
    DecisionEvent,
    ImmAction,
    ImmOutcome,
    PartnerAgency,
)
from mash.domain.imm import meeting_id
from mash.domain.persons import IdentityAction
from mash.domain.sealed import Sealed
from mash.services.privacy import read_keyring
from tests.integration.conftest import Service, make_console, make_service
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic, write_topic
from tests.support.people import case_record, decide, decide_identity, latest_cases
from tests.support.reliability_figures import record_figures
from tests.support.traffic import Poster, console_client, simulated_lines, wait_published

SEED = 20_260_719
MARKER = "Zqx"  # never in a hash (hex), a uuid, a timestamp or a word of the service's own
MARKER_DOB = "2011-03-17"
MARKER_POSTCODE = "ZX9 9QX"
MARKER_PHONE = "01632 960"
MARKER_EMAIL = "marker.example"


def with_markers(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
    """The lines with every piece of personal data replaced by a marker; and the NHS numbers in them."""
    nhs: set[str] = set()
    for n, line in enumerate(lines):
        kids = line["submission"]["children"] if line["kind"] == "contact" else [line["event"]["child"]]
        for j, kid in enumerate(kids):
            kid["given_name"] = f"{MARKER}given{n}x{j}"
            kid["family_name"] = f"{MARKER}family{n}"
            if kid.get("date_of_birth"):
                kid["date_of_birth"] = MARKER_DOB
            kid["postcode"] = MARKER_POSTCODE
            if kid.get("nhs_number"):
                nhs.add(kid["nhs_number"])
        if line["kind"] == "contact":
            sub = line["submission"]
            sub["narrative"] = f"{MARKER}narrative {n}: {sub['narrative']}"
            sub["referrer"] = {
                "name": f"{MARKER}referrer{n}",
                "role": sub["referrer"]["role"],
                "phone": f"{MARKER_PHONE}{n % 1000:03d}",
                "email": f"zqx{n}@{MARKER_EMAIL}",
            }
    return lines, nhs


# What people type into decisions, as markers: `{MARKER}<kind>`.
TYPED = ("rationale", "dissent", "action", "owner", "agency")


def decide_with_markers(service: Service, accepted: set[str]) -> list[DecisionEvent]:
    """People's decisions on a few waiting contacts, every piece of their free text a marker, as
    the console writes them (sealed); each applied by the worker before this returns. One
    identity decision too."""
    cases = latest_cases(service)
    waiting = sorted(c for c in accepted if cases.get(c, {}).get("state") == "awaiting_decision")[:6]
    assert len(waiting) == 6, "the traffic leaves contacts waiting for a decision"
    decided = [decide(service, cid, rationale=f"{MARKER}rationale{n}") for n, cid in enumerate(waiting[:4])]
    decided.append(
        decide(
            service,
            waiting[4],
            DecisionAction.IMM_OUTCOME,
            rationale=f"{MARKER}rationale imm",
            meeting_id=meeting_id(datetime.now(UTC).date()),
            outcome=ImmOutcome.SINGLE_AGENCY,
            lead_agency=PartnerAgency.HEALTH,
            single_agency_name=f"{MARKER}agency",
            consent_basis=ConsentBasis.GIVEN,
            actions=[ImmAction(what=f"{MARKER}action", owner=f"{MARKER}owner", due=datetime.now(UTC).date())],
            dissent=f"{MARKER}dissent",
        )
    )
    decide_identity(
        service, IdentityAction.DIFFERENT_CHILD, [waiting[5]], [waiting[0]], f"{MARKER}rationale identity"
    )
    for event in decided:
        case_record(
            service,
            event.contact_id,
            until=lambda r, d=event.decision_id: any(t["decision_id"] == d for t in r["trail"]),
            timeout=60,
        )
    return decided


def without_ciphertext(value: bytes | None) -> str:
    """A record's value with its sealed parts (random bytes in base64, which a short marker could
    match by chance) replaced; the unit tests show what is sealed holds nothing in clear."""
    if value is None:
        return ""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value.decode(errors="replace")

    def strip(item: Any) -> Any:
        if isinstance(item, dict):
            if {"nonce", "data"} <= item.keys() or "wrapped" in item:
                return "<sealed>"
            return {k: strip(v) for k, v in item.items()}
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    return orjson.dumps(strip(data)).decode()


def worker_state(folder: Path, nhs: set[str]) -> str:
    """The worker's state (its tables' RocksDB databases, opened as faust opens them, so values
    RocksDB stores compressed are read as written), with its sealed parts set aside."""
    databases = sorted(p for p in folder.rglob("*.db") if p.is_dir())
    assert databases, f"no RocksDB database under {folder}"
    values: list[str] = []
    for path in databases:
        db = RocksDBOptions().open(path)
        try:
            values.extend(f"{key!r} {without_ciphertext(value)}" for key, value in db.items())
        finally:
            db.close()
    text = "\n".join(values)
    assert "ck-" in text, "the scan read the children's states"
    return text


def hits(text: str, nhs: set[str]) -> list[str]:
    """Every marker found in the text (case-insensitively: identities are case-folded)."""
    found = [
        m.group(0) for m in re.finditer(rf"(?i){MARKER}\w*|{MARKER_EMAIL}|{re.escape(MARKER_PHONE)}\d*", text)
    ]
    found += [p for p in (MARKER_DOB, MARKER_POSTCODE, MARKER_POSTCODE.replace(" ", "")) if p in text]
    found += [number for number in nhs if number in text]
    return found


async def _topics(bootstrap: str, prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(prefix))
    finally:
        await admin.close()


def test_marker_personal_data_never_reaches_logs_metrics_dead_letters_errors_kafka_or_worker_state(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    lines, nhs = with_markers(simulated_lines(SEED, 300, with_outcomes=True))
    service = make_service(
        broker.bootstrap,
        tmp_path,
        MASH_AGENCY_RATE_PER_S="1000",
        MASH_AGENCY_RATE_BURST="1000",
        MASH_LOG_LEVEL="debug",
        MASH_MAX_BACKDATE_HOURS="8760",  # months of simulated history, posted as a backlog
    )
    console = make_console(service)
    errors: list[str] = []  # every error response body
    for proc in (service.worker, service.intake, console.proc):
        proc.start()
    try:
        for proc in (service.intake, service.worker, console.proc):
            proc.wait_ready()
        poster = Poster(service.intake.url, service.keys, lines, rate=60.0, resend_share=0.05, seed=SEED)
        poster.start()
        while poster.posted.done < len(lines) // 3:
            time.sleep(0.05)
        service.worker.stop(signal.SIGKILL)
        service.worker.start()
        while poster.posted.done < len(lines) * 2 // 3:
            time.sleep(0.05)
        service.intake.stop(signal.SIGKILL)
        service.intake.start()
        posted = poster.result(timeout=120)
        assert not posted.refused, posted.refused[:3]
        service.worker.wait_ready(90)
        accepted = posted.accepted_ids()
        wait_published(broker.bootstrap, service.settings, accepted, timeout=90)
        decided = decide_with_markers(service, accepted)

        kid = child(f"{MARKER}Invalid", f"{MARKER}Errorson", dob=MARKER_DOB, postcode=MARKER_POSTCODE)
        invalid = [
            submission(
                "not_a_code", children=[{**kid, "nhs_number": "9434765910"}], narrative=f"{MARKER} narrative"
            ),
            submission("young_carer", children=[{**kid, "date_of_birth": "2999-01-01"}]),
            submission("young_carer", children=[{**kid, "nhs_number": f"{MARKER}123"}]),
            # An e-mail that is not one: refused, without echoing the referrer's details.
            submission(
                "young_carer",
                children=[kid],
                referrer={"name": f"{MARKER}ref", "role": "x", "email": f"{MARKER}"},
            ),
            {**submission("young_carer", children=[kid]), "unexpected_field": f"{MARKER}value"},
            submission("young_carer", children=[kid], narrative=f"{MARKER}" * 100_000),
        ]
        with service.client() as client:
            for body in invalid:
                response = client.post("/v1/contacts", json=body, headers=service.auth())
                assert response.status_code in (413, 422), response.text
                errors.append(response.text)
            broken = orjson.dumps(invalid[0])[:-20]
            response = client.post(
                "/v1/contacts", content=broken, headers={**service.auth(), "Content-Type": "application/json"}
            )
            errors.append(response.text)
            outcome = {
                "type": "case_closed",
                "child": {**kid, "unborn": "maybe"},
                "occurred_at": "2025-01-01T00:00:00Z",
            }
            response = client.post("/v1/outcomes", json=outcome, headers=service.auth("case-system"))
            assert response.status_code == 422
            errors.append(response.text)
            for contact_id in sorted(accepted)[:20]:
                response = client.get(f"/v1/contacts/{contact_id}", headers=service.auth("school"))
                errors.extend([response.text] if response.status_code >= 400 else [])
            intake_metrics = client.get("/metrics").text

        # Bad events holding the markers in clear (as a faulty producer might write them, the
        # contacts opened) onto every input topic.
        keyring = asyncio.run(read_keyring(service.settings, opens=True))
        records = read_topic(broker.bootstrap, service.topic("contacts"))
        events = [
            (
                r.key,
                keyring.personal(SealedContactEvent.model_validate_json(r.value)).model_dump_json().encode(),
            )
            for r in records[:3]
        ]
        bad = [(key, value.replace(b"{", b'{"schema_version":2,"extra":1,', 1)) for key, value in events] + [
            (b"ck-wrong", events[0][1]),
            (events[0][0], events[0][1][:-30]),
        ]
        for topic in ("contacts", "outcomes", "decisions"):
            write_topic(broker.bootstrap, service.topic(topic), bad)
        letters = read_topic(broker.bootstrap, service.topic("dlq"), at_least=3 * len(bad), timeout=30)
        assert len(letters) >= 3 * len(bad)
        # All of each dead letter but its sealed original (random bytes in base64, which a short
        # marker could match by chance); the unit tests show the original holds nothing in clear.
        reasons = [
            orjson.dumps({k: v for k, v in orjson.loads(x.value).items() if k != "original"}).decode()
            for x in letters
        ]

        # The console, as each role, and signed out; errors included.
        some_case = sorted(accepted)[0]
        for user in ("coordinator", "manager", "operations"):
            session = console_client(console.url, user, console.password(user))
            try:
                for path in ("/counts", "/overview", "/queues/awaiting", f"/cases/{some_case}", "/imm"):
                    response = session.get(path)
                    if response.status_code >= 400 or user == "operations":
                        errors.append(response.text)
                for path in (
                    f"/queues/awaiting/rows?limit={MARKER}given",
                    f"/events?since={MARKER}x",
                    f"/cases/{MARKER}given1",
                ):
                    response = (
                        session.get(path) if not path.startswith("/events") else session.get(path, timeout=3)
                    )
                    errors.append(response.text)
            finally:
                session.close()
        with httpx.Client(base_url=console.url, timeout=10.0) as anonymous:
            for path in (f"/cases/{some_case}", "/counts", f"/queues/{MARKER}given"):
                errors.append(anonymous.get(path).text)
            errors.append(
                anonymous.post("/login", data={"username": f"{MARKER}given1", "password": MARKER}).text
            )
        console_metrics = httpx.get(f"{console.url}/metrics").text
        worker_metrics = service.worker_metrics()

        written = {value for _, value in bad}
        on_kafka: list[str] = []  # every key, header and value (its sealed parts set aside)
        topics = asyncio.run(_topics(broker.bootstrap, service.settings.topic_prefix))
        assert any("changelog" in t for t in topics), topics
        for topic in topics:
            for record in read_topic(broker.bootstrap, topic, timeout=1):
                on_kafka.append((record.key or b"").decode(errors="replace"))
                on_kafka.extend(f"{k}={v.decode(errors='replace')}" for k, v in record.headers)
                if record.value not in written:  # the bad events this test wrote in clear itself
                    on_kafka.append(f"{topic}: {without_ciphertext(record.value)}")
        sealed_contacts = [
            SealedContactEvent.model_validate_json(r.value)
            for r in read_topic(broker.bootstrap, service.topic("contacts"))
            if b'"personal"' in r.value
        ]
        # The markers are there, sealed: the master key opens them.
        keyring = asyncio.run(read_keyring(service.settings, opens=True))
        opened = [keyring.personal(c).model_dump_json() for c in sealed_contacts[:50]]
        assert all(MARKER in text for text in opened), opened[:1]
        # And what people typed into decisions, as the decisions topic holds it.
        on_topic = [
            DecisionEvent.model_validate_json(r.value)
            for r in read_topic(broker.bootstrap, service.topic("decisions"))
            if r.value not in written
        ]
        assert {d.decision_id for d in on_topic} == {d.decision_id for d in decided}
        typed = [
            keyring.open(d.rationale, f"{d.decision_id}/rationale".encode()).decode()
            for d in on_topic
            if isinstance(d.rationale, Sealed)
        ]
        assert len(typed) == len(decided)
        assert all(text.startswith(f"{MARKER}rationale") for text in typed), typed
    finally:
        for proc in (service.intake, console.proc, service.worker):
            proc.stop()

    logs = {proc.name: proc.log_text() for proc in (service.intake, service.worker, console.proc)}
    assert "contacts_accepted" in logs["intake"]
    assert "dead_letter" in logs["worker"]
    assert MARKER in orjson.dumps([value.decode(errors="replace") for _, value in events]).decode(), (
        "the traffic had markers"
    )
    places = {
        **{f"{name} log": text for name, text in logs.items()},
        "intake metrics": intake_metrics,
        "worker metrics": worker_metrics,
        "console metrics": console_metrics,
        "dead-letter reasons": "\n".join(reasons),
        "error responses": "\n".join(errors),
        "Kafka keys, headers and values": "\n".join(on_kafka),
        "the worker's state directory": worker_state(service.tmp / "worker-state", nhs),
    }
    found = {where: sorted(set(hits(text, nhs)))[:5] for where, text in places.items() if hits(text, nhs)}
    leaking = [e[:300] for e in errors if hits(e, nhs)]
    log_lines = sum(text.count("\n") for text in logs.values())
    record_figures(
        "privacy sweep",
        contacts_sent=len(accepted),
        log_lines=log_lines,
        error_responses=len(errors),
        dead_letters=len(letters),
        kafka_records=len(on_kafka),
        topics=len(topics),
        hits=sum(len(v) for v in found.values()),
    )
    assert not found, f"personal data found: {found}; error responses with it: {leaking[:3]}"


# The fictional personal data the rest of the suite sends (tests/support/builders.py and
# the tests' own children), and NHS numbers from the range reserved for test data.
SUITE_NAMES = (
    "Sampleford",
    "Marigoldina",
    "Zephyrwhistle",
    "Quillon",
    "Marchbank",
    "Consolewood",
    "Matrixford",
    "Topicson",
    "Restartson",
)
TEST_NHS = re.compile(r"(?<!\d)999\d{7}(?!\d)")


def test_no_log_of_any_test_in_this_session_holds_personal_data(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = tmp_path_factory.getbasetemp()
    scanned, found = 0, []
    for path in [*base.rglob("*.log"), *base.rglob("*.out")]:
        text = path.read_text(errors="replace")
        scanned += 1
        for name in SUITE_NAMES:
            if name in text:
                found.append(f"{path.relative_to(base)}: {name}")
        found.extend(f"{path.relative_to(base)}: an NHS number" for _ in TEST_NHS.finditer(text))
    record_figures("privacy sweep: every test's logs", log_files=scanned, hits=len(found))
    assert not found, found[:10]


def test_the_child_key_secret_has_no_default_in_production(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MASH_MODE": "production", "MASH_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    for part in ("intake", "worker", "console"):
        done = subprocess.run(
            [sys.executable, "-m", "mash", part], env=env, capture_output=True, timeout=60, cwd=tmp_path
        )
        assert done.returncode == 2, (part, done.stderr[-500:])
        assert b"MASH_CHILD_KEY_SECRET must be set in production mode" in done.stderr


def test_the_parts_that_open_personal_details_refuse_to_start_without_the_master_key(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MASH_MODE": "production",
        "MASH_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "MASH_CHILD_KEY_SECRET": "a-secret-for-this-test",
        "MASH_CONSOLE_SESSION_SECRET": "another-secret-for-this-test",
    }
    for part in ("intake", "console"):
        done = subprocess.run(
            [sys.executable, "-m", "mash", part], env=env, capture_output=True, timeout=60, cwd=tmp_path
        )
        assert done.returncode == 2, (part, done.stderr[-500:])
        assert b"configuration error: MASH_MASTER_KEYS must be set" in done.stderr
        assert b"Traceback" not in done.stderr
