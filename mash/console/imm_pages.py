"""The console's integrated mid-day meeting (IMM) pages: the agenda, recording the meeting, its figures.

`imm_router(...)` is included by the console app. It follows `mash.imm.v1` (frozen agendas and
meeting records) into an `ImmLog` and reads case records from the console's own view, so
every console replica shows the same meetings. Recording a meeting writes one `imm_outcome`
decision per case discussed to `mash.decisions.v1` (keyed by contact id, what the meeting wrote
sealed under the contact's data key: the worker applies them like any decision) and then one
`MeetingRecorded` event to `mash.imm.v1` (keyed by the meeting id). A manager can freeze a
meeting's agenda from here ("freeze now"), the same computation as the worker's scheduled freezer
and `mash imm freeze`.

The form handling (`meeting_from_form`) is pure: no HTTP, no clock, no Kafka.
"""

from __future__ import annotations

import asyncio
import re
import time as clock
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import ValidationError

from mash.adapters.follow import TopicFollower
from mash.adapters.keyring import Keyring
from mash.adapters.keys import Records, ensure_keys
from mash.adapters.producer import ProducerHandle, ProducerUnavailable
from mash.adapters.sealing import Unreadable
from mash.config import Settings
from mash.console.live import summary
from mash.console.present import AGENCY_NAMES, OUTCOME_NAMES, Said
from mash.console.refusals import Refusals
from mash.console.sessions import Forbidden, Sessions
from mash.console.users import ConsoleRole, User
from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from mash.domain.case import CaseRecord, CaseState
from mash.domain.decisions import (
    NEEDS_CONSENT,
    ConsentBasis,
    DecisionAction,
    DecisionEvent,
    ImmAction,
    ImmOutcome,
    PartnerAgency,
    Role,
)
from mash.domain.imm import (
    AgendaFrozen,
    ImmLog,
    MeetingDecision,
    MeetingRecorded,
    freeze_agenda,
    imm_figures,
    imm_outcomes,
    meeting_cutoff,
    meeting_day,
    meeting_decisions,
    meeting_id,
    parse_imm_event,
)
from mash.observability.logging import get_logger
from mash.views.queues import ConsoleView

log = get_logger(__name__)

CARRY = "carry"
ACTION_ROWS = 3
MAX_TEXT = 5000
RECENT_MEETINGS = 30
FIGURE_DAYS = 28
MEETING_ID = re.compile(r"^imm-\d{4}-\d{2}-\d{2}$")

