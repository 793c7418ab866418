"""The integrated mid-day meeting (IMM): its agenda, its record and its figures, as pure functions.

Every working day the MASH partners meet at mid-day (12:00 by default) to agree the
intervention for cases at levels 2 to 4. At the cut-off (11:30 Europe/London by default,
working days only: no meeting on a weekend or bank holiday) the agenda is frozen and
published on `mash.imm.v1` as an `AgendaFrozen` event; after the meeting a coordinator records
it: an `imm_outcome` decision per case discussed (on `mash.decisions.v1`, applied by the worker
like any decision) and one `MeetingRecorded` event (on `mash.imm.v1`). Both events are keyed
by the meeting id, `imm-YYYY-MM-D

The package: `meetings` (meeting ids and cut-offs), `events` (the events on `mash.imm.v1` and
`ImmLog`), `agenda` (which cases go on an agenda, and freezing it) and `figures` (the meeting's
figures). Everything is importable from `mash.domain.imm`.
"""

from __future__ import annotations

from mash.domain.imm.agenda import RAG_ORDER, freeze_agenda, imm_outcomes, select_agenda
from mash.domain.imm.events import (
    AgendaFrozen,
    AgendaItem,
    ImmEvent,
    ImmLog,
    MeetingId,
    MeetingRecorded,
    parse_imm_event,
)
from mash.domain.imm.figures import MeetingDecision, imm_figures, meeting_decisions
from mash.domain.imm.meetings import (
    CRON_WEEKDAYS,
    DEFAULT_CUTOFF,
    DEFAULT_MEETING_TIME,
    cron_spec,
    meeting_cutoff,
    meeting_cutoffs,
    meeting_day,
    meeting_id,
    previous_working_day,
)

__all__ = [
    "CRON_WEEKDAYS",
    "DEFAULT_CUTOFF",
    "DEFAULT_MEETING_TIME",
    "RAG_ORDER",
    "AgendaFrozen",
    "AgendaItem",
    "ImmEvent",
    "ImmLog",
    "MeetingDecision",
    "MeetingId",
    "MeetingRecorded",
    "cron_spec",
    "freeze_agenda",
    "imm_figures",
    "imm_outcomes",
    "meeting_cutoff",
    "meeting_cutoffs",
    "meeting_day",
    "meeting_decisions",
    "meeting_id",
    "parse_imm_event",
    "previous_working_day",
    "select_agenda",
]
