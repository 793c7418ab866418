"""The intake adapter's HTTP API (FastAPI): `POST /v1/contacts`, `GET /v1/contacts/{id}`.

Handlers stay thin: authenticate the agency, apply its rate and payload limits, validate
(pydantic model, then the checks that need the clock and the ruleset), split into one
contact per child, and write them to Kafka with acks=all before answering 202. Nothing is
written for a refused request, and every refusal says what is wrong in `detail`.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, ORJSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from mash.config import Settings
from mash.domain.contact import FUTURE_TOLERANCE, ContactSubmission, Problem, submission_problems
from mash.domain.identity import reference_key
from mash.domain.outcomes import OutcomeSubmission
from mash.domain.ruleset import Ruleset
from mash.domain.submissions import outcome_event, split_submission
from mash.intake.agencies import Agency, AgencyDirectory
from mash.intake.guard import TopicGuard, TopicsUnavailable
from mash.intake.ledger import Ledger, contact_headers, ledger_follower
from mash.intake.limits import RATE_LIMITED, RateLimiter, retry_after_header
from mash.intake.rulesets import RulesetHolder
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.web import invalid_request

log = get_logger(__name__)
RETRY_AFTER_S = "5"


class Accepted(BaseModel):
    contact_ids: list[str]
    status_urls: list[str]
    replayed: bool = False


class OutcomeAccepted(BaseModel):
    outcome_id: str


class ErrorBody(BaseModel):
    detail: str | list[Problem]


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 413, 422, 429, 503)
}


class ApiError(Exception):
    def __init__(
        self, status: int, detail: str | list[Problem], headers: dict[str, str] | None = None
    ) -> None:
        self.status, self.detail, self.headers = status, detail, headers or {}


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
    feed_box = {"f": ledger_follower(settings, ledger)}
    feed_started: set[str] = set()
    secret = settings.secret()
    in_flight: dict[str, asyncio.Future[list[str]]] = {}
    producer_box: dict[str, AIOKafkaProducer] = {}

    async def rebuild_ledger() -> None:
        """The broker is fresh (the embedded one restarted): what the ledger knew is gone from Kafka."""
        following = "following" in feed_started
        await feed_box["f"].stop()
        ledger.clear()
        feed_box["f"] = ledger_follower(settings, ledger)
        if following:
            await feed_box["f"].start()

    guard = TopicGuard(settings, rebuild_ledger)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            linger_ms=0,
            request_timeout_ms=int(settings.produce_timeout_s * 1000),
            # One record per batch on the embedded broker keeps its end offsets exact.
            max_batch_size=1 if settings.embedded_broker else 16384,
        )
        started = False
        while not started:
            try:
                await producer.start()
                started = True
            except KafkaError:
                log.warning("intake_waiting_for_kafka")
                await asyncio.sleep(1.0)
        producer_box["p"] = producer
        while True:
            try:
                await guard.check(producer.client)
                break
            except TopicsUnavailable as exc:
                log.warning("intake_waiting_for_topics", reason=str(exc))
                await asyncio.sleep(1.0)
        await feed_box["f"].start()
        feed_started.add("following")
        try:
            yield
        finally:
            await feed_box["f"].stop()
            await producer.stop()

    app = FastAPI(
        title="MASH intake adapter",
        version="1",
        summary="Partner agencies submit contacts about children",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
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

    @app.middleware("http")
    async def limits_and_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        endpoint = request.scope.get("path", "")
        endpoint = "/v1/contacts/{id}" if endpoint.startswith("/v1/contacts/") else endpoint
        length = request.headers.get("content-length")
        if request.method == "POST" and length is None:
            response: Response = ORJSONResponse(
                {"detail": "a Content-Length header is required"}, status_code=411
            )
        elif length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            response = ORJSONResponse(
                {"detail": f"request body is over the {settings.max_body_bytes} byte limit"}, status_code=413
            )
        else:
            response = await call_next(request)
        if endpoint in ("/v1/contacts", "/v1/contacts/{id}", "/v1/outcomes"):
            metrics.INTAKE_REQUESTS.labels(endpoint=endpoint, status=str(response.status_code)).inc()
            metrics.INTAKE_LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        return response

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

    async def produce(topic: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
        """Writes the records with acks=all and waits for every acknowledgement, or raises 503.

        On the embedded broker the topics are checked before and after (see guard.py): a
        broker that restarted in between may have acknowledged the records and kept nothing.
        """
        producer = producer_box["p"]
        unavailable = ApiError(
            503, "the event could not be stored; try again later", {"Retry-After": RETRY_AFTER_S}
        )

        async def send_all() -> None:
            sends = [await producer.send(topic, key=k, value=v, headers=h) for k, v, h in records]
            await asyncio.gather(*sends)

        try:
            generation = await guard.check(producer.client) if settings.embedded_broker else 0
            await asyncio.wait_for(send_all(), timeout=settings.produce_timeout_s)
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
        submission: ContactSubmission, who: Annotated[Agency, Depends(agency)], response: Response
    ) -> Accepted:
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
            known_indicators=in_force.codes,
            catalogue_source=f"the ruleset catalogue (version {in_force.version}): GET /v1/indicators",
        )
        if problems:
            raise ApiError(422, problems)
        ref_key = reference_key(secret, who.id, submission.agency_reference)
        if not feed_box["f"].caught_up.is_set():
            raise ApiError(
                503, "the intake adapter is still reading its ledger; try again", {"Retry-After": "1"}
            )
        earlier = ledger.accepted(ref_key) or (await in_flight[ref_key] if ref_key in in_flight else None)
        if earlier is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return Accepted(
                contact_ids=earlier, status_urls=[f"/v1/contacts/{c}" for c in earlier], replayed=True
            )

        events = split_submission(secret, who.id, who.default_source, submission, received_at, now)
        ids = [e.contact_id for e in events]
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        in_flight[ref_key] = done
        try:
            records = [
                (e.child_key.encode(), e.model_dump_json().encode(), contact_headers(ref_key, e))
                for e in events
            ]
            await produce(settings.topic("contacts"), records)
        finally:
            # A concurrent duplicate gets the ids; if this failed, its client retries as this one does.
            done.set_result(ids)
            in_flight.pop(ref_key, None)
        for e in events:
            ledger.record_contact(ref_key, who.id, e.contact_id, e.child_index, e.children_in_submission)
        source = events[0].source
        metrics.CONTACTS_RECEIVED.labels(source=source.value).inc(len(events))
        log.info("contacts_accepted", agency=who.id, contacts=len(events), source=source.value)
        return Accepted(contact_ids=ids, status_urls=[f"/v1/contacts/{c}" for c in ids])

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
            settings.topic("outcomes"), [(event.child_key.encode(), event.model_dump_json().encode(), [])]
        )
        metrics.OUTCOMES_RECEIVED.labels(type=event.type.value).inc()
        log.info("outcome_accepted", agency=who.id, type=event.type.value)
        return OutcomeAccepted(outcome_id=event.outcome_id)

    @app.get(
        "/v1/contacts/{contact_id}",
        responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 429: {"model": ErrorBody}},
    )
    async def contact_status(contact_id: str, who: Annotated[Agency, Depends(agency)]) -> dict[str, object]:
        """The contact's current status, to the agency that made it (404 to every other agency)."""
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
