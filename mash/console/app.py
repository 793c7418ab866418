"""The coordinator console's web app (FastAPI, server-rendered HTML, server-sent events).

Handlers stay thin: who is signed in and in which role, the CSRF check on every POST, then
the view (mash.console.view) for reading and the decision form (mash.console.forms) for
writing. A decision is only ever an event on the decisions topic: the worker applies it
and republishes the case, and the change comes back through the view like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import ValidationError
from starlette.middleware.sessions import SessionMiddleware

from mash.config import Settings
from mash.console.feed import ViewFeed
from mash.console.forms import Refused, decision_from_form, pending_sign_offs
from mash.console.imm_pages import imm_router
from mash.console.live import Hub, sse, summary, update_messages
from mash.console.metrics import ConsoleMetrics
from mash.console.present import environment
from mash.console.sessions import SECURITY_HEADERS, SESSION_SECONDS, Forbidden, Sessions, SignedOut
from mash.console.users import UserDirectory
from mash.console.view import Change, ConsoleView, Queue
from mash.domain.case import CaseRecord
from mash.domain.contact import ContactEvent
from mash.domain.decisions import DecisionEvent
from mash.domain.ruleset import Rag, Ruleset
from mash.observability.logging import get_logger
from mash.streams.producer import ProducerHandle, ProducerUnavailable
from mash.web import ORJSONResponse, invalid_request

log = get_logger(__name__)

KEEP_ALIVE_S = 15.0
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


def _form_fields(raw: Any) -> dict[str, str]:
    return {key: value for key, value in raw.items() if isinstance(value, str)}


def create_console_app(
    settings: Settings,
    users: UserDirectory,
    ruleset: Ruleset,
    now: Callable[[], datetime] = utc_now,
) -> FastAPI:
    view = ConsoleView()
    hub = Hub()
    env = environment()
    row_template = env.get_template("_row.html")
    decisions_topic = settings.topic("decisions")
    kafka = ProducerHandle(settings, "console")

    def render_row(queue: Queue, contact_id: str, at: datetime) -> str:
        return row_template.render(r=view.records[contact_id], queue=queue, now=at)

    def on_changes(changes: list[Change]) -> None:
        if hub.subscribers:
            hub.publish(*update_messages(view, changes, now(), render_row))

    feed = ViewFeed(settings, view, on_changes)
    metrics = ConsoleMetrics(view, hub, feed, now)
    sessions = Sessions(users)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await kafka.start()
        await feed.start()
        try:
            yield
        finally:
            hub.close()
            await feed.stop()
            await kafka.stop()

    app = FastAPI(
        title="MASH coordinator console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret().decode(),
        session_cookie="mash_console",
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=settings.console_secure_cookies,
    )
    app.mount("/static", StaticFiles(packages=[("mash.console", "static")]), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        at = now()
        user = sessions.user(request)
        html = env.get_template(name).render(
            user=user,
            csrf=sessions.csrf_token(request),
            now=at,
            summary=summary(view, at),
            flash=request.session.pop("flash", None),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.exception_handler(SignedOut)
    async def signed_out(request: Request, _: SignedOut) -> Response:
        path = request.url.path
        if path in ("/events", "/counts") or path.endswith(("/rows", "/live")) or request.method != "GET":
            return ORJSONResponse({"detail": "sign in to the console"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return page(
            request, "error.html", status=403, title="Not available to your role", message=exc.message
        )

    # --- signing in and out --------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        return page(request, "login.html", error=None)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        fields = _form_fields(await request.form())
        if not sessions.csrf_ok(request, fields):
            metrics.sign_ins.labels(outcome="csrf").inc()
            return page(
                request, "login.html", status=403, error="The sign-in form expired; please try again."
            )
        # argon2 is deliberately slow: verify off the event loop so live updates keep flowing.
        user = await asyncio.to_thread(
            users.authenticate, fields.get("username", ""), fields.get("password", "")
        )
        if user is None:
            metrics.sign_ins.labels(outcome="refused").inc()
            log.info("console_sign_in_refused")
            return page(
                request, "login.html", status=401, error="That username and password were not recognised."
            )
        sessions.start(request, user)
        metrics.sign_ins.labels(outcome="ok").inc()
        log.info("console_sign_in", user=user.username, role=user.role.value)
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        fields = _form_fields(await request.form())
        if not sessions.csrf_ok(request, fields):
            return page(
                request,
                "error.html",
                status=403,
                title="Form expired",
                message="Reload the page and try again.",
            )
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --- queues ----------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        user = sessions.require_user(request)
        return RedirectResponse("/queues/awaiting" if user.can_decide else "/overview", status_code=303)

    @app.get("/overview", response_class=HTMLResponse)
    async def overview(request: Request) -> Response:
        sessions.require_user(request)
        at = now()
        return page(
            request,
            "overview.html",
            overdue_by_rag=view.overdue_by_rag(at),
            oldest=view.oldest_waiting_seconds(at),
        )

    def _limit(value: int) -> int:
        return max(1, min(value, MAX_LIMIT))

    @app.get("/queues/{queue}", response_class=HTMLResponse)
    async def queue_page(request: Request, queue: Queue, limit: int = DEFAULT_LIMIT) -> Response:
        sessions.require_caseworker(request)
        at = now()
        return page(
            request,
            "queue.html",
            queue=queue,
            rows=view.page(queue, at, 0, _limit(limit)),
            limit=_limit(limit),
        )

    @app.get("/queues/{queue}/rows")
    async def queue_rows(request: Request, queue: Queue, limit: int = DEFAULT_LIMIT) -> Response:
        """The list again (clocks move on), for a browser's periodic refresh or after a resync."""
        sessions.require_caseworker(request)
        at = now()
        html = env.get_template("_rows.html").render(
            rows=view.page(queue, at, 0, _limit(limit)), queue=queue, now=at
        )
        return ORJSONResponse({**summary(view, at), "html": html}, headers={"Cache-Control": "no-store"})

    @app.get("/counts")
    async def counts(request: Request) -> Response:
        sessions.require_user(request)
        at = now()
        by_rag = {rag.value: n for rag, n in view.overdue_by_rag(at).items()}
        return ORJSONResponse(
            {
                **summary(view, at),
                "overdue_by_rag": by_rag,
                "oldest_waiting_seconds": view.oldest_waiting_seconds(at),
            }
        )

    # --- cases -------------------------------------------------------------------------------

    def case_context(contact_id: str) -> dict[str, Any]:
        record = view.records.get(contact_id)
        if record is None:
            raise KeyError(contact_id)
        raw = view.contact(contact_id)
        contact: ContactEvent | None = None
        if raw is not None:
            try:
                contact = ContactEvent.model_validate_json(raw)
            except ValidationError:
                log.warning("console_unreadable_contact", contact_id=contact_id)
        return {
            "r": record,
            "contact": contact,
            "history": view.history(contact_id),
            "pending": pending_sign_offs(record),
            "catalogue": ruleset.catalogue,
            "usual_rag": ruleset.rag,
            "rags": list(Rag),
        }

    def not_found(request: Request) -> HTMLResponse:
        return page(
            request, "error.html", status=404, title="No such case", message="There is no case with that id."
        )

    @app.get("/cases/{contact_id}", response_class=HTMLResponse)
    async def case_page(request: Request, contact_id: str) -> Response:
        sessions.require_caseworker(request)
        try:
            context = case_context(contact_id)
        except KeyError:
            return not_found(request)
        return page(request, "case.html", errors=[], form={}, **context)

    @app.get("/cases/{contact_id}/live", response_class=HTMLResponse)
    async def case_live(request: Request, contact_id: str) -> Response:
        """The changing part of a case page, fetched when the case or the child's history changes."""
        user = sessions.require_caseworker(request)
        try:
            context = case_context(contact_id)
        except KeyError:
            return not_found(request)
        html = env.get_template("_case_live.html").render(
            user=user, csrf=sessions.csrf_token(request), now=now(), errors=[], form={}, **context
        )
        return HTMLResponse(html)

    @app.post("/cases/{contact_id}/decisions", response_class=HTMLResponse)
    async def decide(request: Request, contact_id: str) -> Response:
        user = sessions.require_caseworker(request)
        fields = _form_fields(await request.form())
        if not sessions.csrf_ok(request, fields):
            return page(
                request,
                "error.html",
                status=403,
                title="Form expired",
                message="Reload the case and try again.",
            )
        try:
            context = case_context(contact_id)
        except KeyError:
            return not_found(request)
        record: CaseRecord = context["r"]
        outcome = decision_from_form(fields, record, user, now())
        if isinstance(outcome, Refused):
            metrics.refused.inc()
            return page(request, "case.html", status=422, errors=outcome.errors, form=fields, **context)
        try:
            await produce(outcome)
        except (KafkaError, TimeoutError, ProducerUnavailable) as exc:
            log.warning("console_kafka_unavailable", error=type(exc).__name__)
            errors = [
                "The decision could not be recorded just now (the event store is unavailable). Try again."
            ]
            return page(request, "case.html", status=503, errors=errors, form=fields, **context)
        metrics.decisions.labels(action=outcome.action.value).inc()
        log.info("console_decision", contact_id=contact_id, action=outcome.action.value, user=user.username)
        request.session["flash"] = "Decision recorded. The trail and queues update as soon as it is applied."
        return RedirectResponse(f"/cases/{contact_id}", status_code=303)

    async def produce(event: DecisionEvent) -> None:
        send = kafka.get().send_and_wait(
            decisions_topic, key=event.child_key.encode(), value=event.model_dump_json().encode()
        )
        await asyncio.wait_for(send, timeout=settings.produce_timeout_s)

    app.include_router(imm_router(settings, sessions, view, env, metrics.registry, kafka, now))

    # --- live updates --------------------------------------------------------------------------

    @app.get("/events")
    async def events(request: Request, since: int = -1) -> Response:
        user = sessions.require_user(request)
        sub = hub.subscribe(sees_cases=user.can_decide)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n"
                if view.version != since:  # something changed between the page and this connection
                    yield sse("resync", summary(view, now()))
                while True:
                    try:
                        message = await asyncio.wait_for(sub.queue.get(), timeout=KEEP_ALIVE_S)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if message is None:
                        return
                    yield message
            finally:
                hub.unsubscribe(sub)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # --- operations ----------------------------------------------------------------------------

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page() -> Response:
        return Response(
            generate_latest(REGISTRY) + generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> Response:
        ok = feed.caught_up.is_set() and kafka.ready
        return ORJSONResponse({"ready": ok}, status_code=200 if ok else 503)

    return app
