"""The case page and the decisions made on it: confirm, change, sign off and (a manager's) re-screen.

`case_router(...)` is included by the console app. The page leads with the child, the concern
and the service's recommendation, then the decision form, then the child's history and the
trail. A decision is only ever an event on the decisions topic: the worker applies it and
republishes the case, and the change comes back through the view like any other. A refused
form redirects back to the page, which says why (mash.console.refusals).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment

from mash.config import Settings
from mash.console.forms import Refused, decision_from_form, pending_sign_offs, rescreen_versions
from mash.console.metrics import ConsoleMetrics
from mash.console.refusals import Refusals
from mash.console.sessions import Sessions
from mash.console.view import ERASED, ConsoleView
from mash.domain.decisions import DecisionEvent
from mash.domain.ruleset import Rag, Ruleset
from mash.observability.logging import get_logger
from mash.streams.producer import ProducerHandle, ProducerUnavailable
from mash.streams.ruleset_registry import Registry

log = get_logger(__name__)

EXPIRED = "This form expired before it was sent, so nothing was recorded. Record your decision again."
UNAVAILABLE = "The decision could not be recorded just now (the event store is unavailable). Try again."
RECORDED = "Decision recorded. The trail and queues update as soon as it is applied."


class Page(Protocol):
    def __call__(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse: ...


def case_path(contact_id: str) -> str:
    return f"/cases/{quote(contact_id, safe='')}"


def _fields(raw: Any) -> dict[str, str]:
    return {key: value for key, value in raw.items() if isinstance(value, str)}


def case_router(
    settings: Settings,
    sessions: Sessions,
    view: ConsoleView,
    env: Environment,
    page: Page,
    metrics: ConsoleMetrics,
    kafka: ProducerHandle,
    registry: Registry,
    ruleset: Ruleset,
    now: Callable[[], datetime],
) -> APIRouter:
    """The case routes. `registry` is the console's follower of every ruleset version
    (started with the app): what a re-screen may choose from, and each contact's own catalogue."""
    router = APIRouter()
    refusals = Refusals()
    decisions_topic = settings.topic("decisions")

    def registered() -> list[str]:
        return [r.version for r in registry.history.versions] if registry.history else [ruleset.version]

    def case_context(contact_id: str) -> dict[str, Any]:
        record = view.records.get(contact_id)
        if record is None:
            raise KeyError(contact_id)
        opened = view.opened(contact_id)
        own = registry.history.get(record.recommendation.ruleset_version) if registry.history else None
        return {
            "r": record,
            "contact": None if opened is ERASED else opened,
            "erased": opened is ERASED,
            "child": view.child_line(contact_id),
            "history": view.history(contact_id),
            "pending": pending_sign_offs(record),
            "catalogue": (own or ruleset).catalogue,
            "usual_rag": (own or ruleset).rag,
            "rags": list(Rag),
            "rescreen_versions": rescreen_versions(record, registered()),
        }

    def not_found(request: Request) -> HTMLResponse:
        return page(
            request, "error.html", status=404, title="No such case", message="There is no case with that id."
        )

    @router.get("/cases/{contact_id}", response_class=HTMLResponse)
    async def case_page(request: Request, contact_id: str) -> Response:
        sessions.require_caseworker(request)
        refused = refusals.take(request, case_path(contact_id))
        try:
            context = case_context(contact_id)
        except KeyError:
            return not_found(request)
        return page(request, "case.html", errors=refused.errors, form=refused.form, **context)

    @router.get("/cases/{contact_id}/live", response_class=HTMLResponse)
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

    @router.post("/cases/{contact_id}/decisions", response_class=HTMLResponse)
    async def decide(request: Request, contact_id: str) -> Response:
        user = sessions.require_caseworker(request)
        fields = _fields(await request.form())
        back = case_path(contact_id)
        if not sessions.csrf_ok(request, fields):
            # What a form without the session's token says is never kept, not even to show again.
            return refusals.redirect(request, back, [EXPIRED])
        record = view.records.get(contact_id)
        if record is None:
            return not_found(request)
        outcome = decision_from_form(fields, record, user, now(), registered())
        if isinstance(outcome, Refused):
            metrics.refused.inc()
            return refusals.redirect(request, back, outcome.errors, fields)
        try:
            await produce(outcome)
        except (KafkaError, TimeoutError, ProducerUnavailable) as exc:
            log.warning("console_kafka_unavailable", error=type(exc).__name__)
            return refusals.redirect(request, back, [UNAVAILABLE], fields)
        metrics.decisions.labels(action=outcome.action.value).inc()
        log.info("console_decision", contact_id=contact_id, action=outcome.action.value, user=user.username)
        request.session["flash"] = RECORDED
        return RedirectResponse(back, status_code=303)

    async def produce(event: DecisionEvent) -> None:
        send = kafka.get().send_and_wait(
            decisions_topic, key=event.contact_id.encode(), value=event.model_dump_json().encode()
        )
        await asyncio.wait_for(send, timeout=settings.produce_timeout_s)

    return router
