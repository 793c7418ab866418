"""Answering with a page: every full page carries who is signed in, the form token, the clock, the
queue counts and a message left by the last action (`flash`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from mash.console.live import summary
from mash.console.runtime import ConsoleRuntime

FORM_EXPIRED = "Reload the page and try again."


def page(rt: ConsoleRuntime, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    at = rt.now()
    html = rt.env.get_template(name).render(
        user=rt.sessions.user(request),
        csrf=rt.sessions.csrf_token(request),
        now=at,
        summary=summary(rt.view, at),
        flash=request.session.pop("flash", None),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def error_page(rt: ConsoleRuntime, request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(rt, request, "error.html", status=status, title=title, message=message)


def expired(rt: ConsoleRuntime, request: Request) -> HTMLResponse:
    return error_page(rt, request, 403, "Form expired", FORM_EXPIRED)


async def posted(request: Request) -> dict[str, str]:
    """The form's text fields (files, which no console form has, are left out)."""
    raw = await request.form()
    return {key: value for key, value in raw.items() if isinstance(value, str)}
