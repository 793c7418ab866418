"""The IMM freezer: at the cut-off on working days, the meeting's agenda goes onto `mash.imm.v1`.

`install_imm` adds two jobs to the worker, both on the leader only:

- at the cut-off (11:30 Europe/London by default, Monday to Friday) it freezes today's agenda
  if today is a working day (a bank holiday has no meeting and no freeze);
- faust's crontab never catches up a missed run (the worker was restarting at 11:30), so
  every 10 minutes from the cut-off to the end of the working day it checks `mash.imm.v1`
  (a small topic) and freezes today's agenda if it is still missing. A late freeze keeps the
  scheduled cut-off, so it lists the same cases.

Freezing reads `mash.cases.v1` and `mash.imm.v1` from the beginning with a `TopicFollower`
into memory and computes the agenda with `mash.domain.imm.freeze_agenda`. It is idempotent: a
meeting already frozen is not frozen again, and readers keep the first agenda per meeting.
`freeze_meeting` is the same computation for `mash imm freeze --date` and for tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Protocol

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from mash.adapters.follow import TopicFollower
from mash.adapters.ports import Record
from mash.config import Settings
from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from mash.domain.case import CaseRecord, supersedes
from mash.domain.imm import (
    AgendaFrozen,
    ImmLog,
    MeetingRecorded,
    cron_spec,
    freeze_agenda,
    meeting_cutoff,
    meeting_id,
    parse_imm_event,
)
from mash.observability.logging import get_logger

if TYPE_CHECKING:
    import faust

log = get_logger(__name__)

CATCH_UP_SPEC = "*/10 * * * 1-5"
RETRIES, RETRY_WAIT_S = 5, 30.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ImmState:
    """The latest case record per contact and the IMM log, as read from the topics."""

    records: dict[str, CaseRecord] = field(default_factory=dict)
    log: ImmLog = field(default_factory=ImmLog)


async def read_imm_log(settings: Settings) -> ImmLog:
    """`mash.imm.v1` read to its end: the frozen agendas and meeting records."""
    imm_log = ImmLog()

    def on_record(record: Record) -> None:
        if record.value is not None:
            _add_imm(imm_log, record)

    await TopicFollower(settings, [settings.topic("imm")], on_record, "imm-log").read_to_end()
    return imm_log


def _add_imm(imm_log: ImmLog, record: Record) -> None:
    assert record.value is not None
    try:
        imm_log.add(parse_imm_event(record.value))
    except ValidationError:
        log.warning("imm_unreadable_record", topic=record.topic, offset=record.offset)


async def read_imm_state(settings: Settings) -> ImmState:
    """`mash.cases.v1` and `mash.imm.v1` read to their ends.

    For `mash report`: `imm_figures(state.log.agendas.values(), state.log.meetings.values(),
    state.records.values(), start, end)`.
    """
    state = ImmState()
    latest: dict[bytes, bytes] = {}  # parse each contact's latest record once, not every version
    cases, imm = settings.topic("cases"), settings.topic("imm")

    def on_record(record: Record) -> None:
        if record.value is None:
            return
        if record.topic == cases:
            latest[record.key or b""] = record.value
        else:
            _add_imm(state.log, record)

    await TopicFollower(settings, [cases, imm], on_record, "imm-state").read_to_end()
    for key, value in latest.items():
        try:
            case = CaseRecord.model_validate_json(value)
        except ValidationError:
            log.warning("imm_unreadable_case", key_length=len(key))
            continue
        if supersedes(case, state.records.get(case.contact_id)):
            state.records[case.contact_id] = case
    return state


async def publish_imm(settings: Settings, *events: AgendaFrozen | MeetingRecorded) -> None:
    """Sends IMM events keyed by meeting id, waiting for the broker to have them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        request_timeout_ms=int(settings.produce_timeout_s * 1000),
        max_batch_size=1 if settings.embedded_broker else 16384,
    )
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                settings.topic("imm"), key=event.meeting_id.encode(), value=event.model_dump_json().encode()
            )
    finally:
        await producer.stop()


@dataclass(frozen=True)
class FreezeResult:
    meeting_id: str
    agenda: AgendaFrozen | None  # None: no meeting that day
    published: bool  # False: no meeting, or frozen before (the earlier agenda is kept)

    def describe(self) -> str:
        if self.agenda is None:
            return f"{self.meeting_id}: no meeting (not a working day); nothing frozen"
        ratify = sum(i.ratification for i in self.agenda.items)
        carried = sum(i.carried_over_from is not None for i in self.agenda.items)
        what = "frozen" if self.published else "already frozen; kept"
        return (
            f"{self.meeting_id}: {what}: {len(self.agenda.items)} cases "
            f"({carried} carried over, {ratify} for ratification), "
            f"cut-off {self.agenda.cutoff_at.astimezone(DEFAULT_CALENDAR.zone):%Y-%m-%d %H:%M}"
        )


