"""The coordinator console's web app (FastAPI, server-rendered HTML, server-sent events).

Handlers stay thin: who is signed in and in which role, the CSRF check on every POST, then
the view (mash.views.queues) for reading and the decision form (mash.console.forms) for
writing. The case pages (mash.console.case_pages) and the mid-day meeting's pages
(mash.console.imm_pages) are routers of their own. A decision is only ever an event on the
decisions topic: the worker applies it and republishes the case, and the change comes back
through the view like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.middleware.sessions import SessionMiddleware

from mash.adapters.keyring import Keyring
from mash.adapters.producer import ProducerHandle
from mash.adapters.ruleset_registry import Registry
from mash.config import Settings
from mash.console.case_pages import case_router
from mash.console.feed import ViewFeed
from mash.console.imm_pages import imm_router
from mash.console.live import Hub, sse, summary, update_messages
from mash.console.metrics import ConsoleMetrics
from mash.console.present import environment
from mash.console.sessions import SECURITY_HEADERS, SESSION_SECONDS, Forbidden, Sessions, SignedOut
from mash.console.users import UserDirectory
from mash.domain.ruleset import Ruleset
from mash.observability.logging import get_logger
from mash.views.queues import Change, ConsoleView, Queue
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
    view: ConsoleView | None = None,
    registry: Registry | None = None,
    kafka: ProducerHandle | None = None,
) -> FastAPI:
    """`view` and `registry` are given by tests that fill them by hand; otherwise the app follows
    the topics into its own once started. `kafka`: what the app writes with (tests keep what it
    sends); otherwise a producer connected when the app starts."""
    view = view if view is not None else ConsoleView(Keyring(settings.master()))
    registry = registry if registry is not None else Registry(settings)
    hub = Hub()
    env = environment(view.keyring)
    row_template = env.get_template("_row.html")
    kafka = kafka if kafka is not None else ProducerHandle(settings, "console")

    def render_row(queue: Queue, contact_id: str, at: datetime) -> str:
        return row_template.render(r=view.records[contact_id], child_of=view.child_line, queue=queue, now=at)

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
        await registry.follower.start()
        try:
            yield
        finally:
            hub.close()
            await registry.follower.stop()
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
            child_of=view.child_line,
            limit=_limit(limit),
        )

    @app.get("/queues/{queue}/rows")
    async def queue_rows(request: Request, queue: Queue, limit: int = DEFAULT_LIMIT) -> Response:
        """The list again (clocks move on), for a browser's periodic refresh or after a resync."""
        sessions.require_caseworker(request)
        at = now()
        html = env.get_template("_rows.html").render(
            rows=view.page(queue, at, 0, _limit(limit)), child_of=view.child_line, queue=queue, now=at
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

    app.include_router(
        case_router(settings, sessions, view, env, page, metrics, kafka, registry, ruleset, now)
    )
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
