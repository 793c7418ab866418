"""The generator: a council's front door, day by day, as replay lines in event-time order.

Pure: it draws only from `random.Random(config.seed)` and never reads the clock. Each day it
draws the day's contacts from every source (and, some days, a burst of police notifications) at
the hours each source keeps. For each contact it asks the population who it is about
(mash.simulate.population) and the partner what they report (mash.simulate.partners), screens it
with the service's own `screen` under what the service knew of the child just before, has the
people decide (mash.simulate.people) and lets the case system follow the decisions
(mash.simulate.case_system). Pending events wait in one queue ordered as the service orders a
child's events at the same instant (outcome, then contact, then decision), so the file is in
event-time order.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
from mash.domain.decisions import DecisionAction
from mash.domain.ruleset import Route, Ruleset, load_ruleset
from mash.domain.screening import EarlierContact, Known, screen
from mash.simulate import partners
from mash.simulate.case_system import CaseSystem, Outcome
from mash.simulate.catalogue import (
    BURST_MARAC_SHARE,
    BURST_SIBLINGS,
    HOURS,
    POLICE,
    RETURN_AFTER_PLAN_LEVELS,
    RETURN_LEVELS,
    SOURCES,
    TOXIC_TRIO,
    UNBORN_CHANCE,
    Source,
    day_factor,
)
from mash.simulate.config import SimulationConfig
from mash.simulate.lines import Line, stamp
from mash.simulate.people import People, Step, Waiting
from mash.simulate.population import Population, Return

LONDON = DEFAULT_CALENDAR.zone
# A child's events at one instant, in the order the service applies them (mash.domain.timeline).
OUTCOME, DECISION = 0, 2
CONTACT = 1


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method, in slices so exp(-mean) never underflows for a large council.
    count = 0
    while mean > 0:
        part = min(mean, 30.0)
        mean -= part
        limit, product = math.exp(-part), rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
    return count


def _expected_children(source: Source) -> float:
    # Only about half of the children have a sibling of a suitable age to name too.
    return 1 + source.siblings * 0.55 * 1.33


@dataclass(frozen=True)
class _Rates:
    """The mean submissions a day over the run: per source other than the police, police
    outside bursts, and the chance of a burst, before each day's own factor."""

    means: dict[str, float]  # each timing's mean day factor over the run
    sources: list[float]
    police: float
    burst_chance: float

    @classmethod
    def of(cls, config: SimulationConfig, days: list[date]) -> _Rates:
        non_police = sum(s.share for s in SOURCES)
        per_day = config.per_day
        # Normalise each source's day factors so its mean over the run is its share of volume.
        means = {
            timing: sum(day_factor(timing, d) for d in days) / len(days)
            for timing in {s.timing for s in (*SOURCES, POLICE)}
        }
        sources = [
            (1 - config.police_share) * s.share / non_police * per_day / _expected_children(s)
            for s in SOURCES
        ]
        police = config.police_share * (1 - config.burst_share) * per_day / _expected_children(POLICE)
        burst_children = 1 + BURST_SIBLINGS * 0.55 * 1.33
        burst_mean = (config.burst_min + config.burst_max) / 2 * burst_children
        burst_chance = config.police_share * config.burst_share * per_day / burst_mean
        return cls(means, sources, police, burst_chance)


# A submission of the day: when, its place in the day's draw (the tie-break), its source, and
# whether it is part of a burst.
_Slot = tuple[datetime, int, Source, bool]


@dataclass(frozen=True)
class _Subject:
    """One child of one submission: the contact a decision names."""

    agency: str
    agency_reference: str
    index: int
    kid: int
    child: dict[str, Any]
    identity: str
    linked: bool  # the child's case was open at receipt


@dataclass(frozen=True)
class _Decision:
    subject: _Subject
    step: Step
    previous: list[str]  # references of the contact's decisions written so far (shared)


@dataclass(order=True)
class _Pending:
    at: datetime
    rank: int
    seq: int
    item: Outcome | _Decision = field(compare=False)


