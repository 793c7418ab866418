"""The generator: a council's front door, day by day, as replay lines in event-time order.

Pure: it draws only from `random.Random(config.seed)` and never reads the clock. Per child it
keeps what the service would know (earlier contacts with their own levels, plans, an open
case), screens each contact with the service's own `screen` under that knowledge, has the
people decide (mash.simulate.people) and lets the case system follow the decisions. Pending
events wait in one queue ordered as the service orders a child's events at the same instant
(outcome, then contact, then decision), so the file is in event-time order.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.contact import Child, CinSource, ConsentReason, ConsentStatus
from mash.domain.decisions import DecisionAction
from mash.domain.identity import child_identity
from mash.domain.outcomes import OutcomeType
from mash.domain.ruleset import Route, Ruleset, load_ruleset
from mash.domain.screening import EarlierContact, Known, Plan, screen
from mash.simulate.catalogue import (
    BURST_MARAC_SHARE,
    BURST_SIBLINGS,
    FAMILY_A,
    FAMILY_B,
    GIVEN_A,
    GIVEN_B,
    HOURS,
    HOUSEHOLD,
    INDICATORS,
    OUTCOME_AGENCY,
    POLICE,
    RETURN_AFTER_PLAN_LEVELS,
    RETURN_LEVELS,
    SOURCES,
    SPECIFIED_HARM,
    TOXIC_TRIO,
    UNBORN_CHANCE,
    Source,
    day_factor,
    fictional_nhs_number,
)
from mash.simulate.config import SimulationConfig
from mash.simulate.people import People, Step, Waiting

Line = dict[str, Any]

LONDON = DEFAULT_CALENDAR.zone
# A child's events at one instant, in the order the service applies them (mash.domain.timeline).
OUTCOME, DECISION = 0, 2
CONTACT = 1


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


# ---------------------------------------------------------------------------------------------
# The population, and what the service knows of each child.


@dataclass
class _Kid:
    given: str
    family: int
    dob: date
    sex: str
    nhs: str | None


@dataclass
class _Family:
    name: str
    members: list[int]


@dataclass
class _Record:
    """What the service knows of one child identity, by event time, as mash.domain.derive
    keeps it: so the people's decisions and the case system's outcomes fit the service's view."""

    earlier: list[EarlierContact] = field(default_factory=list)
    plans: dict[str, Plan] = field(default_factory=dict)  # by the case system's plan id, in order
    open_case: bool = False  # opened by a referral's decision, closed by the case system

    def known(self) -> Known:
        return Known(tuple(self.earlier), self.open_case, tuple(self.plans.values()))


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
class _Outcome:
    type: OutcomeType
    kid: int
    child: dict[str, Any]
    identity: str
    nfa: bool = False
    plan_case: bool = False  # the case had a child protection plan
    plan_id: str | None = None


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
    item: _Outcome | _Decision = field(compare=False)


@dataclass(order=True)
class _Return:
    """Concerns about a child coming back after a case closed (not written: it picks a subject)."""

    at: datetime
    seq: int
    kid: int = field(compare=False)
    plan_case: bool = field(compare=False)


