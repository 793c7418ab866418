"""The intake's cheap per-request parts: the size checks and metrics (a plain ASGI middleware),
the 202 body made without FastAPI's second pass, and the once-a-second `contacts_accepted` log."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from mash.intake.accepted_log import AcceptedLog
from mash.intake.answers import Accepted, accepted
from mash.intake.middleware import LimitsAndMetrics

Message = dict[str, Any]


async def answer_202(scope: Message, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def call(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> tuple[int, bytes]:
    """Sends one request through the middleware around `answer_202`; the status and body."""
    app = LimitsAndMetrics(answer_202, max_body_bytes=100)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def requests_counted(endpoint: str, status: int) -> float:
    value = REGISTRY.get_sample_value(
        "mash_intake_requests_total", {"endpoint": endpoint, "status": str(status)}
    )
    return value or 0.0


def test_a_post_without_content_length_is_411_and_counted() -> None:
    before = requests_counted("/v1/contacts", 411)
    status, body = call("POST", "/v1/contacts", [])
    assert status == 411
    assert orjson.loads(body) == {"detail": "a Content-Length header is required"}
    assert requests_counted("/v1/contacts", 411) == before + 1


def test_a_body_over_the_limit_or_a_bad_length_is_413() -> None:
    assert call("POST", "/v1/contacts", [(b"content-length", b"101")])[0] == 413
    assert call("POST", "/v1/outcomes", [(b"content-length", b"-1")])[0] == 413
    assert call("GET", "/v1/contacts/ct-1", [(b"content-length", b"x")])[0] == 413


def test_a_request_within_the_limit_reaches_the_app_and_is_counted_by_endpoint() -> None:
    before = requests_counted("/v1/contacts/{id}", 202)
    assert call("GET", "/v1/contacts/ct-123", [])[0] == 202
    assert call("POST", "/v1/contacts", [(b"content-length", b"100")], b"x" * 100)[0] == 202
    assert requests_counted("/v1/contacts/{id}", 202) == before + 1
    # Not an API endpoint: answered, not counted.
    assert call("GET", "/health/live", [])[0] == 202
    assert requests_counted("/health/live", 202) == 0.0


def test_the_202_body_is_the_documented_accepted_model() -> None:
    fresh = accepted(["ct-a", "ct-b"], replayed=False)
    assert fresh.status_code == 202
    assert "idempotent-replayed" not in fresh.headers
    assert Accepted.model_validate_json(fresh.body) == Accepted(
        contact_ids=["ct-a", "ct-b"], status_urls=["/v1/contacts/ct-a", "/v1/contacts/ct-b"]
    )
    again = accepted(["ct-a"], replayed=True)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Accepted.model_validate_json(again.body).replayed is True


def test_accepted_contacts_are_logged_as_counts_per_agency_and_source() -> None:
    log = AcceptedLog()
    log.add("police", "police", 2)
    log.add("police", "police", 1)
    log.add("school", "schools", 1)
    with capture_logs() as lines:
        log.flush()
        log.flush()  # nothing new: no line
    counts = [(line["agency"], line["source"], line["submissions"], line["contacts"]) for line in lines]
    assert sorted(counts) == [
        ("police", "police", 2, 3),
        ("school", "schools", 1, 1),
    ]
    assert {line["event"] for line in lines} == {"contacts_accepted"}
    assert {line["log_level"] for line in lines} == {"info"}
