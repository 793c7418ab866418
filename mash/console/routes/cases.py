"""The case page, and its changing part fetched when the case or the child's history changes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from mash.console.case_pages import case_context, case_not_found, case_path, index_matches
from mash.console.pages import page
from mash.console.routes import Runtime

router = APIRouter()


@router.get("/cases/{contact_id}", response_class=HTMLResponse)
async def case_page(request: Request, contact_id: str, rt: Runtime, link: str = "") -> Response:
    rt.sessions.require_caseworker(request)
    refused = rt.refusals.take(request, case_path(contact_id))
    await index_matches(rt)
    try:
        context = case_context(rt, contact_id, link)
    except KeyError:
        return case_not_found(rt, request)
    return page(rt, request, "case.html", errors=refused.errors, form=refused.form, **context)


@router.get("/cases/{contact_id}/live", response_class=HTMLResponse)
async def case_live(request: Request, contact_id: str, rt: Runtime, link: str = "") -> Response:
    user = rt.sessions.require_caseworker(request)
    await index_matches(rt)
    try:
        context = case_context(rt, contact_id, link)
    except KeyError:
        return case_not_found(rt, request)
    html = rt.env.get_template("_case_live.html").render(
        user=user, csrf=rt.sessions.csrf_token(request), now=rt.now(), errors=[], form={}, **context
    )
    return HTMLResponse(html)
