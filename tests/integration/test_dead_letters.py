"""Events the worker cannot use go to the dead-letter topic with the reason; the rest go on."""

from __future__ import annotations

import base64

import orjson

from mash.adapters.dead_letters import DeadLetter, box_key, open_dead_letter
from tests.integration.conftest import Service
from tests.support.builders import submission
from tests.support.kafka_topics import read_topic, write_topic
from tests.support.keys import DEAD_LETTER_PRIVATE_KEY


def test_bad_events_are_dead_lettered_and_the_good_ones_around_them_processed(service: Service) -> None:
    with service.client() as client:
        first = client.post("/v1/contacts", json=submission("young_carer"), headers=service.auth()).json()
    [good] = read_topic(service.bootstrap, service.topic("contacts"), at_least=1)
    event = orjson.loads(good.value)
    wrong_version = {**event, "schema_version": event["schema_version"] + 1}
    missing_field = {k: v for k, v in event.items() if k != "indicators"}
    bad = [
        (b"ck-x", b"{not json"),
        (b"ck-x", b'{"truncated": '),
        (b"ck-x", b"[1, 2, 3]"),
        (b"ck-x", orjson.dumps(wrong_version)),
        (good.key, orjson.dumps(missing_field)),
        (b"ck-x", b"x" * (512 * 1024 + 1)),
    ]
    write_topic(service.bootstrap, service.topic("contacts"), bad)
    with service.client() as client:
        last = client.post(
            "/v1/contacts", json=submission("disclosure_of_abuse"), headers=service.auth()
        ).json()

    raw = [r.value for r in read_topic(service.bootstrap, service.topic("dlq"), at_least=len(bad))]
    letters = [orjson.loads(value) for value in raw]
    assert [letter["reason"] for letter in letters] == [
        "malformed_json",
        "malformed_json",
        "not_an_object",
        "unsupported_version",
        "schema_invalid",
        "oversized",
    ]
    assert letters[4]["problems"] == [{"loc": ["indicators"], "msg": "Field required", "type": "missing"}]
    # Nothing is lost: each original record is kept, sealed to the operators' key, and opens
    # to exactly its bytes; the letters themselves hold none of them.
    private_key = box_key(DEAD_LETTER_PRIVATE_KEY, "MASH_DEAD_LETTER_PRIVATE_KEY")
    opened = [open_dead_letter(DeadLetter.model_validate_json(value), private_key) for value in raw]
    assert opened == bad
    for (_, original), letter in zip(bad, raw, strict=True):
        assert original not in letter
        assert base64.b64encode(original) not in letter
    cases = {
        orjson.loads(r.value)["contact_id"]
        for r in read_topic(service.bootstrap, service.topic("cases"), at_least=2)
    }
    assert cases == {*first["contact_ids"], *last["contact_ids"]}
    metrics = service.worker_metrics()
    assert (
        f'mash_dead_letters_total{{reason="schema_invalid",topic="{service.topic("contacts")}"}} 1.0'
        in metrics
    )