# Seconds from contact to the meeting's decision: an hour up to four weeks.
DELAY_BUCKETS = tuple(float(h * 3600) for h in (1, 4, 8, 24, 48, 72, 120, 168, 336, 672))
FIGURES_REFRESH_S = 15.0
ALREADY_RECORDED = "This meeting has already been recorded: nothing was recorded again."
EXPIRED = "This form expired before it was sent, so nothing was recorded. Record the meeting again."
UNAVAILABLE = "The meeting could not be recorded just now (the event store is unavailable). Try again."
UNSEALABLE = (
    "The meeting could not be recorded: what was written could not be sealed under a contact's data key "
    "(the console's master keys do not open it). Nothing was recorded; tell the service's administrators."
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _fields(raw: Any) -> dict[str, str]:
    return {key: value for key, value in raw.items() if isinstance(value, str)}


# --- the recording form (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """A meeting ready to publish: its decisions, then its record."""

    decisions: list[DecisionEvent]
    meeting: MeetingRecorded


@dataclass(frozen=True)
class FormRefused:
    errors: list[str]


def new_recording_id() -> str:
    return uuid.uuid4().hex


def closed_by_case_system(record: CaseRecord | None) -> bool:
    return record is not None and record.state is CaseState.CLOSED and record.case_closed_at is not None


def _actions(form: Mapping[str, str], cid: str, errors: list[str]) -> list[ImmAction]:
    actions: list[ImmAction] = []
    for n in range(1, ACTION_ROWS + 1):
        what = form.get(f"{cid}.action{n}.what", "").strip()
        owner = form.get(f"{cid}.action{n}.owner", "").strip()
        due = form.get(f"{cid}.action{n}.due", "").strip()
        if not (what or owner or due):
            continue
        if not (what and owner and due):
            errors.append(f"Case {cid}, action {n}: give what is to be done, who owns it and when it is due.")
            continue
        try:
            actions.append(ImmAction(what=what, owner=owner, due=date.fromisoformat(due)))
        except (ValueError, ValidationError):
            errors.append(f"Case {cid}, action {n}: the due date must be a date, and the text not too long.")
    return actions


def _outcome_decision(
    form: Mapping[str, str],
    cid: str,
    outcome: ImmOutcome,
    record: CaseRecord,
    meeting: str,
    user: User,
    now: datetime,
    recording_id: str,
    errors: list[str],
) -> DecisionEvent | None:
    before = len(errors)
    lead = form.get(f"{cid}.lead", "")
    if lead not in {a.value for a in PartnerAgency}:
        errors.append(f"Case {cid}: choose the agreed lead agency.")
    rationale = form.get(f"{cid}.rationale", "").strip()
    if not rationale:
        errors.append(f"Case {cid}: give the rationale: every decision records why it was made.")
    elif len(rationale) > MAX_TEXT:
        errors.append(f"Case {cid}: the rationale is {len(rationale)} characters; the limit is {MAX_TEXT}.")
    single = form.get(f"{cid}.single_agency", "").strip() or None
    if outcome is ImmOutcome.SINGLE_AGENCY and single is None:
        errors.append(f"Case {cid}: name the single agency that will support the family.")
    if outcome is not ImmOutcome.SINGLE_AGENCY:
        single = None
    consent = form.get(f"{cid}.consent", "")
    basis = ConsentBasis(consent) if consent in {c.value for c in ConsentBasis} else None
    if outcome in NEEDS_CONSENT and basis in (None, ConsentBasis.NOT_REQUIRED):
        errors.append(
            f"Case {cid}: {OUTCOME_NAMES[outcome].lower()} needs the family's consent, "
            "or the reason to proceed without it."
        )
    dissent = form.get(f"{cid}.dissent", "").strip() or None
    if dissent and len(dissent) > MAX_TEXT:
        errors.append(f"Case {cid}: the dissent is {len(dissent)} characters; the limit is {MAX_TEXT}.")
    actions = _actions(form, cid, errors)
    if len(errors) > before:
        return None
    try:
        return DecisionEvent(
            decision_id=f"dc-{recording_id}-{cid}",
            contact_id=cid,
            child_key=record.child_key,
            action=DecisionAction.IMM_OUTCOME,
            decided_at=now,
            by=user.username,
            role=Role.MANAGER if user.role is ConsoleRole.MANAGER else Role.COORDINATOR,
            rationale=rationale,
            meeting_id=meeting,
            outcome=outcome,
            lead_agency=PartnerAgency(lead),
            single_agency_name=single,
            consent_basis=basis,
            actions=actions,
            dissent=dissent,
        )
    except ValidationError as exc:  # every field was checked above; this is a last guard
        errors.append(f"Case {cid}: the outcome could not be recorded ({exc.error_count()} problems).")
        return None


def meeting_from_form(
    form: Mapping[str, str],
    agenda: AgendaFrozen,
    records: Mapping[str, CaseRecord],
    user: User,
    now: datetime,
    recording_id: str,
) -> Recorded | FormRefused:
    """The decisions and meeting record a submitted recording form gives, or why it can't be recorded.

    Each agenda item is `carry` (not reached: on the next agenda) unless an outcome is chosen.
    A case whose social care case has closed since the agenda was frozen gets no outcome and
    is listed as closed; choosing an outcome for it is refused, so nobody's decision is lost
    without them knowing.
    """
    errors: list[str] = []
    present = tuple(a for a in PartnerAgency if form.get(f"present.{a.value}") == "on")
    if not present:
        errors.append("Tick the agencies present at the meeting.")
    decisions: list[DecisionEvent] = []
    discussed: list[str] = []
    carried: list[str] = []
    closed: list[str] = []
    for item in agenda.items:
        cid = item.contact_id
        chosen = form.get(f"{cid}.outcome", CARRY)
        record = records.get(cid)
        if closed_by_case_system(record):
            if chosen != CARRY:
                errors.append(
                    f"Case {cid}: its social care case closed after the agenda was frozen, so no outcome "
                    "can be recorded for it. It is now shown as closed; submit the form again."
                )
            closed.append(cid)
            continue
        if chosen == CARRY:
            carried.append(cid)
            continue
        if chosen not in {o.value for o in ImmOutcome}:
            errors.append(f"Case {cid}: choose an outcome, or carry it over to the next meeting.")
            continue
        if record is None:
            errors.append(f"Case {cid}: the console has not loaded this case yet; try again in a moment.")
            continue
        decision = _outcome_decision(
            form, cid, ImmOutcome(chosen), record, agenda.meeting_id, user, now, recording_id, errors
        )
        if decision is not None:
            decisions.append(decision)
            discussed.append(cid)
    if errors:
        return FormRefused(errors)
    meeting = MeetingRecorded(
        meeting_id=agenda.meeting_id,
        recording_id=recording_id,
        agencies_present=present,
        recorded_by=user.username,
        recorded_at=now,
        discussed=tuple(discussed),
        carried=tuple(carried),
        closed=tuple(closed),
    )
    return Recorded(decisions=decisions, meeting=meeting)


# --- what each item came to -------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    kind: str  # "outcome", "pending" (recorded, not yet applied), "carried", "closed", "open"
    text: str
    lead: str | None = None


def item_result(
    cid: str,
    meeting: str,
    record: CaseRecord | None,
    recorded: MeetingRecorded | None,
    said: Said | None = None,
) -> ItemResult:
    """`said` opens the single agency's name the meeting typed (None: nothing is opened)."""
    said = said or Said(Keyring(None))
    if record is not None:
        for item in imm_outcomes(record):
            if item.imm is not None and item.imm.meeting_id == meeting:
                text = OUTCOME_NAMES[item.imm.outcome]
                if item.imm.single_agency_name:
                    name = said(item.decision_id, "single_agency_name", item.imm.single_agency_name)
                    text = f"{text}: {name}"
                return ItemResult("outcome", text, AGENCY_NAMES[item.imm.lead_agency])
    if recorded is not None:
        if cid in recorded.discussed:
            return ItemResult("pending", "Outcome recorded; being applied")
        if cid in recorded.carried:
            return ItemResult("carried", "Not reached: carried over")
        if cid in recorded.closed:
            return ItemResult("closed", "Closed before the meeting: not discussed")
    if closed_by_case_system(record):
        return ItemResult("closed", "Closed since the agenda was frozen")
    return ItemResult("open", "To discuss")


# --- metrics ------------------------------------------------------------------------------------------


class ImmCollector(Collector):
    """The IMM figures as Prometheus gauges and a histogram, computed from the console's view.

    Gauges because a late or corrected event changes what is true, and no label holds anything
    about a child: only outcomes and agencies from fixed lists.
    """

    def __init__(self, imm_log: ImmLog, records: Mapping[str, CaseRecord], calendar: WorkingCalendar) -> None:
        self.imm_log, self.records, self.calendar = imm_log, records, calendar
        self._cached: list[Metric] = []
        self._at = -FIGURES_REFRESH_S

    def collect(self) -> Iterator[Metric]:
        if clock.monotonic() - self._at >= FIGURES_REFRESH_S:
            self._cached = self.compute()
            self._at = clock.monotonic()
        yield from self._cached

    def compute(self) -> list[Metric]:
        agendas = list(self.imm_log.agendas.values())
        meetings = list(self.imm_log.meetings.values())
        decisions = meeting_decisions(list(self.records.values()), self.calendar)
        out: list[Metric] = []

        def gauge(name: str, doc: str, value: float) -> None:
            out.append(GaugeMetricFamily(name, doc, value=value))

        gauge("mash_imm_meetings_frozen", "Meetings whose agenda was frozen", len(agendas))
        gauge("mash_imm_meetings_recorded", "Meetings recorded", len(meetings))
        gauge("mash_imm_agenda_cases", "Cases listed on all agendas", sum(len(a.items) for a in agendas))
        gauge(
            "mash_imm_discussed_cases",
            "Cases discussed at all meetings",
            sum(len(m.discussed) for m in meetings),
        )
        gauge(
            "mash_imm_carried_over_cases",
            "Cases not reached and carried over, at all meetings",
            sum(len(m.carried) for m in meetings),
        )
        latest = self.imm_log.latest()
        recorded = self.imm_log.meetings.get(latest.meeting_id) if latest else None
        gauge(
            "mash_imm_latest_agenda_cases", "Cases on the latest agenda", len(latest.items) if latest else 0
        )
        gauge(
            "mash_imm_latest_discussed_cases",
            "Cases discussed at the latest meeting (0 until it is recorded)",
            len(recorded.discussed) if recorded else 0,
        )
        gauge(
            "mash_imm_latest_carried_over_cases",
            "Cases carried over from the latest meeting (0 until it is recorded)",
            len(recorded.carried) if recorded else 0,
        )
        outcomes = GaugeMetricFamily(
            "mash_imm_outcomes",
            "Meeting outcomes, by outcome and lead agency",
            labels=["outcome", "lead_agency"],
        )
        counted: dict[tuple[str, str], int] = {}
        for d in decisions:
            key = (d.outcome.value, d.lead_agency.value)
            counted[key] = counted.get(key, 0) + 1
        for (outcome, lead), n in sorted(counted.items()):
            outcomes.add_metric([outcome, lead], n)
        out.append(outcomes)
        attendance = GaugeMetricFamily(
            "mash_imm_attendance", "Recorded meetings each agency attended", labels=["agency"]
        )
        for agency in PartnerAgency:
            attendance.add_metric([agency.value], sum(agency in m.agencies_present for m in meetings))
        out.append(attendance)
        out.append(_delay_histogram(decisions))
        within = sum(d.within_one_working_day for d in decisions)
        gauge(
            "mash_imm_decided_within_1_working_day_ratio",
            "Share of meeting decisions made within 1 working day of the contact (NaN before any)",
            within / len(decisions) if decisions else float("nan"),
        )
        return out


def _delay_histogram(decisions: list[MeetingDecision]) -> HistogramMetricFamily:
    seconds = [d.seconds_from_contact for d in decisions]
    buckets = [(_le(b), float(sum(s <= b for s in seconds))) for b in DELAY_BUCKETS]
    buckets.append(("+Inf", float(len(seconds))))
    return HistogramMetricFamily(
        "mash_imm_contact_to_decision_seconds",
        "Time from a contact being received to the meeting's decision on it",
        buckets=buckets,
        sum_value=sum(seconds),
    )


def _le(bound: float) -> str:
    return f"{bound:.1f}"


# --- the router -----------------------------------------------------------------------------------------


def imm_router(
    settings: Settings,
    sessions: Sessions,
    view: ConsoleView,
    env: Environment,
    registry: CollectorRegistry,
    kafka: ProducerHandle,
    now: Callable[[], datetime] = utc_now,
    calendar: WorkingCalendar = DEFAULT_CALENDAR,
) -> APIRouter:
    """The IMM pages, with their follower of `mash.imm.v1` (started with the app); they write
    with the console's producer."""
    imm_log = ImmLog()
    said = Said(view.keyring)
    topic = settings.topic("imm")
    cutoff: time = settings.imm_cutoff
    recording = asyncio.Lock()
    refusals = Refusals()

    def on_record(record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            return
        try:
            imm_log.add(parse_imm_event(record.value))
        except ValidationError:
            log.warning("console_imm_unreadable_record", partition=record.partition, offset=record.offset)

    follower = TopicFollower(settings, [topic], on_record, "console-imm")
    registry.register(ImmCollector(imm_log, view.records, calendar))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await follower.start()
        try:
            yield
        finally:
            await follower.stop()

    router = APIRouter(lifespan=lifespan)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        at = now()
        html = env.get_template(name).render(
            user=sessions.user(request),
            csrf=sessions.csrf_token(request),
            now=at,
            summary=summary(view, at),
            flash=request.session.pop("flash", None),
            NEEDS_CONSENT=NEEDS_CONSENT,
            CARRY=CARRY,
            ACTION_ROWS=ACTION_ROWS,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def not_found(request: Request) -> HTMLResponse:
        return page(
            request,
            "error.html",
            status=404,
            title="No such meeting",
            message="No agenda has been frozen for that meeting.",
        )

    def expired(request: Request) -> HTMLResponse:
        return page(
            request, "error.html", status=403, title="Form expired", message="Reload the page and try again."
        )

    def today() -> date:
        return now().astimezone(calendar.zone).date()

    async def send(topic_name: str, key: str, value: bytes) -> None:
        await asyncio.wait_for(
            kafka.get().send_and_wait(topic_name, key=key.encode(), value=value),
            timeout=settings.produce_timeout_s,
        )

    async def write_keys(topic_name: str, records: Records) -> None:
        """New data keys, on the keys topic before anything is sealed under them."""
        for key, value, _ in records:
            await send(topic_name, key.decode(), value)

    @router.get("/imm", response_class=HTMLResponse)
    async def imm_home(request: Request) -> Response:
        user = sessions.require_user(request)
        day = today()
        meetings = sorted(imm_log.agendas.values(), key=lambda a: a.meeting_id, reverse=True)
        figures = imm_figures(
            imm_log.agendas.values(),
            imm_log.meetings.values(),
            view.records.values(),
            day - timedelta(days=FIGURE_DAYS - 1),
            day,
            calendar,
        )
        return page(
            request,
            "imm_home.html",
            page_name="imm",
            today=day,
            todays_meeting=meeting_id(day),
            todays_cutoff=meeting_cutoff(day, calendar, cutoff),
            meetings=meetings[:RECENT_MEETINGS],
            recorded=imm_log.meetings,
            figures=figures,
            figure_days=FIGURE_DAYS,
            can_freeze=user.can_sign_off,
            sees_cases=user.can_decide,
        )

    @router.post("/imm/freeze", response_class=HTMLResponse)
    async def freeze_now(request: Request) -> Response:
        user = sessions.require_user(request)
        if user.role is not ConsoleRole.MANAGER:
            raise Forbidden("Only a manager can freeze a meeting's agenda.")
        fields = _fields(await request.form())
        if not sessions.csrf_ok(request, fields):
            return expired(request)
        try:
            day = date.fromisoformat(fields.get("day") or today().isoformat())
            agenda = freeze_agenda(
                day,
                view.records.values(),
                imm_log,
                now=now(),
                by=user.username,
                calendar=calendar,
                cutoff=cutoff,
            )
        except ValueError as exc:
            request.session["flash"] = f"No agenda was frozen: {exc}."
            return RedirectResponse("/imm", status_code=303)
        if agenda is None:
            request.session["flash"] = f"No agenda was frozen: there is no meeting on {day:%A %d %B %Y}."
            return RedirectResponse("/imm", status_code=303)
        if agenda.meeting_id not in imm_log.agendas:
            try:
                await send(topic, agenda.meeting_id, agenda.model_dump_json().encode())
            except (KafkaError, TimeoutError, ProducerUnavailable) as exc:
                log.warning("console_kafka_unavailable", error=type(exc).__name__)
                request.session["flash"] = (
                    "The agenda could not be frozen just now (the event store is unavailable)."
                )
                return RedirectResponse("/imm", status_code=303)
            imm_log.add(agenda)  # the follower brings back the first one frozen, which readers keep
            log.info(
                "console_imm_frozen", meeting=agenda.meeting_id, items=len(agenda.items), user=user.username
            )
            request.session["flash"] = f"Agenda frozen: {len(agenda.items)} cases."
        else:
            request.session["flash"] = "That meeting's agenda was already frozen; it is kept as it was."
        return RedirectResponse(f"/imm/{agenda.meeting_id}", status_code=303)

    def agenda_context(meeting: str) -> dict[str, Any]:
        agenda = imm_log.agendas[meeting]
        recorded = imm_log.meetings.get(meeting)
        results = {
            i.contact_id: item_result(i.contact_id, meeting, view.records.get(i.contact_id), recorded, said)
            for i in agenda.items
        }
        return {
            "agenda": agenda,
            "recorded": recorded,
            "results": results,
            "meeting_date": meeting_day(meeting),
            "records": view.records,
            "child_of": view.child_line,
        }

    @router.get("/imm/{meeting}", response_class=HTMLResponse)
    async def agenda_page(request: Request, meeting: str) -> Response:
        sessions.require_caseworker(request)
        if not MEETING_ID.match(meeting) or meeting not in imm_log.agendas:
            return not_found(request)
        return page(request, "imm_agenda.html", page_name="imm", **agenda_context(meeting))

    @router.get("/imm/{meeting}/print", response_class=HTMLResponse)
    async def agenda_print(request: Request, meeting: str) -> Response:
        sessions.require_caseworker(request)
        if not MEETING_ID.match(meeting) or meeting not in imm_log.agendas:
            return not_found(request)
        return page(request, "imm_print.html", **agenda_context(meeting))

    @router.get("/imm/{meeting}/record", response_class=HTMLResponse)
    async def record_form(request: Request, meeting: str) -> Response:
        sessions.require_caseworker(request)
        if not MEETING_ID.match(meeting) or meeting not in imm_log.agendas:
            return not_found(request)
        refused = refusals.take(request, f"/imm/{meeting}/record")
        if meeting in imm_log.meetings:
            request.session["flash"] = "This meeting has already been recorded."
            return RedirectResponse(f"/imm/{meeting}", status_code=303)
        return page(
            request,
            "imm_record.html",
            page_name="imm",
            errors=refused.errors,
            form=refused.form,
            **agenda_context(meeting),
        )

    @router.post("/imm/{meeting}/record", response_class=HTMLResponse)
    async def record_meeting(request: Request, meeting: str) -> Response:
        user = sessions.require_caseworker(request)
        fields = _fields(await request.form())
        well_formed = MEETING_ID.match(meeting) is not None
        back = f"/imm/{meeting}/record" if well_formed else "/imm"
        if not sessions.csrf_ok(request, fields):
            # What a form without the session's token says is never kept, not even to show again.
            return refusals.redirect(request, back, [EXPIRED])
        if not well_formed or meeting not in imm_log.agendas:
            return not_found(request)
        async with recording:
            if meeting in imm_log.meetings:
                request.session["flash"] = (
                    "This meeting has already been recorded: nothing was recorded again."
                )
                return RedirectResponse(f"/imm/{meeting}", status_code=303)
            outcome = meeting_from_form(
                fields, imm_log.agendas[meeting], view.records, user, now(), new_recording_id()
            )
            if isinstance(outcome, FormRefused):
                return refusals.redirect(request, back, outcome.errors, fields)
            try:
                # What the meeting wrote, sealed under each contact's data key (written first
                # for a contact with none live).
                contacts = {decision.contact_id for decision in outcome.decisions}
                await ensure_keys(settings, view.keyring, contacts, write_keys)
                sealed = [decision.sealed(view.keyring.seal) for decision in outcome.decisions]
                for decision in sealed:  # all sealed before any is sent
                    await send(
                        settings.topic("decisions"), decision.contact_id, decision.model_dump_json().encode()
                    )
                await send(topic, meeting, outcome.meeting.model_dump_json().encode())
            except (KafkaError, TimeoutError, ProducerUnavailable) as exc:
                log.warning("console_kafka_unavailable", error=type(exc).__name__)
                return refusals.redirect(request, back, [UNAVAILABLE], fields)
            except Unreadable as exc:
                log.warning("console_unsealable_decision", meeting=meeting, reason=str(exc))
                return refusals.redirect(request, back, [UNSEALABLE], fields)
            imm_log.add(outcome.meeting)  # at once, so a second submission is refused
        log.info(
            "console_imm_recorded",
            meeting=meeting,
            discussed=len(outcome.meeting.discussed),
            carried=len(outcome.meeting.carried),
            user=user.username,
        )
        request.session["flash"] = (
            f"Meeting recorded: {len(outcome.meeting.discussed)} discussed, "
            f"{len(outcome.meeting.carried)} carried over. Cases update as the outcomes are applied."
        )
        return RedirectResponse(f"/imm/{meeting}", status_code=303)

    return router
