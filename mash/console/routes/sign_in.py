"""Signing in and out."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from mash.console.pages import expired, page, posted
from mash.console.routes import Runtime
from mash.observability.logging import get_logger

log = get_logger(__name__)
router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, rt: Runtime) -> Response:
    return page(rt, request, "login.html", error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, rt: Runtime) -> Response:
    fields = await posted(request)
    if not rt.sessions.csrf_ok(request, fields):
        rt.metrics.sign_ins.labels(outcome="csrf").inc()
        return page(
            rt, request, "login.html", status=403, error="The sign-in form expired; please try again."
        )
    # argon2 is deliberately slow: verify off the event loop so live updates keep flowing.
    user = await asyncio.to_thread(
        rt.sessions.users.authenticate, fields.get("username", ""), fields.get("password", "")
    )
    if user is None:
        rt.metrics.sign_ins.labels(outcome="refused").inc()
        log.info("console_sign_in_refused")
        refused = "That username and password were not recognised."
        return page(rt, request, "login.html", status=401, error=refused)
    rt.sessions.start(request, user)
    rt.metrics.sign_ins.labels(outcome="ok").inc()
    log.info("console_sign_in", user=user.username, role=user.role.value)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, rt: Runtime) -> Response:
    if not rt.sessions.csrf_ok(request, await posted(request)):
        return expired(rt, request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
