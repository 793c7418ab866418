"""The intake adapter's HTTP API (FastAPI): `POST /v1/contacts`, `GET /v1/contacts/{id}`.

Handlers stay thin: authenticate the agency, apply its rate and payload limits, validate
(pydantic model, then the checks that need the clock and the ruleset), split into one
contact per child, and write them to Kafka with acks=all before answering 202. Nothing is
written for a refused request, and every refusal says what is wrong in `detail`.
"""

import asyncio
import functools
import gc
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from prometheus_client import Counter as PromCounter
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mash.adapters.keyring import Keyring
from mash.adapters.keys import ensure_keys
from mash.adapters.ruleset_file import RulesetHolder
from mash.config import Settings
from mash.domain.contact import FUTURE_TOLERANCE, ContactSubmission, Problem, submission_problems
from mash.domain.identity import reference_key
from mash.domain.outcomes import OutcomeSubmission
from mash.domain.ruleset import Ruleset
from mash.domain.submissions import outcome_event, split_submission
from mash.intake.agencies import Agency, AgencyDirectory
from mash.intake.guard import TopicGuard, TopicsUnavailable
from mash.intake.limits import RATE_LIMITED, RateLimiter, retry_after_header
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.views.ledger import Ledger, contact_headers, ledger_follower
from mash.web import ORJSONResponse, invalid_request

log = get_logger(__name__)
RETRY_AFTER_S = "5"


class Accepted(BaseModel):
    contact_ids: list[str]
    status_urls: list[str]
    replayed: bool = False


def accepted(contact_ids: list[str], *, replayed: bool) -> Response:
    """The 202 of `POST /v1/contacts`: an `Accepted` body, made directly rather than by FastAPI
    validating and serializing the model again on every request."""
    body = {
        "contact_ids": contact_ids,
        "status_urls": [f"/v1/contacts/{c}" for c in contact_ids],
        "replayed": replayed,
    }
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return ORJSONResponse(body, status_code=202, headers=headers)


class OutcomeAccepted(BaseModel):
    outcome_id: str


class ErrorBody(BaseModel):
    detail: str | list[Problem]


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 413, 422, 429, 503)
}


API_ENDPOINTS = frozenset({"/v1/contacts", "/v1/contacts/{id}", "/v1/outcomes"})


@functools.cache
def _request_metrics(endpoint: str, status: int) -> tuple[PromCounter, Histogram]:
    """The labelled series of one endpoint and status, looked up once rather than per request."""
    return (
        metrics.INTAKE_REQUESTS.labels(endpoint=endpoint, status=str(status)),
        metrics.INTAKE_LATENCY.labels(endpoint=endpoint),
    )


class AcceptedLog:
    """`contacts_accepted`, logged once a second for each agency and source with the counts since
    the last line, rather than once per request: at the intake's rates a JSON log line per
    request cost about a sixth of its CPU. The contacts topic is the record of every contact;
    the counts are also metrics (`mash_contacts_received_total`)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], list[int]] = {}

    def add(self, agency: str, source: str, contacts: int) -> None:
        counts = self._pending.setdefault((agency, source), [0, 0])
        counts[0] += 1
        counts[1] += contacts

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (agency, source), (submissions, contacts) in pending.items():
            log.info(
                "contacts_accepted", agency=agency, source=source, submissions=submissions, contacts=contacts
            )

    async def run(self, every_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            self.flush()


class ApiError(Exception):
    def __init__(
        self, status: int, detail: str | list[Problem], headers: dict[str, str] | None = None
    ) -> None:
        self.status, self.detail, self.headers = status, detail, headers or {}


class LimitsAndMetrics:
    """Refuses a write without a Content-Length (411) or over the size limit (413) before the body
    is read, and counts every API request and its latency.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) runs
    the rest of the app in a task group of its own with memory streams between, which cost
    about a fifth of the intake's CPU per request under load.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        endpoint = "/v1/contacts/{id}" if path.startswith("/v1/contacts/") else path
        length = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), None)
        status = 500  # unless the app starts a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if scope["method"] == "POST" and length is None:
                refusal = ORJSONResponse({"detail": "a Content-Length header is required"}, status_code=411)
                await refusal(scope, receive, send_and_note)
            elif length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                refusal = ORJSONResponse(
                    {"detail": f"request body is over the {self.max_body_bytes} byte limit"}, status_code=413
                )
                await refusal(scope, receive, send_and_note)
            else:
                await self.app(scope, receive, send_and_note)
        finally:
            if endpoint in API_ENDPOINTS:
                requests, latency = _request_metrics(endpoint, status)
                requests.inc()
                latency.observe(time.perf_counter() - started)


