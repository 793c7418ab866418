"""Case records built the way the worker builds them, and a small world of children for the IMM.

Shared by the domain, console and worker tests of the integrated mid-day meeting. The simulated
week runs over the summer bank holiday: Friday 28 August 2026, the weekend, Monday 31 August (a
bank holiday: no meeting, no freeze), Tuesday 1 September. London is on BST, so the 11:30 cut-off
is 10:30 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.case import CaseRecord
from mash.domain.contact import CinSource, ConsentStatus
from mash.domain.decisions import ConsentBasis, DecisionAction, DecisionEvent, ImmOutcome, PartnerAgency, Role
from mash.domain.derive import derive
from mash.domain.imm import AgendaFrozen, ImmLog, MeetingRecorded, freeze_agenda, meeting_cutoff
from mash.domain.outcomes import OutcomeType
from mash.domain.ruleset import Rag, load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildTimeline, ContactEntry, DecisionEntry, Entry, OutcomeEntry

RULESET = load_ruleset()
RULESETS = RulesetHistory.of(RULESET)
RAG_OF = {1: Rag.BLUE, 2: Rag.GREEN, 3: Rag.AMBER, 4: Rag.RED}
LONDON = DEFAULT_CALENDAR.zone

LEVEL_1 = ("no_unmet_needs",)
LEVEL_2 = ("missed_health_checks",)
LEVEL_3 = ("persistent_absence",)
LEVEL_4 = ("non_mobile_baby_injury",)

THU = date(2026, 8, 27)
FRI = date(2026, 8, 28)
SAT = date(2026, 8, 29)
SUN = date(2026, 8, 30)
BANK_HOLIDAY = date(2026, 8, 31)
TUE = date(2026, 9, 1)
WED = date(2026, 9, 2)


def london(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=LONDON).astimezone(UTC)


def cutoff(day: date) -> datetime:
    at = meeting_cutoff(day)
    assert at is not None
    return at


# --- building case records the way the worker does ----------------------------------------------------


def contact(
    contact_id: str,
    at: datetime,
    indicators: tuple[str, ...] = LEVEL_3,
    agency: str = "police",
    consent: ConsentStatus = ConsentStatus.GIVEN,
) -> ContactEntry:
    return ContactEntry(
        id=contact_id,
        at=at,
        accepted_at=at + timedelta(seconds=1),
        agency=agency,
        source=CinSource.POLICE if agency == "police" else CinSource.SCHOOLS,
        indicators=indicators,
        consent_status=consent,
        consent_reason=None,
        children_in_submission=1,
        ruleset_version=RULESET.version,
    )


def decision_event(
    decision_id: str,
    contact_id: str,
    at: datetime,
    action: DecisionAction = DecisionAction.CONFIRM,
    child_key: str = "ck-1",
    **fields: Any,
) -> DecisionEvent:
    values: dict[str, Any] = {
        "decision_id": decision_id,
        "contact_id": contact_id,
        "child_key": child_key,
        "action": action,
        "decided_at": at,
        "by": "coordinator-7",
        "role": Role.COORDINATOR,
        "rationale": "Discussed with the partners; see the minutes.",
    }
    return DecisionEvent(**(values | fields))


def outcome_event(
    decision_id: str,
    contact_id: str,
    at: datetime,
    outcome: ImmOutcome,
    meeting: str = "imm-2026-08-28",
    lead: PartnerAgency = PartnerAgency.EARLY_HELP,
    child_key: str = "ck-1",
    **fields: Any,
) -> DecisionEvent:
    values: dict[str, Any] = {
        "meeting_id": meeting,
        "outcome": outcome,
        "lead_agency": lead,
        "consent_basis": ConsentBasis.GIVEN,
    }
    if outcome is ImmOutcome.SINGLE_AGENCY:
        values["single_agency_name"] = "School nursing"
    return decision_event(
        decision_id, contact_id, at, DecisionAction.IMM_OUTCOME, child_key=child_key, **(values | fields)
    )


def imm_decision(*args: Any, **kwargs: Any) -> DecisionEntry:
    return DecisionEntry.of(outcome_event(*args, **kwargs))


def confirm(decision_id: str, contact_id: str, at: datetime, level: int = 3) -> DecisionEntry:
    """A coordinator confirms the level they were shown (level 3, amber, unless told)."""
    return DecisionEntry.of(decision_event(decision_id, contact_id, at, level=level, rag=RAG_OF[level]))


def change(decision_id: str, contact_id: str, at: datetime, **fields: Any) -> DecisionEntry:
    return DecisionEntry.of(decision_event(decision_id, contact_id, at, DecisionAction.CHANGE, **fields))


def case_closed(outcome_id: str, at: datetime) -> OutcomeEntry:
    return OutcomeEntry(id=outcome_id, at=at, type=OutcomeType.CASE_CLOSED, nfa=False)


def child_records(child_key: str, *entries: Entry) -> dict[str, CaseRecord]:
    timeline = ChildTimeline()
    for entry in entries:
        timeline = timeline.with_entry(entry)
    return derive(child_key, timeline, RULESETS).records


def record(contact_id: str, *entries: Entry, child_key: str = "ck-1") -> CaseRecord:
    return child_records(child_key, *entries)[contact_id]


class World:
    """Everything the service knows, child by child, and the IMM topic as a reader keeps it."""

    def __init__(self) -> None:
        self.entries: dict[str, list[Entry]] = {}
        self.log = ImmLog()

    def add(self, child_key: str, *entries: Entry) -> None:
        self.entries.setdefault(child_key, []).extend(entries)

    def records(self) -> list[CaseRecord]:
        return [r for key, es in self.entries.items() for r in child_records(key, *es).values()]

    def freeze(self, day: date, now: datetime | None = None) -> AgendaFrozen | None:
        """Freezes the day's agenda as the scheduler would (a minute after the cut-off) unless told when."""
        at = now or london(day, 11, 31)
        agenda = freeze_agenda(day, self.records(), self.log, now=at, by="scheduler")
        if agenda is not None:
            self.log.add(agenda)
        return agenda

    def record_meeting(self, agenda: AgendaFrozen, outcomes: dict[str, ImmOutcome], at: datetime) -> None:
        by_id = {r.contact_id: r for r in self.records()}
        for n, (cid, outcome) in enumerate(outcomes.items()):
            event = outcome_event(
                f"dc-m{n}-{cid}", cid, at, outcome, agenda.meeting_id, child_key=by_id[cid].child_key
            )
            self.add(by_id[cid].child_key, DecisionEntry.of(event))
        self.log.add(
            MeetingRecorded(
                meeting_id=agenda.meeting_id,
                recording_id=f"rec-{agenda.meeting_id}",
                agencies_present=(PartnerAgency.POLICE, PartnerAgency.HEALTH),
                recorded_by="coordinator-7",
                recorded_at=at,
                discussed=tuple(outcomes),
                carried=tuple(i.contact_id for i in agenda.items if i.contact_id not in outcomes),
            )
        )


def ids(agenda: AgendaFrozen | None) -> list[str]:
    assert agenda is not None
    return [i.contact_id for i in agenda.items]


MEETING_AT = london(FRI, 12, 30)


def week_for_figures() -> World:
    """Three cases over the bank holiday week: two decided on Friday, one carried to Tuesday."""
    world = World()
    world.add("ck-1", contact("ct-1", london(THU, 14)))  # decided Friday 12:30: within 1 working day
    world.add("ck-2", contact("ct-2", london(FRI, 9), LEVEL_2))  # carried, decided Tuesday: not within
    world.add("ck-3", contact("ct-3", london(FRI, 9, 30), LEVEL_4))
    friday = world.freeze(FRI)
    assert friday is not None
    world.record_meeting(
        friday,
        {"ct-1": ImmOutcome.CSC_ASSESSMENT, "ct-3": ImmOutcome.STRATEGY_DISCUSSION},
        london(FRI, 12, 30),
    )
    tuesday = world.freeze(TUE)
    assert tuesday is not None
    world.record_meeting(tuesday, {"ct-2": ImmOutcome.EARLY_HELP}, london(TUE, 12, 30))
    return world