class _Simulation:
    def __init__(self, config: SimulationConfig, ruleset: Ruleset) -> None:
        self.config = config
        self.ruleset = ruleset
        self.rng = random.Random(config.seed)
        self.people = People(self.rng, config, ruleset)
        self.population = Population(self.rng, config)
        self.cases = CaseSystem(self.rng, config, self.population, self._schedule_outcome)
        self.pending: list[_Pending] = []
        self.seq = 0
        self.submissions = 0
        self.decisions = 0

    # -- the queue of what happens later ------------------------------------------------------

    def _schedule(self, at: datetime, rank: int, item: Outcome | _Decision) -> None:
        self.seq += 1
        heapq.heappush(self.pending, _Pending(at, rank, self.seq, item))

    def _schedule_outcome(self, at: datetime, item: Outcome) -> None:
        self._schedule(at, OUTCOME, item)

    def _drain(self, until: datetime, rank: int) -> Iterator[Line]:
        """Every pending event before (`until`, `rank`): before a contact at `until`, the
        outcomes at that instant come first and the decisions after it."""
        while self.pending and (self.pending[0].at, self.pending[0].rank) < (until, rank):
            pending = heapq.heappop(self.pending)
            if isinstance(pending.item, Outcome):
                yield self.cases.apply(pending.at, pending.item)
            else:
                yield self._apply_decision(pending.at, pending.item)

    # -- the people -----------------------------------------------------------------------------

    def _apply_decision(self, at: datetime, item: _Decision) -> Line:
        subject, step = item.subject, item.step
        self.decisions += 1
        reference = f"SIM-{self.config.seed}-D{self.decisions:06d}"
        decision: dict[str, Any] = {
            "contact": {
                "agency": subject.agency,
                "agency_reference": subject.agency_reference,
                "child": subject.index,
            },
            "reference": reference,
            "action": step.action.value,
            "decided_at": stamp(at),
            "by": step.by,
            "role": step.role.value,
        }
        if step.action in (DecisionAction.CONFIRM, DecisionAction.CHANGE):
            assert step.rag is not None
            decision["level"], decision["rag"] = step.level, step.rag.value
        decision["rationale"] = step.rationale
        if step.signs_off_previous:
            decision["signs_off"] = item.previous[-1]
        if step.imm is not None:
            decision.update(step.imm)
        item.previous.append(reference)
        # A referral: a person decided social care for a child with no open case. A contact
        # linked to the child's open case, at receipt or now, opens nothing.
        record = self.cases.records[subject.identity]
        if step.decides and step.route is Route.SOCIAL_CARE and not subject.linked and not record.open_case:
            self.cases.open_case(at, subject.kid, subject.child, subject.identity, step.s47)
        return {"kind": "decision", "decision": decision}

    # -- a contact ------------------------------------------------------------------------------

    def _contact(self, at: datetime, source: Source, burst: bool) -> Line:
        rng, population = self.rng, self.population
        on = at.astimezone(LONDON).date()
        returning: Return | None = None
        unborn = False
        kid: int | None = None
        # Pre-birth concerns come mostly from midwives, some from police and early help.
        if not burst and rng.random() < UNBORN_CHANCE.get(source.code, 0.0):
            kid = population.pick_unborn(on)
            unborn = kid is not None
        if kid is None:
            kid, returning = population.pick(source.ages, at, on)
        if unborn:
            kids = [kid]
            level = 3
            codes = ["unborn_pre_birth_assessment"]
            if rng.random() < 0.5:
                codes.append(rng.choice(TOXIC_TRIO))
        else:
            chance = BURST_SIBLINGS if burst else source.siblings
            kids = population.siblings(kid, on, source.ages, chance)
            ages = [population.age(k, on) for k in kids]
            if burst:
                level = 4 if rng.random() < BURST_MARAC_SHARE else 3
                codes = ["domestic_abuse_marac" if level == 4 else "domestic_abuse_in_home"]
            else:
                if returning is None:
                    level = partners.reported_level(rng, source.levels)
                else:
                    levels = RETURN_AFTER_PLAN_LEVELS if returning.plan_case else RETURN_LEVELS
                    level = partners.reported_level(rng, levels)
                codes = partners.indicators(rng, source, level, ages)
        self.submissions += 1
        reference = f"SIM-{self.config.seed}-{self.submissions:06d}"
        consent = partners.consent(rng, level, codes, source.code is CinSource.POLICE)
        children: list[dict[str, Any]] = []
        for index, k in enumerate(kids):
            child, identity = population.identity(k, unborn)
            children.append(dict(child))
            record = self.cases.record(identity)
            known = record.known()
            screening = screen(codes, known, at, self.ruleset)
            record.earlier.append(EarlierContact(at, screening.concern_level))
            population.seen(at, k)
            if self._service_decides(screening.level, bool(screening.unknown_codes), known, at):
                continue  # closed as information only: nobody decides it
            subject = _Subject(source.agency, reference, index, k, child, identity, linked=record.open_case)
            waiting = Waiting(
                at,
                screening,
                record.open_case,
                source.agency,
                ConsentStatus(consent["status"]),
                ConsentReason(consent["reason"]) if "reason" in consent else None,
            )
            previous: list[str] = []
            for step in self.people.decide(waiting):
                self._schedule(step.at, DECISION, _Decision(subject, step, previous))
        submission = {
            "agency_reference": reference,
            "received_at": stamp(at),
            "source": source.code.value,
            "children": children,
            "indicators": codes,
            "narrative": partners.narrative(self.ruleset, codes, burst),
            "consent": consent,
            "referrer": partners.referrer(rng, source),
        }
        return {"kind": "contact", "agency": source.agency, "submission": submission}

    def _service_decides(self, level: int, unknown: bool, known: Known, at: datetime) -> bool:
        """`Ruleset.service_decides`, as mash.domain.derive applies it."""
        rule = self.ruleset.service_decides
        return (
            level in rule.levels
            and not unknown
            and not known.open_case
            and not (rule.only_without_history and known.has_history(at, rule.history_days))
        )

    # -- the days -----------------------------------------------------------------------------

    def _moment(self, d: date, timing: str) -> datetime:
        closed = timing in ("office", "school") and not DEFAULT_CALENDAR.is_working_day(d)
        hours = HOURS["closed" if closed else timing]
        hour = self.rng.choices(range(24), weights=hours)[0]
        second = self.rng.randrange(3600)
        local = datetime.combine(d, time(hour, second // 60, second % 60), tzinfo=LONDON)
        return local.astimezone(UTC)

    def _day(self, d: date, rates: _Rates) -> list[_Slot]:
        """The day's submissions in time order: each source's at its hours, and some days a burst."""
        rng = self.rng
        slots: list[_Slot] = []
        weights = [
            r * day_factor(s.timing, d) / rates.means[s.timing]
            for s, r in zip(SOURCES, rates.sources, strict=True)
        ]
        police = rates.police * day_factor("police", d) / rates.means["police"]
        total = sum(weights) + police
        for _ in range(_poisson(rng, total)):
            police_now = rng.random() * total < police
            source = POLICE if police_now else rng.choices(SOURCES, weights=weights)[0]
            slots.append((self._moment(d, source.timing), len(slots), source, False))
        for at in self._burst(d, rates.burst_chance):
            slots.append((at, len(slots), POLICE, True))
        slots.sort(key=lambda slot: (slot[0], slot[1]))
        return slots

    def _burst(self, d: date, chance: float) -> list[datetime]:
        """The times of the police domestic-abuse notifications batched on day `d`, if any."""
        config, rng = self.config, self.rng
        # Bursts cluster on Mondays (the weekend's notifications) and around Christmas.
        factor = (2.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5)[d.weekday()]
        if (d.month, d.day) >= (12, 24) or (d.month, d.day) <= (1, 2):
            factor *= 1.8
        if rng.random() >= min(1.0, chance * factor):
            return []
        if d.weekday() < 5 and rng.random() < 0.7:
            begin = datetime.combine(d, time(7, 30), tzinfo=LONDON).astimezone(UTC)
            begin += timedelta(minutes=rng.randrange(180))
        else:
            begin = self._moment(d, "police")
        # The whole burst stays on its day, so each day's lines can be sorted on their own.
        day_end = datetime.combine(d + timedelta(days=1), time(0, 0), tzinfo=LONDON).astimezone(UTC)
        begin = min(begin, day_end - timedelta(minutes=config.burst_minutes))
        # Each at its own second: two notifications about one child at one instant
        # would leave the order between them, and so the figures, to chance.
        seconds = config.burst_minutes * 60
        count = min(seconds, rng.randint(config.burst_min, config.burst_max))
        return [begin + timedelta(seconds=offset) for offset in rng.sample(range(seconds), count)]

    def run(self) -> Iterator[Line]:
        config = self.config
        days = [config.start + timedelta(days=i) for i in range(config.days)]
        rates = _Rates.of(config, days)
        for d in days:
            for at, _, source, burst in self._day(d, rates):
                if not config.start_at <= at < config.end_at:
                    continue
                yield from self._drain(at, CONTACT)
                yield self._contact(at, source, burst)
        # Whatever falls after the window is left out: those contacts are still waiting, those
        # cases still open, at the end of the run.
        yield from self._drain(config.end_at, OUTCOME)


def simulate(config: SimulationConfig, ruleset: Ruleset | None = None) -> Iterator[Line]:
    """Replay lines for `config`, in event-time order. `ruleset` defaults to the shipped one."""
    return _Simulation(config, ruleset or load_ruleset()).run()