class _Simulation:
    def __init__(self, config: SimulationConfig, ruleset: Ruleset) -> None:
        self.config = config
        self.ruleset = ruleset
        self.rng = random.Random(config.seed)
        self.people = People(self.rng, config, ruleset)
        self.kids: list[_Kid] = []
        self.families: list[_Family] = []
        self.records: dict[str, _Record] = {}
        self.pending: list[_Pending] = []
        self.returns: list[_Return] = []
        self.recent: deque[tuple[datetime, int]] = deque()
        self.seq = 0
        self.submissions = 0
        self.outcomes = 0
        self.decisions = 0
        self.plans = 0
        self._identities: dict[tuple[int, bool], tuple[dict[str, Any], str]] = {}
        self._populate()

    # -- population ---------------------------------------------------------------------------

    def _populate(self) -> None:
        rng, config = self.rng, self.config
        earliest = config.start - timedelta(days=18 * 365 + 5)
        span = (config.start + timedelta(days=config.days) - earliest).days
        weights: list[float] = []
        used_nhs: set[str] = set()
        while len(self.kids) < config.children:
            size = rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8))[0]
            size = min(size, config.children - len(self.kids))
            fam = len(self.families)
            name = rng.choice(FAMILY_A) + rng.choice(FAMILY_B)
            # Heavy-tailed: a few families come to notice again and again.
            weight = rng.lognormvariate(0.0, 0.4)
            givens: set[str] = set()
            members: list[int] = []
            for _ in range(size):
                given = rng.choice(GIVEN_A) + rng.choice(GIVEN_B)
                while given in givens:
                    given = rng.choice(GIVEN_A) + rng.choice(GIVEN_B)
                givens.add(given)
                nhs = None
                if rng.random() < config.nhs_known_share:
                    nhs = fictional_nhs_number(rng)
                    while nhs in used_nhs:
                        nhs = fictional_nhs_number(rng)
                    used_nhs.add(nhs)
                kid = _Kid(
                    given=given,
                    family=fam,
                    dob=earliest + timedelta(days=rng.randrange(span)),
                    sex=rng.choice(("female", "male")),
                    nhs=nhs,
                )
                members.append(len(self.kids))
                self.kids.append(kid)
                weights.append(weight)
            self.families.append(_Family(name=name, members=members))
        self.cum_weights = [0.0] * len(weights)
        total = 0.0
        for i, w in enumerate(weights):
            total += w
            self.cum_weights[i] = total
        self.by_dob = sorted((kid.dob, i) for i, kid in enumerate(self.kids))

    def _identity(self, kid: int, unborn: bool) -> tuple[dict[str, Any], str]:
        """The child as a partner names them, and the identity the service will key them by."""
        cached = self._identities.get((kid, unborn))
        if cached is not None:
            return cached
        k = self.kids[kid]
        family = self.families[k.family].name
        child: dict[str, Any]
        if unborn:
            child = {"unborn": True, "expected_date": k.dob.isoformat(), "given_name": "Unborn"}
            child["family_name"] = family
        else:
            child = {"given_name": k.given, "family_name": family, "date_of_birth": k.dob.isoformat()}
            if k.nhs is not None:
                child["nhs_number"] = k.nhs
            child["sex"] = k.sex
        made = (child, child_identity(Child.model_validate(child)))
        self._identities[(kid, unborn)] = made
        return made

    def _eligible(self, kid: int, on: date, ages: tuple[int, int]) -> bool:
        # Born before the (local) day of the contact, so the date of birth is never after it in UTC.
        dob = self.kids[kid].dob
        return dob < on and ages[0] <= _age(dob, on) <= ages[1]

    def _pick_weighted(self) -> int:
        return self.rng.choices(range(len(self.kids)), cum_weights=self.cum_weights)[0]

    def _pick(self, source: Source, at: datetime, on: date) -> tuple[int, _Return | None]:
        """The subject of a contact, and the return it serves when concerns came back."""
        # Returns are kept sorted by time: the longest overdue is served first.
        i = 0
        while i < len(self.returns) and self.returns[i].at <= at:
            due = self.returns[i]
            kid = due.kid
            if self._eligible(kid, on, source.ages):
                del self.returns[i]
                return kid, due
            if _age(self.kids[kid].dob, on) > 17:  # grown up: no longer a children's services contact
                del self.returns[i]
            else:
                i += 1
        since = at - timedelta(days=90)
        while self.recent and self.recent[0][0] < since:
            self.recent.popleft()
        if self.recent and self.rng.random() < self.config.repeat_share:
            for _ in range(5):
                kid = self.rng.choice(self.recent)[1]
                if self._eligible(kid, on, source.ages):
                    return kid, None
        for _ in range(50):
            kid = self._pick_weighted()
            if self._eligible(kid, on, source.ages):
                return kid, None
        return self.rng.choice([i for i in range(len(self.kids)) if self._eligible(i, on, (0, 17))]), None

    def _pick_unborn(self, on: date) -> int | None:
        lo = bisect.bisect_right(self.by_dob, (on, len(self.kids)))
        hi = bisect.bisect_right(self.by_dob, (on + timedelta(days=150), len(self.kids)))
        return self.by_dob[self.rng.randrange(lo, hi)][1] if hi > lo else None

    def _siblings(self, kid: int, on: date, ages: tuple[int, int], chance: float) -> list[int]:
        if self.rng.random() >= chance:
            return [kid]
        others = [
            m
            for m in self.families[self.kids[kid].family].members
            if m != kid and self._eligible(m, on, ages)
        ]
        self.rng.shuffle(others)
        return [kid, *others[: self.rng.choice((1, 1, 2))]]

    # -- what a partner reports ---------------------------------------------------------------

    def _level(self, weights: Sequence[float]) -> int:
        return self.rng.choices((1, 2, 3, 4), weights=weights)[0]

    def _fits(self, code: str, ages: Sequence[int], household: bool) -> bool:
        _, lo, hi, whole = INDICATORS[code]
        return (whole or not household) and all(lo <= a <= hi for a in ages)

    def _indicators(self, source: Source, level: int, ages: Sequence[int]) -> list[str]:
        rng = self.rng
        household = len(ages) > 1
        if level == 1:
            return ["no_unmet_needs"]
        if level == 4 and source.code in (CinSource.POLICE, CinSource.LA_EARLY_HELP) and rng.random() < 0.08:
            return list(TOXIC_TRIO)

        def choose(lv: int, exclude: Sequence[str] = ()) -> str | None:
            pool = [
                c for c in source.indicators[lv - 2] if c not in exclude and self._fits(c, ages, household)
            ]
            if not pool:
                pool = [c for c in HOUSEHOLD[lv] if c not in exclude]
            return rng.choice(pool) if pool else None

        main = choose(level)
        assert main is not None
        codes = [main]
        # A second concern is common; never three at level 2+, which would be a combination rule.
        extra_level = {2: 2, 3: 2, 4: 3}[level]
        if rng.random() < 0.3:
            extra = choose(extra_level, codes)
            if extra is not None:
                codes.append(extra)
        if set(TOXIC_TRIO) <= set(codes):
            codes = codes[:1]
        return codes

    def _consent(self, level: int, codes: Sequence[str], police: bool) -> dict[str, str]:
        rng = self.rng
        roll = rng.random()
        if level == 4:
            reason = (
                ConsentReason.SPECIFIED_HARM
                if SPECIFIED_HARM.intersection(codes) and rng.random() < 0.5
                else ConsentReason.SIGNIFICANT_HARM
            )
            if roll < 0.7:
                return {"status": ConsentStatus.NOT_SOUGHT.value, "reason": reason.value}
            if roll < 0.75:
                return {"status": ConsentStatus.REFUSED.value, "reason": reason.value}
            return {"status": ConsentStatus.GIVEN.value}
        not_sought, refused = {1: (0.04, 0.0), 2: (0.05, 0.06), 3: (0.12, 0.1)}[level]
        if police:
            not_sought *= 3
        if roll < not_sought:
            # Now and then a partner shares without consent and records no reason: the
            # service accepts it and flags it (where consent matters, at levels 2 and 3).
            if level in (2, 3) and rng.random() < 0.2:
                return {"status": ConsentStatus.NOT_SOUGHT.value}
            reasons = (
                (ConsentReason.SERIOUS_CRIME, ConsentReason.INCREASES_RISK)
                if police
                else (ConsentReason.INCREASES_RISK, ConsentReason.HARMFUL_DELAY)
            )
            return {"status": ConsentStatus.NOT_SOUGHT.value, "reason": rng.choice(reasons).value}
        if roll < not_sought + refused:
            reason = rng.choice((ConsentReason.HARMFUL_DELAY, ConsentReason.INCREASES_RISK))
            return {"status": ConsentStatus.REFUSED.value, "reason": reason.value}
        return {"status": ConsentStatus.GIVEN.value}

    def _referrer(self, source: Source) -> dict[str, str]:
        rng = self.rng
        given = rng.choice(GIVEN_A) + rng.choice(GIVEN_B)
        family = rng.choice(FAMILY_A) + rng.choice(FAMILY_B)
        role = rng.choice(source.roles)
        if source.code is CinSource.ANONYMOUS:
            # No name and no number: nobody can call an anonymous caller back.
            return {"name": "Anonymous caller", "role": role}
        name = f"PC {given} {family}" if role == "police officer" else f"{given} {family}"
        referrer = {"name": name, "role": role}
        if source.timing == "public" and rng.random() < 0.05:
            return referrer  # a member of the public who left no number
        if rng.random() < 0.6:
            referrer["email"] = f"{given}.{family}@{source.domain}".lower()
        else:
            referrer["phone"] = f"01632 960{rng.randrange(1, 1000):03d}"
        return referrer

    def _narrative(self, codes: Sequence[str], burst: bool) -> str:
        catalogue = self.ruleset.catalogue
        said = "; ".join(catalogue[c].description for c in codes if c in catalogue)
        lead = "Police domestic abuse notification" if burst else "Concern reported"
        return f"[simulated] {lead}: {said}."

    # -- the queue of what happens later ------------------------------------------------------

    def _schedule(self, at: datetime, rank: int, item: _Outcome | _Decision) -> None:
        self.seq += 1
        heapq.heappush(self.pending, _Pending(at, rank, self.seq, item))

    def _drain(self, until: datetime, rank: int) -> Iterator[Line]:
        """Every pending event before (`until`, `rank`): before a contact at `until`, the
        outcomes at that instant come first and the decisions after it."""
        while self.pending and (self.pending[0].at, self.pending[0].rank) < (until, rank):
            pending = heapq.heappop(self.pending)
            if isinstance(pending.item, _Outcome):
                yield self._apply_outcome(pending.at, pending.item)
            else:
                yield self._apply_decision(pending.at, pending.item)

    # -- the case system ------------------------------------------------------------------------

    def _office_time(self, after: datetime, days: float) -> datetime:
        """A working-hours moment about `days` after `after`: when a social worker records an outcome."""
        d = (after + timedelta(days=days)).astimezone(LONDON).date()
        while not DEFAULT_CALENDAR.is_working_day(d):
            d += timedelta(days=1)
        minute = self.rng.randrange(9 * 60, 17 * 60 + 30)
        return datetime.combine(d, time(minute // 60, minute % 60), tzinfo=LONDON).astimezone(UTC)

    def _open_case(self, at: datetime, subject: _Subject, s47: bool) -> None:
        """A referral opened the child's case at `at`, its decision: what the case system does next."""
        rng, config = self.rng, self.config
        record = self.records[subject.identity]
        record.open_case = True
        kid, child, identity = subject.kid, subject.child, subject.identity
        chance = config.plan_share_again if record.plans else config.plan_share
        if s47 and rng.random() < chance:
            # Conference within 15 working days of the strategy discussion; plans last months.
            started = self._office_time(at, rng.uniform(14, 35))
            ended = self._office_time(started, min(600.0, max(90.0, rng.lognormvariate(math.log(240), 0.45))))
            closed = self._office_time(ended, rng.uniform(14, 90))
            self.plans += 1
            plan_id = f"SIM-{config.seed}-P{self.plans:06d}"
            started_item = _Outcome(OutcomeType.CP_PLAN_STARTED, kid, child, identity, plan_id=plan_id)
            self._schedule(started, OUTCOME, started_item)
            self._schedule(
                ended, OUTCOME, _Outcome(OutcomeType.CP_PLAN_ENDED, kid, child, identity, plan_id=plan_id)
            )
            self._schedule(
                closed, OUTCOME, _Outcome(OutcomeType.CASE_CLOSED, kid, child, identity, plan_case=True)
            )
        elif rng.random() < config.nfa_share:
            # Assessment within 45 working days, then no further action.
            closed = self._office_time(at, rng.uniform(7, 63))
            self._schedule(closed, OUTCOME, _Outcome(OutcomeType.CASE_CLOSED, kid, child, identity, nfa=True))
        else:
            # Child-in-need work, then closure.
            closed = self._office_time(at, rng.uniform(45, 150))
            self._schedule(closed, OUTCOME, _Outcome(OutcomeType.CASE_CLOSED, kid, child, identity))

    def _apply_outcome(self, at: datetime, item: _Outcome) -> Line:
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
                self.seq += 1
                bisect.insort(
                    self.returns, _Return(at + timedelta(days=wait), self.seq, item.kid, item.plan_case)
                )
        self.outcomes += 1
        event: dict[str, Any] = {
            "type": item.type.value,
            "child": dict(item.child),
            "occurred_at": _stamp(at),
        }
        if item.type is OutcomeType.CASE_CLOSED:
            event["nfa"] = item.nfa
        event["reference"] = f"SIM-{self.config.seed}-O{self.outcomes:06d}"
        if item.plan_id is not None:
            event["plan_id"] = item.plan_id
        return {"kind": "outcome", "agency": OUTCOME_AGENCY, "event": event}

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
            "decided_at": _stamp(at),
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
        record = self.records[subject.identity]
        if step.decides and step.route is Route.SOCIAL_CARE and not subject.linked and not record.open_case:
            self._open_case(at, subject, step.s47)
        return {"kind": "decision", "decision": decision}

    # -- a contact ------------------------------------------------------------------------------

    def _contact(self, at: datetime, source: Source, burst: bool) -> Line:
        rng = self.rng
        on = at.astimezone(LONDON).date()
        returning: _Return | None = None
        unborn = False
        kid: int | None = None
        # Pre-birth concerns come mostly from midwives, some from police and early help.
        if not burst and rng.random() < UNBORN_CHANCE.get(source.code, 0.0):
            kid = self._pick_unborn(on)
            unborn = kid is not None
        if kid is None:
            kid, returning = self._pick(source, at, on)
        if unborn:
            kids = [kid]
            level = 3
            codes = ["unborn_pre_birth_assessment"]
            if rng.random() < 0.5:
                codes.append(rng.choice(TOXIC_TRIO))
        else:
            chance = BURST_SIBLINGS if burst else source.siblings
            kids = self._siblings(kid, on, source.ages, chance)
            ages = [_age(self.kids[k].dob, on) for k in kids]
            if burst:
                level = 4 if rng.random() < BURST_MARAC_SHARE else 3
                codes = ["domestic_abuse_marac" if level == 4 else "domestic_abuse_in_home"]
            else:
                if returning is None:
                    level = self._level(source.levels)
                else:
                    level = self._level(RETURN_AFTER_PLAN_LEVELS if returning.plan_case else RETURN_LEVELS)
                codes = self._indicators(source, level, ages)
        self.submissions += 1
        reference = f"SIM-{self.config.seed}-{self.submissions:06d}"
        consent = self._consent(level, codes, source.code is CinSource.POLICE)
        children: list[dict[str, Any]] = []
        for index, k in enumerate(kids):
            child, identity = self._identity(k, unborn)
            children.append(dict(child))
            record = self.records.setdefault(identity, _Record())
            known = record.known()
            screening = screen(codes, known, at, self.ruleset)
            record.earlier.append(EarlierContact(at, screening.concern_level))
            self.recent.append((at, k))
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
            "received_at": _stamp(at),
            "source": source.code.value,
            "children": children,
            "indicators": codes,
            "narrative": self._narrative(codes, burst),
            "consent": consent,
            "referrer": self._referrer(source),
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

    def _expected_children(self, source: Source) -> float:
        # Only about half of the children have a sibling of a suitable age to name too.
        return 1 + source.siblings * 0.55 * 1.33

    def _moment(self, d: date, timing: str) -> datetime:
        closed = timing in ("office", "school") and not DEFAULT_CALENDAR.is_working_day(d)
        hours = HOURS["closed" if closed else timing]
        hour = self.rng.choices(range(24), weights=hours)[0]
        second = self.rng.randrange(3600)
        local = datetime.combine(d, time(hour, second // 60, second % 60), tzinfo=LONDON)
        return local.astimezone(UTC)

    def run(self) -> Iterator[Line]:
        config, rng = self.config, self.rng
        days = [config.start + timedelta(days=i) for i in range(config.days)]
        non_police = sum(s.share for s in SOURCES)
        per_day = config.per_day
        # Normalise each source's day factors so its mean over the run is its share of volume.
        means = {
            timing: sum(day_factor(timing, d) for d in days) / len(days)
            for timing in {s.timing for s in (*SOURCES, POLICE)}
        }
        rates = [
            (1 - config.police_share) * s.share / non_police * per_day / self._expected_children(s)
            for s in SOURCES
        ]
        police_rate = (
            config.police_share * (1 - config.burst_share) * per_day / self._expected_children(POLICE)
        )
        burst_children = 1 + BURST_SIBLINGS * 0.55 * 1.33
        burst_mean = (config.burst_min + config.burst_max) / 2 * burst_children
        burst_chance = config.police_share * config.burst_share * per_day / burst_mean
        start_at, end_at = config.start_at, config.end_at
        for d in days:
            slots: list[tuple[datetime, int, Source, bool]] = []
            weights = [
                r * day_factor(s.timing, d) / means[s.timing] for s, r in zip(SOURCES, rates, strict=True)
            ]
            police = police_rate * day_factor("police", d) / means["police"]
            total = sum(weights) + police
            for _ in range(_poisson(rng, total)):
                police_now = rng.random() * total < police
                source = POLICE if police_now else rng.choices(SOURCES, weights=weights)[0]
                slots.append((self._moment(d, source.timing), len(slots), source, False))
            # Bursts cluster on Mondays (the weekend's notifications) and around Christmas.
            factor = (2.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5)[d.weekday()]
            if (d.month, d.day) >= (12, 24) or (d.month, d.day) <= (1, 2):
                factor *= 1.8
            if rng.random() < min(1.0, burst_chance * factor):
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
                for offset in rng.sample(range(seconds), count):
                    slots.append((begin + timedelta(seconds=offset), len(slots), POLICE, True))
            slots.sort(key=lambda slot: (slot[0], slot[1]))
            for at, _, source, burst in slots:
                if not start_at <= at < end_at:
                    continue
                yield from self._drain(at, CONTACT)
                yield self._contact(at, source, burst)
        # Whatever falls after the window is left out: those contacts are still waiting, those
        # cases still open, at the end of the run.
        yield from self._drain(end_at, OUTCOME)


def simulate(config: SimulationConfig, ruleset: Ruleset | None = None) -> Iterator[Line]:
    """Replay lines for `config`, in event-time order. `ruleset` defaults to the shipped one."""
    return _Simulation(config, ruleset or load_ruleset()).run()
