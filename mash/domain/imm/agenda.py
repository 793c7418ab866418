"""The agenda of an integrated mid-day meeting: which cases go on it, in what order, and
freezing it at the cut-off.

Which cases go on a meeting's agenda (`select_agenda`), all by event time:

- **New**: a case whose level (or screened level) is 2 to 4, whose contact was received after
  the last meeting's cut-off and at or before this one. A case that was never on an agenda
  but was received earlier (its contact was screened late, or submitted with an earlier
  received time, or a coordinator raised it to level 2 since) is also new, back to the
  window of the first agenda frozen by this service, so nothing falls between two agendas.
- **Carried over**: on an earlier agenda, with no meeting outcome yet, and not closed.
  `carried_over_from` names the latest earlier meeting it was listed for.
- **Ratification**: a new or carried case a coordinator has already decided (state decided,
  or closed by a decision, for example a red case that went straight to a strategy
  discussion, or a level 2 case lowered to level 1): the meeting ratifies or revisits it.
- **Dropped**: a case whose social care case closed (the case system said so) before the
  cut-off is not listed. One that closes between the cut-off and the recording stays on the
  frozen agenda, is shown as closed, gets no outcome and is listed in `MeetingRecorded.closed`.
- **Discussed**: a case with an IMM outcome (from any meeting) or listed as discussed in a
  meeting record is never listed again; a new contact about the same child is a new case.

The agenda is ordered by RAG (red, amber, green, blue), then due time (no target last), then
time received. Freezing is idempotent: `freeze_agenda` returns the agenda already frozen for
the meeting, and readers (`ImmLog`) keep the first `AgendaFrozen` per meeting id, so two
freezers racing give one agenda. A meeting recorded twice keeps the earliest record
(recorded time, then recording id); the worker likewise applies only the first outcome from
each meeting for a case (mash.domain.derive), so the record is never corrupted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from mash.domain.case import CaseRecord, CaseState, Referral, TrailItem
from mash.domain.imm.events import AgendaFrozen, AgendaItem, ImmLog, MeetingRecorded
from mash.domain.imm.meetings import DEFAULT_CUTOFF, meeting_cutoffs, meeting_id
from mash.domain.ruleset import Rag

RAG_ORDER = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2, Rag.BLUE: 3}


def imm_outcomes(record: CaseRecord) -> list[TrailItem]:
    """The meeting outcomes applied to a case, oldest first (one per meeting at most)."""
    return [t for t in record.trail if t.imm is not None and t.status == "applied"]


def _closed_by_case_system(record: CaseRecord) -> bool:
    return record.state is CaseState.CLOSED and record.case_closed_at is not None


def _decided(record: CaseRecord) -> bool:
    """Decided before the meeting (by a coordinator: the meeting ratifies or revisits it)."""
    return record.decided_at is not None


def _eligible(record: CaseRecord) -> bool:
    # A contact about a child whose case is open goes to the allocated worker, not the meeting.
    if record.referral is Referral.LINKED_TO_OPEN_CASE:
        return False
    # The recommended level too: a level 2-4 case a coordinator lowered to level 1 and closed is
    # put to the meeting for ratification.
    return 2 <= max(record.level, record.recommendation.level) <= 4


def _sort_key(item: AgendaItem) -> tuple[int, float, float, str]:
    due = item.due_at.timestamp() if item.due_at else float("inf")
    return (RAG_ORDER[item.rag], due, item.received_at.timestamp(), item.contact_id)


def _history(record: CaseRecord, siblings: list[CaseRecord], cutoff_at: datetime) -> str:
    earlier = sorted(
        (r for r in siblings if r.contact_id != record.contact_id and r.received_at < record.received_at),
        key=lambda r: r.received_at,
    )
    parts = []
    if earlier:
        last = earlier[-1].received_at.astimezone(DEFAULT_CALENDAR.zone)
        count = len(earlier)
        parts.append(f"{count} earlier contact{'' if count == 1 else 's'}, the last on {last:%d %b %Y}")
    else:
        parts.append("First contact with the MASH")
    # The child's social care case opened by an earlier contact (a referral opens its own case).
    open_case = any(
        r.case_id == r.contact_id and r.state is not CaseState.CLOSED and r.received_at < record.received_at
        for r in siblings
    )
    if open_case:
        parts.append("open social care case")
    if record.referral is Referral.REFERRAL:
        parts.append("a new referral to social care")
    if record.re_referral:
        parts.append("re-referral within 12 months")
    later = sum(1 for r in siblings if record.received_at < r.received_at <= cutoff_at)
    if later:
        parts.append(f"{later} later contact{'' if later == 1 else 's'} since")
    return "; ".join(parts)


def select_agenda(
    records: Iterable[CaseRecord],
    earlier_agendas: Iterable[AgendaFrozen],
    meetings: Iterable[MeetingRecorded],
    since: datetime,
    cutoff_at: datetime,
) -> list[AgendaItem]:
    """The agenda of the meeting whose cut-off is `cutoff_at` (see the module docstring).

    `since` is the previous meeting's cut-off; `earlier_agendas` the agendas frozen before
    this one (their cut-offs are before `cutoff_at`); `meetings` every meeting record known.
    """
    earlier = sorted((a for a in earlier_agendas if a.cutoff_at < cutoff_at), key=lambda a: a.cutoff_at)
    floor = min([since, *(a.since for a in earlier)])
    listed_in: dict[str, str] = {}
    for agenda in earlier:  # oldest first, so the latest meeting wins
        for listed in agenda.items:
            listed_in[listed.contact_id] = agenda.meeting_id
    discussed = {cid for m in meetings for cid in m.discussed}

    by_child: dict[str, list[CaseRecord]] = defaultdict(list)
    chosen: list[tuple[CaseRecord, str | None]] = []
    for record in records:
        by_child[record.child_key].append(record)
        if not _eligible(record) or record.received_at > cutoff_at:
            continue
        if imm_outcomes(record) or record.contact_id in discussed or _closed_by_case_system(record):
            continue
        carried_from = listed_in.get(record.contact_id)
        if carried_from is None and record.received_at <= floor:
            continue  # from before this service froze agendas: not its meeting's business
        chosen.append((record, carried_from))

    items = [
        AgendaItem(
            contact_id=r.contact_id,
            child_key=r.child_key,
            received_at=r.received_at,
            level=r.level,
            recommended_level=r.recommendation.level,
            rag=r.rag,
            due_at=r.due_at,
            state=r.state,
            route=r.route,
            pathway=r.pathway,
            reasons=tuple(reason.text for reason in r.recommendation.reasons),
            consent_status=r.consent_status,
            consent_reason=r.consent_reason,
            agencies=tuple(sorted({s.agency for s in by_child[r.child_key] if s.received_at <= cutoff_at})),
            history=_history(r, by_child[r.child_key], cutoff_at),
            ratification=_decided(r),
            data_quality=r.data_quality,
            carried_over_from=carried_from,
        )
        for r, carried_from in chosen
    ]
    return sorted(items, key=_sort_key)


def freeze_agenda(
    day: date,
    records: Iterable[CaseRecord],
    log: ImmLog,
    *,
    now: datetime,
    by: str,
    calendar: WorkingCalendar = DEFAULT_CALENDAR,
    cutoff: time = DEFAULT_CUTOFF,
) -> AgendaFrozen | None:
    """The agenda of the meeting on `day`: the one already frozen if there is one, else a new one.

    None on a day with no meeting. Frozen before the configured cut-off ("freeze now"), the
    cut-off is `now`, and the next meeting's new cases start from there, so none are missed.
    Raises ValueError for a day in the future.
    """
    meeting = meeting_id(day)
    if meeting in log.agendas:
        return log.agendas[meeting]
    cutoffs = meeting_cutoffs(day, calendar, cutoff)
    if cutoffs is None:
        return None
    if day > now.astimezone(calendar.zone).date():
        raise ValueError(f"the meeting on {day} is in the future: its agenda can't be frozen yet")
    by_calendar, scheduled = cutoffs
    cutoff_at = min(scheduled, now.astimezone(UTC))
    earlier = [a for a in log.agendas.values() if a.cutoff_at < cutoff_at]
    since = max((a.cutoff_at for a in earlier), default=by_calendar)
    items = select_agenda(records, earlier, log.meetings.values(), since, cutoff_at)
    return AgendaFrozen(
        meeting_id=meeting,
        since=since,
        cutoff_at=cutoff_at,
        frozen_at=now,
        frozen_by=by,
        items=tuple(items),
    )
