"""The children of a simulated council, their families, and who a contact is about.

Built once from the generator's `random.Random`, before the first day: families of one to four
children sharing a family name, each family with a heavy-tailed weight (a few come to notice
again and again), ~`nhs_known_share` of the children with a fictional NHS number. A contact's
subject is, in turn: a child whose concerns came back after a case closed, a child seen in the
last 90 days (`repeat_share`), or a child drawn by family weight; always one of an age the
source sees.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mash.domain.contact import Child
from mash.domain.identity import child_identity
from mash.simulate.catalogue import FAMILY_A, FAMILY_B, GIVEN_A, GIVEN_B, fictional_nhs_number
from mash.simulate.config import SimulationConfig


def age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


@dataclass
class Kid:
    given: str
    family: int
    dob: date
    sex: str
    nhs: str | None


@dataclass
class Family:
    name: str
    members: list[int]


@dataclass(order=True)
class Return:
    """Concerns about a child coming back after a case closed (not written: it picks a subject)."""

    at: datetime
    seq: int
    kid: int = field(compare=False)
    plan_case: bool = field(compare=False)


class Population:
    """Every child who may come to notice, by index (`kid`), and who came to notice lately."""

    def __init__(self, rng: random.Random, config: SimulationConfig) -> None:
        self.rng = rng
        self.config = config
        self.kids: list[Kid] = []
        self.families: list[Family] = []
        self.returns: list[Return] = []  # by time: the longest overdue is served first
        self.recent: deque[tuple[datetime, int]] = deque()
        self._returns_seq = 0
        self._identities: dict[tuple[int, bool], tuple[dict[str, Any], str]] = {}
        self._populate()

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
                kid = Kid(
                    given=given,
                    family=fam,
                    dob=earliest + timedelta(days=rng.randrange(span)),
                    sex=rng.choice(("female", "male")),
                    nhs=nhs,
                )
                members.append(len(self.kids))
                self.kids.append(kid)
                weights.append(weight)
            self.families.append(Family(name=name, members=members))
        self.cum_weights = [0.0] * len(weights)
        total = 0.0
        for i, w in enumerate(weights):
            total += w
            self.cum_weights[i] = total
        self.by_dob = sorted((kid.dob, i) for i, kid in enumerate(self.kids))

    def age(self, kid: int, on: date) -> int:
        return age(self.kids[kid].dob, on)

    def identity(self, kid: int, unborn: bool) -> tuple[dict[str, Any], str]:
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

    def eligible(self, kid: int, on: date, ages: tuple[int, int]) -> bool:
        # Born before the (local) day of the contact, so the date of birth is never after it in UTC.
        dob = self.kids[kid].dob
        return dob < on and ages[0] <= age(dob, on) <= ages[1]

    def _pick_weighted(self) -> int:
        return self.rng.choices(range(len(self.kids)), cum_weights=self.cum_weights)[0]

    def pick(self, ages: tuple[int, int], at: datetime, on: date) -> tuple[int, Return | None]:
        """The subject of a contact from a source that sees children of `ages`, and the return
        it serves when concerns came back."""
        i = 0
        while i < len(self.returns) and self.returns[i].at <= at:
            due = self.returns[i]
            kid = due.kid
            if self.eligible(kid, on, ages):
                del self.returns[i]
                return kid, due
            if self.age(kid, on) > 17:  # grown up: no longer a children's services contact
                del self.returns[i]
            else:
                i += 1
        since = at - timedelta(days=90)
        while self.recent and self.recent[0][0] < since:
            self.recent.popleft()
        if self.recent and self.rng.random() < self.config.repeat_share:
            for _ in range(5):
                kid = self.rng.choice(self.recent)[1]
                if self.eligible(kid, on, ages):
                    return kid, None
        for _ in range(50):
            kid = self._pick_weighted()
            if self.eligible(kid, on, ages):
                return kid, None
        return self.rng.choice([i for i in range(len(self.kids)) if self.eligible(i, on, (0, 17))]), None

    def pick_unborn(self, on: date) -> int | None:
        """A child due within about five months of `on`, named before birth; None if there is none."""
        lo = bisect.bisect_right(self.by_dob, (on, len(self.kids)))
        hi = bisect.bisect_right(self.by_dob, (on + timedelta(days=150), len(self.kids)))
        return self.by_dob[self.rng.randrange(lo, hi)][1] if hi > lo else None

    def siblings(self, kid: int, on: date, ages: tuple[int, int], chance: float) -> list[int]:
        """`kid`, and with `chance` one or two brothers or sisters of `ages` named with them."""
        if self.rng.random() >= chance:
            return [kid]
        others = [
            m for m in self.families[self.kids[kid].family].members if m != kid and self.eligible(m, on, ages)
        ]
        self.rng.shuffle(others)
        return [kid, *others[: self.rng.choice((1, 1, 2))]]

    def seen(self, at: datetime, kid: int) -> None:
        """A contact about `kid` at `at`: a candidate for a repeat contact in the next 90 days."""
        self.recent.append((at, kid))

    def comes_back(self, at: datetime, kid: int, plan_case: bool) -> None:
        """Concerns about `kid` will come back at `at`, after a case (with a plan, or not) closed."""
        self._returns_seq += 1
        bisect.insort(self.returns, Return(at, self._returns_seq, kid, plan_case))
