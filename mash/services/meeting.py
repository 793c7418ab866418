"""Running the integrated mid-day meeting (IMM): freezing a meeting's agenda and recording the meeting.

What the meeting knows comes from `mash.imm.v1` (frozen agendas and meeting records, kept in an
`ImmLog` the caller follows the topic into) and the case records the caller reads. Freezing writes
the agenda, the same computation as the worker's scheduled freezer and `mash imm freeze`.
Recording writes one `imm_outcome` decision per case discussed to `mash.decisions.v1` (what the
meeting wrote sealed under each contact's data key; the worker applies them like any decision),
then one `MeetingRecorded` to `mash.imm.v1` keyed by the meeting id. A meeting is recorded once:
recordings are taken one at a time, and the record is kept at once so a second is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time

from mash.adapters.producer import Outgoing
from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from mash.domain.case import CaseRecord
from mash.domain.decisions import DecisionEvent
from mash.domain.imm import DEFAULT_CUTOFF, AgendaFrozen, ImmLog, MeetingRecorded, freeze_agenda
from mash.services.decisions import NotRecorded, SealedWriter, decision_record


@dataclass(frozen=True)
class Recorded:
    """A meeting ready to publish: its decisions, then its record."""

    decisions: list[DecisionEvent]
    meeting: MeetingRecorded


@dataclass(frozen=True)
class FormRefused:
    """Why what was submitted for the meeting cannot be recorded, in words to act on."""

    errors: list[str]


Compose = Callable[[AgendaFrozen], Recorded | FormRefused]


class NoSuchMeeting(NotRecorded):
    """No agenda has been frozen for the meeting."""


class AlreadyRecorded(NotRecorded):
    """The meeting has been recorded: nothing is recorded again."""


class NoMeetingThatDay(NotRecorded):
    """The day has no meeting (a weekend, a bank holiday), so no agenda."""


class NotFrozenYet(NotRecorded):
    """The meeting is in the future: its agenda can't be frozen yet."""


@dataclass(frozen=True)
class Frozen:
    agenda: AgendaFrozen
    new: bool  # False: it had been frozen already and is kept as it was


@dataclass
class Meetings:
    """The meeting's use cases over what the caller keeps of `mash.imm.v1` (`log`) and the cases."""

    writer: SealedWriter
    log: ImmLog
    records: Mapping[str, CaseRecord]
    calendar: WorkingCalendar = DEFAULT_CALENDAR
    cutoff: time = DEFAULT_CUTOFF
    _recording: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def topic(self) -> str:
        return self.writer.settings.topic("imm")

    async def freeze(self, day: date, now: datetime, by: str) -> Frozen:
        """The meeting's agenda, frozen now unless it was already."""
        try:
            agenda = freeze_agenda(
                day,
                self.records.values(),
                self.log,
                now=now,
                by=by,
                calendar=self.calendar,
                cutoff=self.cutoff,
            )
        except ValueError as exc:
            raise NotFrozenYet(str(exc)) from exc
        if agenda is None:
            raise NoMeetingThatDay(f"there is no meeting on {day:%A %d %B %Y}")
        if agenda.meeting_id in self.log.agendas:
            return Frozen(agenda, new=False)
        await self.writer.publish(
            Outgoing(self.topic, agenda.model_dump_json().encode(), agenda.meeting_id.encode())
        )
        self.log.add(agenda)  # the follower brings back the first one frozen, which readers keep
        return Frozen(agenda, new=True)

    async def record(self, meeting: str, compose: Compose) -> Recorded | FormRefused:
        """Records what `compose` makes of the meeting's agenda, or passes on why it can't.

        Raises NoSuchMeeting, AlreadyRecorded, or (nothing written) StoreUnavailable or Unsealable.
        """
        agenda = self.log.agendas.get(meeting)
        if agenda is None:
            raise NoSuchMeeting(meeting)
        async with self._recording:
            if meeting in self.log.meetings:
                raise AlreadyRecorded(meeting)
            outcome = compose(agenda)
            if isinstance(outcome, FormRefused):
                return outcome
            await self._write(outcome)
            self.log.add(outcome.meeting)  # at once, so a second submission is refused
        return outcome

    async def _write(self, recorded: Recorded) -> None:
        writer = self.writer
        contacts = {decision.contact_id for decision in recorded.decisions}
        await writer.write(
            contacts,
            lambda: [decision_record(writer.settings, writer.keyring, d) for d in recorded.decisions],
        )
        # Only once every decision is held: a meeting record never stands for outcomes that are not.
        meeting = recorded.meeting
        await writer.publish(
            Outgoing(self.topic, meeting.model_dump_json().encode(), meeting.meeting_id.encode())
        )
