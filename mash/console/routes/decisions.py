"""A decision posted from a case page: on the contact (confirm, change, sign off, re-screen), or on
whose contact it is (same child, different child, link, split).

The form becomes an event (mash.console.forms) and the use case records it (mash.services.decisions):
the worker applies it and the change comes back through the view like any other. A refused form
redirects back to the case page, which says why (mash.console.refusals).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from mash.console.case_pages import case_not_found, case_path
from mash.console.forms import IDENTITY_ACTIONS, Refused, decision_from_form, identity_from_form
from mash.console.pages import posted
from mash.console.routes import Runtime, log_not_recorded
from mash.console.runtime import ConsoleRuntime
from mash.console.users import User
from mash.domain.case import CaseRecord
from mash.domain.decisions import DecisionEvent
from mash.domain.persons import IdentityDecisionEvent
from mash.observability.logging import get_logger
from mash.services.decisions import NotRecorded, Unsealable

log = get_logger(__name__)
router = APIRouter()

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


@router.post("/cases/{contact_id}/decisions", response_class=HTMLResponse)
async def decide(request: Request, contact_id: str, rt: Runtime) -> Response:
    user = rt.sessions.require_caseworker(request)
    fields = await posted(request)
    back = case_path(contact_id)
    if not rt.sessions.csrf_ok(request, fields):
        # What a form without the session's token says is never kept, not even to show again.
        return rt.refusals.redirect(request, back, [EXPIRED])
    record = rt.view.records.get(contact_id)
    if record is None:
        return case_not_found(rt, request)
    event = _event(rt, fields, record, user)
    if isinstance(event, Refused):
        rt.metrics.refused.inc()
        return rt.refusals.redirect(request, back, event.errors, fields)
    identity = isinstance(event, IdentityDecisionEvent)
    try:
        await _record(rt, event)
    except NotRecorded as exc:
        log_not_recorded(exc, contact_id=contact_id)
        why = UNSEALABLE if isinstance(exc, Unsealable) else UNAVAILABLE
        return rt.refusals.redirect(request, back, [why], fields)
    rt.metrics.decisions.labels(action=event.action.value).inc()
    what = "console_identity_decision" if identity else "console_decision"
    log.info(what, contact_id=contact_id, action=event.action.value, user=user.username)
    request.session["flash"] = IDENTITY_RECORDED if identity else RECORDED
    return RedirectResponse(back, status_code=303)


def _event(
    rt: ConsoleRuntime, fields: dict[str, str], record: CaseRecord, user: User
) -> DecisionEvent | IdentityDecisionEvent | Refused:
    """What the form asks to record, or why it can't be."""
    if fields.get("action", "") not in IDENTITY_ACTIONS:
        return decision_from_form(fields, record, user, rt.now(), rt.registered_versions())
    others = rt.view.child_contacts(record.contact_id)
    return identity_from_form(fields, record, user, rt.now(), rt.view.child_key_of, others)


async def _record(rt: ConsoleRuntime, event: DecisionEvent | IdentityDecisionEvent) -> None:
    if isinstance(event, IdentityDecisionEvent):
        await rt.decisions.record_identity(event)
    else:
        await rt.decisions.record(event)