def create_intake_app(
    settings: Settings, ruleset: Ruleset | RulesetHolder, agencies: AgencyDirectory
) -> FastAPI:
    rules = (
        ruleset
        if isinstance(ruleset, RulesetHolder)
        else RulesetHolder(ruleset, settings.ruleset_file, settings.ruleset_check_s)
    )
    limiter = RateLimiter()
    ledger = Ledger()
    keyring = Keyring(settings.master())
    feed_box = {"f": ledger_follower(settings, ledger, keyring)}
    feed_started: set[str] = set()
    secret = settings.secret()
    in_flight: dict[str, asyncio.Future[list[str] | None]] = {}
    producer_box: dict[str, AIOKafkaProducer] = {}
    accepted_log = AcceptedLog()

    async def rebuild_ledger() -> None:
        """The broker is fresh (the embedded one restarted): what the ledger knew is gone from Kafka."""
        following = "following" in feed_started
        await feed_box["f"].stop()
        ledger.clear()
        keyring.clear()
        feed_box["f"] = ledger_follower(settings, ledger, keyring)
        if following:
            await feed_box["f"].start()

    guard = TopicGuard(settings, rebuild_ledger)

    async def connect(producer: AIOKafkaProducer) -> None:
        """Until Kafka answers and the topics pass the guard's first check; only then may a request
        write. Meanwhile the adapter serves HTTP (live, not ready) and answers writes 503."""
        while True:
            try:
                await producer.start()
                break
            except KafkaError:
                log.warning("intake_waiting_for_kafka")
                await asyncio.sleep(1.0)
        while True:
            try:
                await guard.check(producer.client)
                break
            except TopicsUnavailable as exc:
                log.warning("intake_waiting_for_topics", reason=str(exc))
                await asyncio.sleep(1.0)
        await feed_box["f"].start()
        feed_started.add("following")
        producer_box["p"] = producer
        log.info("intake_connected_to_kafka")
        # What start-up made (modules, app, clients) lives as long as the process: keep it out
        # of the collector's full passes, which otherwise stall every request for 60-120 ms.
        gc.collect()
        gc.freeze()

    def stop_if_failed(task: asyncio.Task[None]) -> None:
        """A failure `connect` does not wait out is a bug: stop, as a failed start-up would, so
        the supervisor restarts the adapter rather than leave it live and never ready."""
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("intake_cannot_start", error=type(error).__name__)
            os.kill(os.getpid(), signal.SIGTERM)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            linger_ms=0,
            request_timeout_ms=int(settings.produce_timeout_s * 1000),
            # One record per batch on the embedded broker keeps its end offsets exact. Elsewhere
            # up to 256 KiB: aiokafka fills one batch per partition while its one request to the
            # broker is in flight, so concurrent requests share the next round trip; at 16 KiB
            # (about ten contacts) a full batch made the rest wait a round trip more.
            max_batch_size=1 if settings.embedded_broker else 256 * 1024,
        )
        tasks = [
            asyncio.create_task(connect(producer), name="connect-kafka"),
            asyncio.create_task(accepted_log.run(), name="log-accepted"),
        ]
        tasks[0].add_done_callback(stop_if_failed)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            accepted_log.flush()
            await feed_box["f"].stop()
            await producer.stop()

    app = FastAPI(
        title="MASH intake adapter",
        version="1",
        summary="Partner agencies submit contacts about children",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        # No OpenTelemetry here (Prometheus metrics instead): skip its per-request checks.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    bearer = HTTPBearer(auto_error=False)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        detail: Any = exc.detail if isinstance(exc.detail, str) else [p.model_dump() for p in exc.detail]
        return ORJSONResponse({"detail": detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot even decode (not UTF-8, say): as for bad JSON.
            problem = Problem(loc=["body"], msg="the body is not JSON text in UTF-8", type="json_invalid")
            return ORJSONResponse({"detail": [problem.model_dump()]}, status_code=422)
        return ORJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(RequestValidationError, invalid_request)

    app.add_middleware(LimitsAndMetrics, max_body_bytes=settings.max_body_bytes)

    async def agency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Agency:
        """The agency whose key this is, within its rate limit and payload limit."""
        found = agencies.by_key(credentials.credentials) if credentials else None
        if found is None:
            raise ApiError(401, "a valid agency API key is required", {"WWW-Authenticate": "Bearer"})
        rate = found.rate_per_s or settings.agency_rate_per_s
        burst = found.rate_burst or settings.agency_rate_burst
        wait = limiter.take(found.id, rate, burst)
        if wait > 0:
            RATE_LIMITED.labels(agency=found.id).inc()
            log.warning("intake_rate_limited", agency=found.id)
            raise ApiError(
                429,
                f"this agency is over its rate limit of {rate:g} requests a second (bursts of {burst}); "
                "slow down and retry after the Retry-After seconds",
                {"Retry-After": retry_after_header(wait)},
            )
        limit = found.max_body_bytes
        length = request.headers.get("content-length")
        if limit is not None and length is not None and length.isdigit() and int(length) > limit:
            raise ApiError(413, f"request body is over this agency's {limit} byte limit")
        return found

    def not_stored() -> ApiError:
        return ApiError(503, "the event could not be stored; try again later", {"Retry-After": RETRY_AFTER_S})

    async def produce(topic: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
        """Writes the records with acks=all and waits for every acknowledgement, or raises 503.

        On the embedded broker the topics are checked before and after (see guard.py): a
        broker that restarted in between may have acknowledged the records and kept nothing.
        """
        unavailable = not_stored()
        producer = producer_box.get("p")
        if producer is None:  # Kafka not reached yet since start-up, or its topics not yet checked
            raise unavailable

        try:
            generation = await guard.check(producer.client) if settings.embedded_broker else 0
            async with asyncio.timeout(settings.produce_timeout_s):
                sends = [await producer.send(topic, key=k, value=v, headers=h) for k, v, h in records]
                await asyncio.gather(*sends)
            if settings.embedded_broker and await guard.check(producer.client) != generation:
                log.warning("intake_broker_restarted_during_write")
                raise unavailable
        except (KafkaError, TimeoutError, TopicsUnavailable) as exc:
            log.warning("intake_kafka_unavailable", error=type(exc).__name__)
            raise unavailable from None

    @app.post(
        "/v1/contacts",
        status_code=202,
        response_model=Accepted,
        responses=WRITE_ERRORS,
    )
    async def submit_contact(
        submission: ContactSubmission, who: Annotated[Agency, Depends(agency)]
    ) -> Response:
        """Submit a contact about one or more children: one contact is made per child.

        Idempotent on `agency_reference`: the same reference from the same agency returns
        the original contact ids and writes nothing new.
        """
        if not who.can_submit:
            raise ApiError(403, "this agency may not submit contacts")
        now = datetime.now(UTC)
        received_at = submission.received_at or now
        in_force = rules.current
        problems = submission_problems(
            submission,
            received_at=received_at,
            now=now,
            known_indicators=rules.codes,
            catalogue_source=f"the ruleset catalogue (version {in_force.version}): GET /v1/indicators",
            max_backdate=timedelta(hours=settings.max_backdate_hours),
        )
        if problems:
            raise ApiError(422, problems)
        ref_key = reference_key(secret, who.id, submission.agency_reference)
        if "p" not in producer_box:
            raise ApiError(
                503, "the event store cannot be reached yet; try again later", {"Retry-After": RETRY_AFTER_S}
            )
        if not feed_box["f"].caught_up.is_set():
            raise ApiError(
                503, "the intake adapter is still reading its ledger; try again", {"Retry-After": "1"}
            )
        earlier = ledger.accepted(ref_key)
        if earlier is None and ref_key in in_flight:
            # The same submission is being written just now (often the same client, retrying
            # after its own timeout): it gets that write's answer, a 503 if the write failed.
            earlier = await in_flight[ref_key]
            if earlier is None:
                raise not_stored()
        if earlier is not None:
            return accepted(earlier, replayed=True)

        events = split_submission(secret, who.id, who.default_source, submission, received_at, now)
        ids = [e.contact_id for e in events]
        done: asyncio.Future[list[str] | None] = asyncio.get_running_loop().create_future()
        in_flight[ref_key] = done
        stored: list[str] | None = None
        try:
            await ensure_keys(settings, keyring, {e.contact_id for e in events}, produce)
            records = [
                (
                    e.contact_id.encode(),
                    e.sealed(keyring.seal).model_dump_json().encode(),
                    contact_headers(ref_key, e),
                )
                for e in events
            ]
            await produce(settings.topic("contacts"), records)
            stored = ids
        finally:
            done.set_result(stored)
            in_flight.pop(ref_key, None)
        for e in events:
            ledger.record_contact(ref_key, who.id, e.contact_id, e.child_index, e.children_in_submission)
        source = events[0].source.value
        metrics.CONTACTS_RECEIVED.labels(source=source).inc(len(events))
        accepted_log.add(who.id, source, len(events))
        return accepted(ids, replayed=False)

    @app.post(
        "/v1/outcomes",
        status_code=202,
        response_model=OutcomeAccepted,
        responses=WRITE_ERRORS,
    )
    async def submit_outcome(
        submission: OutcomeSubmission, who: Annotated[Agency, Depends(agency)]
    ) -> OutcomeAccepted:
        """The council's case system reports a case closed, or a child protection plan started or ended.

        Outcomes about children the service has not seen yet are kept and applied when
        their contacts arrive. A repeat (same reference, or same content) changes nothing.
        """
        if not who.can_report_outcomes:
            raise ApiError(403, "only the council's case system may report outcomes")
        now = datetime.now(UTC)
        if submission.occurred_at > now + FUTURE_TOLERANCE:
            problem = Problem(
                loc=["body", "occurred_at"],
                msg="must not be more than 5 minutes in the future",
                type="future_datetime",
            )
            raise ApiError(422, [problem])
        event = outcome_event(secret, who.id, submission, now)
        await produce(
            settings.topic("outcomes"), [(event.outcome_id.encode(), event.model_dump_json().encode(), [])]
        )
        metrics.OUTCOMES_RECEIVED.labels(type=event.type.value).inc()
        log.info("outcome_accepted", agency=who.id, type=event.type.value)
        return OutcomeAccepted(outcome_id=event.outcome_id)

    @app.get(
        "/v1/contacts/{contact_id}",
        responses={status: {"model": ErrorBody} for status in (401, 404, 429, 503)},
    )
    async def contact_status(contact_id: str, who: Annotated[Agency, Depends(agency)]) -> dict[str, object]:
        """The contact's current status, to the agency that made it (404 to every other agency)."""
        if not feed_box["f"].caught_up.is_set():
            # Until the ledger has read Kafka, "no such contact" could be wrong.
            raise ApiError(
                503, "the intake adapter is still reading its ledger; try again", {"Retry-After": "1"}
            )
        status = ledger.status_for(contact_id, who.id)
        if status is None:
            raise ApiError(404, "no contact with this id for this agency")
        return status

    @app.get("/v1/indicators")
    async def indicators() -> dict[str, object]:
        """The ruleset's indicator catalogue: the codes partners may send, with their levels."""
        ruleset = rules.current
        return {
            "ruleset_version": ruleset.version,
            "indicators": [
                {"code": i.code, "description": i.description, "level": i.level, "override": i.override}
                for i in ruleset.indicators
            ],
        }

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> Response:
        ok = feed_box["f"].caught_up.is_set() and "p" in producer_box
        return ORJSONResponse({"ready": ok}, status_code=200 if ok else 503)

    return app
