"""One contact's decisions, applied in time order: the level and RAG in force, who decided the
contact first and when, and the trail of every decision with what became of it (applied,
awaiting a manager's sign-off, signed off, or ignored). Pure: used by mash.domain.derive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mash.domain.case import DecidedBy, TrailItem, TrailStatus
from mash.domain.decisions import DecisionAction, ImmDetails, Role
from mash.domain.ruleset import Rag, Ruleset
from mash.domain.timeline import DecisionEntry

SERVICE = "service"


@dataclass
class DecisionTrail:
    """One contact's decisions so far: the level and RAG in force, and the first decision."""

    level: int
    rag: Rag
    decided_at: datetime | None = None
    decided_by: DecidedBy | None = None
    trail: list[TrailItem] = field(default_factory=list)
    pending: dict[str, DecisionEntry] = field(default_factory=dict)
    imm: ImmDetails | None = None  # the meeting's outcome that routes the contact, if any
    discussed: bool = False  # the IMM has agreed an outcome for it
    meetings: set[str] = field(default_factory=set)

    def add_step(self, d: DecisionEntry, to_level: int, to_rag: Rag, status: TrailStatus) -> None:
        """Writes `d` in the trail, from the level and RAG in force to the ones given."""
        self.trail.append(
            TrailItem(
                decision_id=d.id,
                at=d.at,
                by=d.by,
                role=d.role,
                action=d.action,
                from_level=self.level,
                to_level=to_level,
                from_rag=self.rag,
                to_rag=to_rag,
                rationale=d.rationale,
                status=status,
                signs_off=d.signs_off,
                imm=d.imm,
            )
        )

    def _decided(self, at: datetime, by: DecidedBy) -> None:
        if self.decided_at is None:
            self.decided_at, self.decided_by = at, by

    def set_level(self, level: int, rag: Rag) -> None:
        if level != self.level:
            self.imm = None  # a new level routes by the level again
        self.level, self.rag = level, rag

    def by_service(self, at: datetime, ruleset: Ruleset) -> None:
        self.trail.append(
            TrailItem(
                decision_id=f"{SERVICE}-decision",
                at=at,
                by=SERVICE,
                role=Role.SERVICE,
                action=DecisionAction.CONFIRM,
                from_level=self.level,
                to_level=self.level,
                from_rag=self.rag,
                to_rag=self.rag,
                rationale=f"Decided by the service, as ruleset {ruleset.version} allows for level "
                f"{self.level} with no history at the service: no further action",
                status="applied",
            )
        )
        self._decided(at, DecidedBy.SERVICE)

    def apply(self, d: DecisionEntry, ruleset: Ruleset) -> None:
        """One decision, in its time order. Lowering a level-4 contact waits for a manager's
        sign-off. An IMM outcome routes the contact as the meeting agreed until a later decision
        changes its level. Only the first outcome from each meeting applies: a meeting recorded
        twice, or an outcome sent twice under new ids, is kept in the trail as "ignored"."""
        if d.action in (DecisionAction.CONFIRM, DecisionAction.CHANGE):
            to_level = d.level if d.level is not None else self.level
            to_rag = (
                d.rag if d.rag is not None else (ruleset.rag[to_level] if d.level is not None else self.rag)
            )
            if self.level == 4 and to_level < 4 and d.role is not Role.MANAGER:
                self.pending[d.id] = d
                self.add_step(d, to_level, to_rag, "awaiting_sign_off")
                return
            self.add_step(d, to_level, to_rag, "applied")
            self.set_level(to_level, to_rag)
            self._decided(d.at, DecidedBy.COORDINATOR)
            self.pending.clear()  # an applied decision supersedes a change waiting for sign-off
        elif d.action is DecisionAction.IMM_OUTCOME:
            if d.imm is None or d.imm.meeting_id in self.meetings:
                self.add_step(d, self.level, self.rag, "ignored")
                return
            self.meetings.add(d.imm.meeting_id)
            self.add_step(d, self.level, self.rag, "applied")
            self.imm, self.discussed = d.imm, True
            self._decided(d.at, DecidedBy.IMM)
        elif d.action is DecisionAction.SIGN_OFF:
            approved = self.pending.pop(d.signs_off or "", None) if d.role is Role.MANAGER else None
            if approved is None:
                self.add_step(d, self.level, self.rag, "ignored")
                return
            to_level = approved.level if approved.level is not None else self.level
            to_rag = approved.rag if approved.rag is not None else ruleset.rag[to_level]
            self.add_step(d, to_level, to_rag, "signed_off")
            self.set_level(to_level, to_rag)
            self._decided(d.at, DecidedBy.COORDINATOR)
        # A rescreen is settled at the contact's receipt (mash.domain.derive, `_Walk.contact`).