async def freeze_meeting(
    settings: Settings,
    day: date,
    *,
    now: datetime,
    by: str,
    calendar: WorkingCalendar = DEFAULT_CALENDAR,
    cutoff: time | None = None,
) -> FreezeResult:
    """Freezes the agenda of the meeting on `day` and publishes it, unless it was frozen before.

    Raises ValueError for a day in the future; Kafka errors pass through.
    """
    cutoff = cutoff or settings.imm_cutoff
    meeting = meeting_id(day)
    if meeting_cutoff(day, calendar, cutoff) is None:
        return FreezeResult(meeting, None, published=False)
    known = await read_imm_log(settings)  # small: no need to read every case to find it is done
    if meeting in known.agendas:
        return FreezeResult(meeting, known.agendas[meeting], published=False)
    state = await read_imm_state(settings)
    agenda = freeze_agenda(
        day, state.records.values(), state.log, now=now, by=by, calendar=calendar, cutoff=cutoff
    )
    assert agenda is not None
    if meeting in state.log.agendas:
        return FreezeResult(meeting, agenda, published=False)
    await publish_imm(settings, agenda)
    return FreezeResult(meeting, agenda, published=True)


async def run_freeze(settings: Settings, day: date | None, now: datetime | None = None) -> FreezeResult:
    """`mash imm freeze [--date YYYY-MM-DD]`: today (Europe/London) unless a date is given."""
    at = now or utc_now()
    return await freeze_meeting(
        settings, day or at.astimezone(DEFAULT_CALENDAR.zone).date(), now=at, by="mash imm freeze"
    )


class Freeze(Protocol):
    def __call__(
        self,
        settings: Settings,
        day: date,
        *,
        now: datetime,
        by: str,
        calendar: WorkingCalendar = ...,
        cutoff: time | None = ...,
    ) -> Awaitable[FreezeResult]: ...


@dataclass(frozen=True)
class ImmJobs:
    """The worker's two IMM jobs, returned so tests can run them without waiting for the clock."""

    at_cutoff: Callable[..., Awaitable[FreezeResult | None]]
    catch_up: Callable[..., Awaitable[FreezeResult | None]]


@dataclass
class Freezer:
    """Freezes today's agenda once the cut-off has passed, retrying while the broker is away."""

    settings: Settings
    calendar: WorkingCalendar
    now: Callable[[], datetime]
    freeze: Freeze
    retry_wait_s: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def today(self, catching_up: bool) -> FreezeResult | None:
        at = self.now()
        today = at.astimezone(self.calendar.zone).date()
        scheduled = meeting_cutoff(today, self.calendar, self.settings.imm_cutoff)
        if scheduled is None:
            if not catching_up:
                log.info("imm_no_meeting_today", day=today.isoformat())
            return None
        closes = datetime.combine(today, self.calendar.day_end, tzinfo=self.calendar.zone)
        if catching_up and not scheduled <= at < closes:
            return None
        async with self.lock:
            return await self._with_retries(today, at, catching_up)

    async def _with_retries(self, today: date, at: datetime, catching_up: bool) -> FreezeResult | None:
        for attempt in range(1, RETRIES + 1):
            try:
                result = await self.freeze(
                    self.settings,
                    today,
                    now=at,
                    by="scheduler",
                    calendar=self.calendar,
                    cutoff=self.settings.imm_cutoff,
                )
            except Exception as exc:  # the broker is away: try again, then leave it to the catch-up
                log.warning("imm_freeze_failed", attempt=attempt, error=type(exc).__name__)
                await asyncio.sleep(self.retry_wait_s)
                continue
            if result.published or not catching_up:
                items = len(result.agenda.items) if result.agenda else 0
                log.info(
                    "imm_agenda_frozen",
                    meeting=result.meeting_id,
                    items=items,
                    published=result.published,
                    catching_up=catching_up,
                )
            return result
        return None


def install_imm(
    app: faust.App,
    settings: Settings,
    *,
    calendar: WorkingCalendar = DEFAULT_CALENDAR,
    now: Callable[[], datetime] = utc_now,
    freeze: Freeze = freeze_meeting,
    retry_wait_s: float = RETRY_WAIT_S,
) -> ImmJobs:
    """Adds the IMM freezer's jobs to the worker (on the leader only)."""
    freezer = Freezer(settings, calendar, now, freeze, retry_wait_s)

    async def at_cutoff(_app: object = None) -> FreezeResult | None:
        return await freezer.today(catching_up=False)

    async def catch_up(_app: object = None) -> FreezeResult | None:
        return await freezer.today(catching_up=True)

    app.crontab(cron_spec(settings.imm_cutoff), timezone=calendar.zone, on_leader=True)(at_cutoff)
    app.crontab(CATCH_UP_SPEC, timezone=calendar.zone, on_leader=True)(catch_up)
    return ImmJobs(at_cutoff=at_cutoff, catch_up=catch_up)
