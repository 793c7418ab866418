"""The case page and the decisions made on it: confirm, change, sign off and (a manager's) re-screen;
and whose contact it is: an identity to check settled, records linked or split.

`case_router(...)` is included by the console app. The page leads with an identity to check (if
the contact is one), then the child, the concern and the service's recommendation, then the
decision form, then the child's history, its possible matches, linking and splitting, and the
trail. A decision is only ever an event on the decisions topic, and an identity decision one on
the identities topic, what the person wrote sealed under the contact's data key (a new key is
written first for a contact with none live, e.g. erased): the worker applies it and republishes
the cases, and the change comes back through the view like any other. A refused form redirects
back to the page, which says why (mash.console.refusals).
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

from mash.adapters.keys import Records, ensure_keys
from mash.adapters.producer import ProducerHandle, ProducerUnavailable
from mash.adapters.ruleset_registry import Registry
from mash.adapters.sealing import Unreadable
from mash.config import Settings
from mash.console.forms import (
    IDENTITY_ACTIONS,
    Refused,
    decision_from_form,
    identity_from_form,
    pending_sign_offs,
    rescreen_versions,
)
from mash.console.metrics import ConsoleMetrics
from mash.console.refusals import Refusals
from mash.console.sessions import Sessions
from mash.domain.decisions import DecisionEvent
from mash.domain.persons import IdentityDecisionEvent
from mash.domain.ruleset import Rag, Ruleset
from mash.observability.logging import get_logger
from mash.views.queues import ERASED, ConsoleView

log = get_logger(__name__)

EXPIRED = "This form expired before it was sent, so nothing was recorded. Record your decision again."
UNAVAILABLE = "The decision could not be recorded just now (the event store is unavailable). Try again."
RECORDED = "Decision recorded. The trail and queues update as soon as it is applied."
UNSEALABLE = (
    "The decision could not be recorded: what you wrote could not be sealed under the contact's data key "
    "(the console's master keys do not open it). Nothing was recorded; tell the service's administrators."
)
IDENTITY_RECORDED = (
    "Recorded: the records are being derived again. This page and the queues update as soon as they are."
)
# What the page says of the identifier a contact shares with the record it conflicts with.
CONFLICTS = {
    "nhs": "The NHS number on this contact is already another child's, with a different date of birth.",
    "name_dob": "The name and date of birth on this contact are already another child's, "
    "with a different NHS number.",
    None: "The NHS number, or the name and date of birth, on this contact belong to another child's record.",
}


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
    identities_topic = settings.topic("identities")

    def registered() -> list[str]:
        return [r.version for r in registry.history.versions] if registry.history else [ruleset.version]

    def case_context(contact_id: str, link: str = "") -> dict[str, Any]:
        """What the case page shows; `link`: a contact id to put in the link form (a possible
        match's "Link with this record")."""
        record = view.records.get(contact_id)
        if record is None:
            raise KeyError(contact_id)
        opened = view.opened(contact_id)
        own = registry.history.get(record.recommendation.ruleset_version) if registry.history else None
        conflict = record.identity_conflict if record.identity_to_check else None
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
            "conflict": conflict,
            "conflict_known": conflict is not None and conflict in view.records,
            "conflict_text": CONFLICTS[view.shared_identifier(contact_id, conflict) if conflict else None],
            "child_contacts": view.child_contacts(contact_id),
            "matches": view.possible_matches(contact_id),
            "child_of": view.child_line,
            "link": link,
        }

    async def index_matches() -> None:
        """The possible matches' index brought up to date a step at a time, letting the feed and
        the live updates run between steps (the first time, it opens every contact read)."""
        while not view.index_pending():
            await asyncio.sleep(0)

    def not_found(request: Request) -> HTMLResponse:
        return page(
            request, "error.html", status=404, title="No such case", message="There is no case with that id."
        )

    @router.get("/cases/{contact_id}", response_class=HTMLResponse)
    async def case_page(request: Request, contact_id: str, link: str = "") -> Response:
        sessions.require_caseworker(request)
        refused = refusals.take(request, case_path(contact_id))
        await index_matches()
        try:
            context = case_context(contact_id, link)
        except KeyError:
            return not_found(request)
        return page(request, "case.html", errors=refused.errors, form=refused.form, **context)

    @router.get("/cases/{contact_id}/live", response_class=HTMLResponse)
    async def case_live(request: Request, contact_id: str, link: str = "") -> Response:
        """The changing part of a case page, fetched when the case or the child's history changes."""
        user = sessions.require_caseworker(request)
        await index_matches()
        try:
            context = case_context(contact_id, link)
        except KeyError:
            return not_found(request)
        html = env.get_template("_case_live.html").render(
            user=user, csrf=sessions.csrf_token(request), now=now(), errors=[], form={}, **context
        )
        return HTMLResponse(html)

    @router.post("/cases/{contact_id}/decisions", response_class=HTMLResponse)
    async def decide(request: Request, contact_id: str) -> Response:
        """A decision on the contact, or (same child, different child, link, split) on whose it is."""
        user = sessions.require_caseworker(request)
        fields = _fields(await request.form())
        back = case_path(contact_id)
        if not sessions.csrf_ok(request, fields):
            # What a form without the session's token says is never kept, not even to show again.
            return refusals.redirect(request, back, [EXPIRED])
        record = view.records.get(contact_id)
        if record is None:
            return not_found(request)
        identity = fields.get("action", "") in IDENTITY_ACTIONS
        outcome = (
            identity_from_form(fields, record, user, now(), child_key_of, view.child_contacts(contact_id))
            if identity
            else decision_from_form(fields, record, user, now(), registered())
        )
        if isinstance(outcome, Refused):
            metrics.refused.inc()
            return refusals.redirect(request, back, outcome.errors, fields)
        try:
            if isinstance(outcome, IdentityDecisionEvent):
                # Keyed by its first subject, as the worker reads the identities topic; its
                # rationale sealed under that subject's data key.
                await ensure_keys(settings, view.keyring, {outcome.subjects[0]}, write_keys)
                await produce(identities_topic, outcome.subjects[0], outcome.sealed(view.keyring.seal))
            else:
                await ensure_keys(settings, view.keyring, {outcome.contact_id}, write_keys)
                await produce(decisions_topic, outcome.contact_id, outcome.sealed(view.keyring.seal))
        except (KafkaError, TimeoutError, ProducerUnavailable) as exc:
            log.warning("console_kafka_unavailable", error=type(exc).__name__)
            return refusals.redirect(request, back, [UNAVAILABLE], fields)
        except Unreadable as exc:
            log.warning("console_unsealable_decision", contact_id=contact_id, reason=str(exc))
            return refusals.redirect(request, back, [UNSEALABLE], fields)
        action = outcome.action.value
        metrics.decisions.labels(action=action).inc()
        log.info(
            "console_identity_decision" if identity else "console_decision",
            contact_id=contact_id,
            action=action,
            user=user.username,
        )
        request.session["flash"] = IDENTITY_RECORDED if identity else RECORDED
        return RedirectResponse(back, status_code=303)

    def child_key_of(contact_id: str) -> str | None:
        """The child key of a contact the console knows."""
        found = view.records.get(contact_id)
        return found.child_key if found is not None else None

    async def produce(topic: str, key: str, event: DecisionEvent | IdentityDecisionEvent) -> None:
        await send(topic, key.encode(), event.model_dump_json().encode())

    async def send(topic: str, key: bytes, value: bytes) -> None:
        await asyncio.wait_for(
            kafka.get().send_and_wait(topic, key=key, value=value), timeout=settings.produce_timeout_s
        )

    async def write_keys(topic: str, records: Records) -> None:
        """New data keys, on the keys topic before anything is sealed under them."""
        for key, value, _ in records:
            await send(topic, key, value)

    return router
