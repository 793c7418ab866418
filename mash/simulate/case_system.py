"""The council's case system, simulated: it follows the people's decisions, not the screening.

A referral (a contact a person decided for social care, for a child with no open case) opens a
case at the decision's time. The case system later closes it: within weeks after an assessment
with no further action (`nfa_share`), or months later after child-in-need work. A share of
referrals decided at level 4 or to a strategy discussion (`plan_share`, `plan_share_again` for a
child who had a plan before) lead to a child protection plan, which ends months later; the case
closes after the plan. After a closure concerns come back for some children
(`return_after_closure`, `return_after_plan`). Outcomes are recorded in working hours.

`Record` is what the service knows of a child identity by event time, as mash.domain.derive
keeps it, so that the people's decisions and the case system's outcomes fit the service's view.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.outcomes import OutcomeType
from mash.domain.screening import EarlierContact, Known, Plan
from mash.simulate.catalogue import OUTCOME_AGENCY
from mash.simulate.config import SimulationConfig
from mash.simulate.lines import Line, stamp
from mash.simulate.population import Population


@dataclass
class Record:
    """What the service knows of one child identity, by event time."""

    earlier: list[EarlierContact] = field(default_factory=list)
    plans: dict[str, Plan] = field(default_factory=dict)  # by the case system's plan id, in order
    open_case: bool = False  # opened by a referral's decision, closed by the case system

    def known(self) -> Known:
        return Known(tuple(self.earlier), self.open_case, tuple(self.plans.values()))


@dataclass(frozen=True)
class Outcome:
    """An outcome the case system will record: one line of the file, when its time comes."""

    type: OutcomeType
    kid: int
    child: dict[str, Any]
    identity: str
    nfa: bool = False
    plan_case: bool = False  # the case had a child protection plan
    plan_id: str | None = None


# Puts an outcome in the generator's queue, to be applied (`CaseSystem.apply`) at its time.
Schedule = Callable[[datetime, Outcome], None]


class CaseSystem:
    def __init__(
        self, rng: random.Random, config: SimulationConfig, population: Population, schedule: Schedule
    ) -> None:
        self.rng = rng
        self.config = config
        self.population = population
        self.schedule = schedule
        self.records: dict[str, Record] = {}
        self.outcomes = 0
        self.plans = 0

    def record(self, identity: str) -> Record:
        return self.records.setdefault(identity, Record())

    def _office_time(self, after: datetime, days: float) -> datetime:
        """A working-hours moment about `days` after `after`: when a social worker records an outcome."""
        d = (after + timedelta(days=days)).astimezone(DEFAULT_CALENDAR.zone).date()
        while not DEFAULT_CALENDAR.is_working_day(d):
            d += timedelta(days=1)
        minute = self.rng.randrange(9 * 60, 17 * 60 + 30)
        local = datetime.combine(d, time(minute // 60, minute % 60), tzinfo=DEFAULT_CALENDAR.zone)
        return local.astimezone(UTC)

    def open_case(self, at: datetime, kid: int, child: dict[str, Any], identity: str, s47: bool) -> None:
        """A referral opened the child's case at `at`, its decision: what the case system does next."""
        rng, config = self.rng, self.config
        record = self.records[identity]
        record.open_case = True
        chance = config.plan_share_again if record.plans else config.plan_share
        if s47 and rng.random() < chance:
            # Conference within 15 working days of the strategy discussion; plans last months.
            started = self._office_time(at, rng.uniform(14, 35))
            ended = self._office_time(started, min(600.0, max(90.0, rng.lognormvariate(math.log(240), 0.45))))
            closed = self._office_time(ended, rng.uniform(14, 90))
            self.plans += 1
            plan_id = f"SIM-{config.seed}-P{self.plans:06d}"
            started_item = Outcome(OutcomeType.CP_PLAN_STARTED, kid, child, identity, plan_id=plan_id)
            self.schedule(started, started_item)
            self.schedule(ended, Outcome(OutcomeType.CP_PLAN_ENDED, kid, child, identity, plan_id=plan_id))
            self.schedule(closed, Outcome(OutcomeType.CASE_CLOSED, kid, child, identity, plan_case=True))
        elif rng.random() < config.nfa_share:
            # Assessment within 45 working days, then no further action.
            closed = self._office_time(at, rng.uniform(7, 63))
            self.schedule(closed, Outcome(OutcomeType.CASE_CLOSED, kid, child, identity, nfa=True))
        else:
            # Child-in-need work, then closure.
            closed = self._office_time(at, rng.uniform(45, 150))
            self.schedule(closed, Outcome(OutcomeType.CASE_CLOSED, kid, child, identity))

    def apply(self, at: datetime, item: Outcome) -> Line:
        """The outcome's line, once what the service knows of the child has taken it in."""
        record = self.records[item.identity]
        if item.type is OutcomeType.CP_PLAN_STARTED:
            assert item.plan_id is not None
            record.plans[item.plan_id] = Plan(at)
        elif item.type is OutcomeType.CP_PLAN_ENDED:
            assert item.plan_id is not None
            record.plans[item.plan_id] = Plan(record.plans[item.plan_id].started, at)
        else:
            record.open_case = False
            chance = self.config.return_after_plan if item.plan_case else self.config.return_after_closure
            if self.rng.random() < chance:
                wait = self.rng.expovariate(1 / self.config.return_mean_days)
                self.population.comes_back(at + timedelta(days=wait), item.kid, item.plan_case)
        self.outcomes += 1
        event: dict[str, Any] = {
            "type": item.type.value,
            "child": dict(item.child),
            "occurred_at": stamp(at),
        }
        if item.type is OutcomeType.CASE_CLOSED:
            event["nfa"] = item.nfa
        event["reference"] = f"SIM-{self.config.seed}-O{self.outcomes:06d}"
        if item.plan_id is not None:
            event["plan_id"] = item.plan_id
        return {"kind": "outcome", "agency": OUTCOME_AGENCY, "event": event}
