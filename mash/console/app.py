"""The coordinator console's web app (FastAPI, server-rendered HTML, server-sent events).

What the handlers share is one `ConsoleRuntime` (mash.console.runtime) on `app.state.console`,
started and stopped by the app's lifespan. The routes (mash.console.routes) are thin: who is
signed in and in which role, the CSRF check on every POST, then the view (mash.views.queues) for
reading and a use case (mash.services) for writing. A decision is only ever an event: the worker
applies it and republishes the case, and the change comes back through the view like any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from mash.console.pages import error_page
from mash.console.routes import cases, decisions, health, imm, live, queues, sign_in
from mash.console.runtime import ConsoleRuntime, runtime
from mash.console.sessions import SECURITY_HEADERS, SESSION_SECONDS, Forbidden, SignedOut
from mash.web import ORJSONResponse, invalid_request

ROUTERS = (sign_in, queues, cases, decisions, imm, live, health)


def create_console_app(rt: ConsoleRuntime) -> FastAPI:
    """The console over `rt` (`build_runtime`); tests build theirs with views and outboxes of their own."""
    settings = rt.settings
    app = FastAPI(
        title="MASH coordinator console",
        lifespan=_lifespan(rt),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.console = rt
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret().decode(),
        session_cookie="mash_console",
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=settings.console_secure_cookies,
    )
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(packages=[("mash.console", "static")]), name="static")
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(SignedOut, signed_out)
    app.add_exception_handler(Forbidden, forbidden)
    for module in ROUTERS:
        _add_routes(app, module.router)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Each route added to the app itself: FastAPI's `include_router` nests the router, which every
    request then looks into and which tools reading `app.routes` (the deploy checks) do not see."""
    for route in router.routes:
        assert isinstance(route, APIRoute)
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            response_class=route.response_class,
            include_in_schema=route.include_in_schema,
            name=route.name,
        )


def _lifespan(rt: ConsoleRuntime) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    return lifespan


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        if name == "Cache-Control" and request.url.path.startswith("/static/"):
            continue
        response.headers.setdefault(name, value)
    return response


async def signed_out(request: Request, _: Exception) -> Response:
    """Scripts (live updates, counts, refreshes) and forms hear 401; a browser's page goes to sign in."""
    path = request.url.path
    if path in ("/events", "/counts") or path.endswith(("/rows", "/live")) or request.method != "GET":
        return ORJSONResponse({"detail": "sign in to the console"}, status_code=401)
    return RedirectResponse("/login", status_code=303)


async def forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return error_page(runtime(request), request, 403, "Not available to your role", exc.message)
