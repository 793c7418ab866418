"""Live updates: one server-sent-event stream per open browser (mash.console.live)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from mash.console.live import Subscriber, sse, summary
from mash.console.routes import Runtime
from mash.console.runtime import ConsoleRuntime

KEEP_ALIVE_S = 15.0
router = APIRouter()


@router.get("/events")
async def events(request: Request, rt: Runtime, since: int = -1) -> Response:
    user = rt.sessions.require_user(request)
    sub = rt.hub.subscribe(sees_cases=user.can_decide)
    return StreamingResponse(
        _stream(rt, sub, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(rt: ConsoleRuntime, sub: Subscriber, since: int) -> AsyncIterator[bytes]:
    try:
        yield b"retry: 2000\n\n"
        if rt.view.version != since:  # something changed between the page and this connection
            yield sse("resync", summary(rt.view, rt.now()))
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
        rt.hub.unsubscribe(sub)
