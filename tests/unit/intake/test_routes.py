"""The intake's HTTP answers, over the submission use case on Kafka in memory: each refusal of the
service layer has its status, body and Retry-After, and a replay says so in a header.

The app's lifespan is not run (no Kafka is reached): the test puts an in-memory use case in the
runtime instead of the one that writes through the intake's producer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from mash.config import Settings
from mash.domain.contact import CinSource
from mash.domain.ruleset import load_ruleset
from mash.intake.agencies import Agency, AgencyDirectory, AgencyFile, hash_key
from mash.intake.app import create_intake_app
from mash.intake.runtime import IntakeRuntime
from mash.services.submissions import ContactSubmissions
from mash.views.ledger import LedgerFeed
from tests.support.keys import MASTER_KEYS, test_keyring
from tests.support.memory_kafka import MemoryKafka

POLICE_KEY, SCHOOL_KEY, COUNCIL_KEY = (f"mash_{a}_unit-test-key" for a in ("police", "school", "council"))
SETTINGS = Settings(
    mode="development", child_key_secret="unit-test-child-key-secret", master_keys=MASTER_KEYS
)


@dataclass
class NothingToRead:
    """The ledger's follower, on topics that hold nothing yet: caught up once `caught_up` is set."""

    caught_up: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def read_to_end(self) -> None: ...


@dataclass
class Intake:
    client: TestClient
    runtime: IntakeRuntime
    kafka: MemoryKafka
    ledger: NothingToRead
    connected: bool = True

    def post(self, path: str, body: dict[str, Any], key: str = POLICE_KEY) -> Any:
        return self.client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def intake(tmp_path: Path) -> Intake:
    agencies = AgencyFile(
        agencies=[
            Agency(
                id="police",
                name="Police",
                default_source=CinSource.POLICE,
                key_hashes=(hash_key(POLICE_KEY),),
            ),
            Agency(
                id="school",
                name="School",
                default_source=CinSource.SCHOOLS,
                can_submit=False,
                key_hashes=(hash_key(SCHOOL_KEY),),
            ),
            Agency(
                id="council",
                name="Council",
                default_source=CinSource.LA_SOCIAL_CARE,
                can_report_outcomes=True,
                key_hashes=(hash_key(COUNCIL_KEY),),
            ),
        ]
    )
    (tmp_path / "agencies.json").write_bytes(orjson.dumps(agencies.model_dump(mode="json")))
    app = create_intake_app(SETTINGS, load_ruleset(), AgencyDirectory(tmp_path / "agencies.json"))
    runtime: IntakeRuntime = app.state.runtime
    kafka = MemoryKafka()
    ledger = NothingToRead()
    ledger.caught_up.set()
    feed = LedgerFeed(SETTINGS, test_keyring(), lambda topics, on_record: ledger)
    built = Intake(TestClient(app), runtime, kafka, ledger)
    runtime.feed = feed
    runtime.contacts = ContactSubmissions(
        SETTINGS, kafka, feed, runtime.rules, connected=lambda: built.connected
    )
    return built


def submission(reference: str = "REF-1", **extra: Any) -> dict[str, Any]:
    return {
        "agency_reference": reference,
        "children": [{"given_name": "Testa", "family_name": "Sampleford", "date_of_birth": "2015-03-02"}],
        "indicators": ["no_unmet_needs"],
        "narrative": "A fictional concern used in tests.",
        "consent": {"status": "given"},
        "referrer": {"name": "PC Example", "role": "police officer", "phone": "0151 000 0000"},
        **extra,
    }


def test_an_accepted_submission_is_202_and_its_replay_202_with_the_same_ids_and_a_replayed_header(
    intake: Intake,
) -> None:
    first = intake.post("/v1/contacts", submission())
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first.headers
    [contact_id] = first.json()["contact_ids"]
    assert first.json() == {
        "contact_ids": [contact_id],
        "status_urls": [f"/v1/contacts/{contact_id}"],
        "replayed": False,
    }
    again = intake.post("/v1/contacts", submission())
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["contact_ids"] == [contact_id]
    assert len(intake.kafka.values(SETTINGS.topic("contacts"))) == 1


def test_kafka_not_reached_yet_is_503_retry_in_5_seconds(intake: Intake) -> None:
    intake.connected = False
    response = intake.post("/v1/contacts", submission())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {"detail": "the event store cannot be reached yet; try again later"}


def test_a_write_kafka_did_not_take_is_503_retry_in_5_seconds(intake: Intake) -> None:
    intake.kafka.reachable = False
    response = intake.post("/v1/contacts", submission())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {"detail": "the event could not be stored; try again later"}


def test_while_the_ledger_is_read_submissions_and_status_are_503_retry_in_a_second(intake: Intake) -> None:
    intake.ledger.caught_up.clear()
    for response in (
        intake.post("/v1/contacts", submission()),
        intake.client.get("/v1/contacts/ct-1", headers={"Authorization": f"Bearer {POLICE_KEY}"}),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json() == {"detail": "the intake adapter is still reading its ledger; try again"}


def test_an_invalid_submission_is_422_listing_its_problems(intake: Intake) -> None:
    response = intake.post("/v1/contacts", submission(indicators=["not_a_code"]))
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"][:2] == ["body", "indicators"]


def test_an_agency_may_only_do_what_it_is_allowed(intake: Intake) -> None:
    assert intake.post("/v1/contacts", submission(), key=SCHOOL_KEY).status_code == 403
    assert intake.post("/v1/outcomes", OUTCOME, key=SCHOOL_KEY).status_code == 403
    assert intake.post("/v1/contacts", submission(), key="mash_nobody").status_code == 401


def test_a_contact_is_404_to_any_agency_but_its_own(intake: Intake) -> None:
    [contact_id] = intake.post("/v1/contacts", submission()).json()["contact_ids"]
    own = intake.client.get(f"/v1/contacts/{contact_id}", headers={"Authorization": f"Bearer {POLICE_KEY}"})
    other = intake.client.get(f"/v1/contacts/{contact_id}", headers={"Authorization": f"Bearer {SCHOOL_KEY}"})
    assert own.json() == {"contact_id": contact_id, "status": "received"}
    assert other.status_code == 404


OUTCOME = {
    "type": "case_closed",
    "child": {"given_name": "Testa", "family_name": "Sampleford", "date_of_birth": "2015-03-02"},
    "occurred_at": "2026-01-05T10:00:00Z",
}


def test_an_outcome_kafka_did_not_take_is_503_and_one_dated_ahead_422(intake: Intake) -> None:
    response = intake.post("/v1/outcomes", OUTCOME, key=COUNCIL_KEY)  # the intake's producer: never connected
    assert response.status_code == 503
    assert response.json() == {"detail": "the event could not be stored; try again later"}
    ahead = intake.post("/v1/outcomes", {**OUTCOME, "occurred_at": "2999-01-01T00:00:00Z"}, key=COUNCIL_KEY)
    assert ahead.status_code == 422
    assert ahead.json()["detail"][0]["loc"] == ["body", "occurred_at"]


def test_ready_only_once_kafka_is_reached_and_the_ledger_caught_up(intake: Intake) -> None:
    assert intake.client.get("/health/live").json() == {"status": "live"}
    assert intake.client.get("/health/ready").status_code == 503
    intake.runtime.kafka.open()
    assert intake.client.get("/health/ready").json() == {"ready": True}
