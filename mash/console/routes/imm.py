"""The integrated mid-day meeting's pages: its home (figures, recent meetings, "freeze now" for a
manager), each meeting's agenda and print-out, and recording the meeting.

The meeting log and the cases come from the runtime; freezing and recording are use cases
(mash.services.meeting), the recording form's fields are read by mash.console.imm_forms.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from mash.console.imm_forms import ACTION_ROWS, CARRY, meeting_from_form, new_recording_id
from mash.console.imm_present import item_result
from mash.console.pages import error_page, expired, page, posted
from mash.console.routes import Runtime, log_not_recorded
from mash.console.runtime import ConsoleRuntime
from mash.console.sessions import Forbidden
from mash.console.users import ConsoleRole, User
from mash.domain.decisions import NEEDS_CONSENT
from mash.domain.imm import imm_figures, meeting_cutoff, meeting_day, meeting_id
from mash.observability.logging import get_logger
from mash.services.decisions import NotRecorded, StoreUnavailable, Unsealable
from mash.services.meeting import AlreadyRecorded, Compose, FormRefused, NoSuchMeeting

log = get_logger(__name__)
router = APIRouter()

RECENT_MEETINGS = 30
FIGURE_DAYS = 28
MEETING_ID = re.compile(r"^imm-\d{4}-\d{2}-\d{2}$")
ALREADY_RECORDED = "This meeting has already been recorded: nothing was recorded again."
EXPIRED = "This form expired before it was sent, so nothing was recorded. Record the meeting again."
UNAVAILABLE = "The meeting could not be recorded just now (the event store is unavailable). Try again."
UNSEALABLE = (
    "The meeting could not be recorded: what was written could not be sealed under a contact's data key "
    "(the console's master keys do not open it). Nothing was recorded; tell the service's administrators."
)


def imm_page(rt: ConsoleRuntime, request: Request, name: str, **context: Any) -> HTMLResponse:
    return page(
        rt, request, name, NEEDS_CONSENT=NEEDS_CONSENT, CARRY=CARRY, ACTION_ROWS=ACTION_ROWS, **context
    )


def not_found(rt: ConsoleRuntime, request: Request) -> HTMLResponse:
    return error_page(rt, request, 404, "No such meeting", "No agenda has been frozen for that meeting.")


def is_frozen(rt: ConsoleRuntime, meeting: str) -> bool:
    return MEETING_ID.match(meeting) is not None and meeting in rt.meetings.log.agendas


def today(rt: ConsoleRuntime) -> date:
    return rt.now().astimezone(rt.calendar.zone).date()


def agenda_context(rt: ConsoleRuntime, meeting: str) -> dict[str, Any]:
    agenda = rt.meetings.log.agendas[meeting]
    recorded = rt.meetings.log.meetings.get(meeting)
    records = rt.view.records
    results = {
        i.contact_id: item_result(i.contact_id, meeting, records.get(i.contact_id), recorded, rt.said)
        for i in agenda.items
    }
    return {
        "agenda": agenda,
        "recorded": recorded,
        "results": results,
        "meeting_date": meeting_day(meeting),
        "records": records,
        "child_of": rt.view.child_line,
    }


def home_context(rt: ConsoleRuntime) -> dict[str, Any]:
    imm_log, day = rt.meetings.log, today(rt)
    since = day - timedelta(days=FIGURE_DAYS - 1)
    agendas, meetings = imm_log.agendas.values(), imm_log.meetings.values()
    return {
        "page_name": "imm",
        "today": day,
        "todays_meeting": meeting_id(day),
        "todays_cutoff": meeting_cutoff(day, rt.calendar, rt.meetings.cutoff),
        "meetings": sorted(agendas, key=lambda a: a.meeting_id, reverse=True)[:RECENT_MEETINGS],
        "recorded": imm_log.meetings,
        "figures": imm_figures(agendas, meetings, rt.view.records.values(), since, day, rt.calendar),
        "figure_days": FIGURE_DAYS,
    }


def _from_form(rt: ConsoleRuntime, fields: dict[str, str], user: User) -> Compose:
    """What the recording form says of the agenda, read when the meeting is recorded."""
    return lambda agenda: meeting_from_form(
        fields, agenda, rt.view.records, user, rt.now(), new_recording_id()
    )


@router.get("/imm", response_class=HTMLResponse)
async def imm_home(request: Request, rt: Runtime) -> Response:
    user = rt.sessions.require_user(request)
    context = home_context(rt)
    return imm_page(
        rt, request, "imm_home.html", can_freeze=user.can_sign_off, sees_cases=user.can_decide, **context
    )


@router.post("/imm/freeze", response_class=HTMLResponse)
async def freeze_now(request: Request, rt: Runtime) -> Response:
    user = rt.sessions.require_user(request)
    if user.role is not ConsoleRole.MANAGER:
        raise Forbidden("Only a manager can freeze a meeting's agenda.")
    fields = await posted(request)
    if not rt.sessions.csrf_ok(request, fields):
        return expired(rt, request)
    try:
        day = date.fromisoformat(fields.get("day") or today(rt).isoformat())
        frozen = await rt.meetings.freeze(day, rt.now(), user.username)
    except StoreUnavailable as exc:
        log.warning("console_kafka_unavailable", error=exc.reason)
        request.session["flash"] = "The agenda could not be frozen just now (the event store is unavailable)."
        return RedirectResponse("/imm", status_code=303)
    except (ValueError, NotRecorded) as exc:
        request.session["flash"] = f"No agenda was frozen: {exc}."
        return RedirectResponse("/imm", status_code=303)
    agenda = frozen.agenda
    if frozen.new:
        log.info("console_imm_frozen", meeting=agenda.meeting_id, items=len(agenda.items), user=user.username)
        request.session["flash"] = f"Agenda frozen: {len(agenda.items)} cases."
    else:
        request.session["flash"] = "That meeting's agenda was already frozen; it is kept as it was."
    return RedirectResponse(f"/imm/{agenda.meeting_id}", status_code=303)


@router.get("/imm/{meeting}", response_class=HTMLResponse)
async def agenda_page(request: Request, meeting: str, rt: Runtime) -> Response:
    rt.sessions.require_caseworker(request)
    if not is_frozen(rt, meeting):
        return not_found(rt, request)
    return imm_page(rt, request, "imm_agenda.html", page_name="imm", **agenda_context(rt, meeting))


@router.get("/imm/{meeting}/print", response_class=HTMLResponse)
async def agenda_print(request: Request, meeting: str, rt: Runtime) -> Response:
    rt.sessions.require_caseworker(request)
    if not is_frozen(rt, meeting):
        return not_found(rt, request)
    return imm_page(rt, request, "imm_print.html", **agenda_context(rt, meeting))


@router.get("/imm/{meeting}/record", response_class=HTMLResponse)
async def record_form(request: Request, meeting: str, rt: Runtime) -> Response:
    rt.sessions.require_caseworker(request)
    if not is_frozen(rt, meeting):
        return not_found(rt, request)
    refused = rt.refusals.take(request, f"/imm/{meeting}/record")
    if meeting in rt.meetings.log.meetings:
        request.session["flash"] = "This meeting has already been recorded."
        return RedirectResponse(f"/imm/{meeting}", status_code=303)
    context = agenda_context(rt, meeting)
    return imm_page(
        rt, request, "imm_record.html", page_name="imm", errors=refused.errors, form=refused.form, **context
    )


@router.post("/imm/{meeting}/record", response_class=HTMLResponse)
async def record_meeting(request: Request, meeting: str, rt: Runtime) -> Response:
    user = rt.sessions.require_caseworker(request)
    fields = await posted(request)
    back = f"/imm/{meeting}/record" if MEETING_ID.match(meeting) else "/imm"
    if not rt.sessions.csrf_ok(request, fields):
        # What a form without the session's token says is never kept, not even to show again.
        return rt.refusals.redirect(request, back, [EXPIRED])
    if not is_frozen(rt, meeting):
        return not_found(rt, request)
    try:
        outcome = await rt.meetings.record(meeting, _from_form(rt, fields, user))
    except NoSuchMeeting:
        return not_found(rt, request)
    except AlreadyRecorded:
        request.session["flash"] = ALREADY_RECORDED
        return RedirectResponse(f"/imm/{meeting}", status_code=303)
    except NotRecorded as exc:
        log_not_recorded(exc, meeting=meeting)
        why = UNSEALABLE if isinstance(exc, Unsealable) else UNAVAILABLE
        return rt.refusals.redirect(request, back, [why], fields)
    if isinstance(outcome, FormRefused):
        return rt.refusals.redirect(request, back, outcome.errors, fields)
    discussed, carried = len(outcome.meeting.discussed), len(outcome.meeting.carried)
    log.info(
        "console_imm_recorded", meeting=meeting, discussed=discussed, carried=carried, user=user.username
    )
    request.session["flash"] = (
        f"Meeting recorded: {discussed} discussed, {carried} carried over. "
        "Cases update as the outcomes are applied."
    )
    return RedirectResponse(f"/imm/{meeting}", status_code=303)
