"""The queues, the read-only overview and the counts every signed-in user may see."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from mash.console.live import summary
from mash.console.pages import page
from mash.console.routes import Runtime
from mash.views.queue_order import Queue
from mash.web import ORJSONResponse

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
router = APIRouter()


def _limit(value: int) -> int:
    return max(1, min(value, MAX_LIMIT))


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, rt: Runtime) -> Response:
    user = rt.sessions.require_user(request)
    return RedirectResponse("/queues/awaiting" if user.can_decide else "/overview", status_code=303)


@router.get("/overview", response_class=HTMLResponse)
async def overview(request: Request, rt: Runtime) -> Response:
    rt.sessions.require_user(request)
    at = rt.now()
    return page(
        rt,
        request,
        "overview.html",
        overdue_by_rag=rt.view.overdue_by_rag(at),
        oldest=rt.view.oldest_waiting_seconds(at),
    )


@router.get("/queues/{queue}", response_class=HTMLResponse)
async def queue_page(request: Request, queue: Queue, rt: Runtime, limit: int = DEFAULT_LIMIT) -> Response:
    rt.sessions.require_caseworker(request)
    rows = rt.view.page(queue, rt.now(), 0, _limit(limit))
    return page(
        rt, request, "queue.html", queue=queue, rows=rows, child_of=rt.view.child_line, limit=_limit(limit)
    )


@router.get("/queues/{queue}/rows")
async def queue_rows(request: Request, queue: Queue, rt: Runtime, limit: int = DEFAULT_LIMIT) -> Response:
    """The list again (clocks move on), for a browser's periodic refresh or after a resync."""
    rt.sessions.require_caseworker(request)
    at = rt.now()
    html = rt.env.get_template("_rows.html").render(
        rows=rt.view.page(queue, at, 0, _limit(limit)), child_of=rt.view.child_line, queue=queue, now=at
    )
    return ORJSONResponse({**summary(rt.view, at), "html": html}, headers={"Cache-Control": "no-store"})


@router.get("/counts")
async def counts(request: Request, rt: Runtime) -> Response:
    rt.sessions.require_user(request)
    at = rt.now()
    return ORJSONResponse(
        {
            **summary(rt.view, at),
            "overdue_by_rag": {rag.value: n for rag, n in rt.view.overdue_by_rag(at).items()},
            "oldest_waiting_seconds": rt.view.oldest_waiting_seconds(at),
        }
    )
