"""What `mash simulate` simulates: the council's size, the run's window, and the shares that shape
the partners' contacts, the case system's outcomes and the people's decisions."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

# Shares that must be probabilities.
_SHARES = (
    "burst_share",
    "repeat_share",
    "nhs_known_share",
    "return_after_closure",
    "nfa_share",
    "plan_share",
    "plan_share_again",
    "return_after_plan",
    "late_share",
    "undecided_share",
    "change_share",
    "raise_share",
    "imm_share",
)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Every default is a national figure or a documented guess (see mash.simulate)."""

    seed: int = 1
    children: int = 5000
    days: int = 730
    # The start of a statutory year, so a two-year run gives two whole years of figures.
    start: date = date(2024, 4, 1)
    contacts_per_day: float | None = None
    police_share: float = 0.25
    # Share of police contacts that arrive in domestic-abuse bursts, and the shape of a burst.
    burst_share: float = 0.25
    burst_min: int = 4
    burst_max: int = 10
    burst_minutes: int = 10
    # Share of contacts about a child who had a contact in the last 90 days, besides the
    # repeats that heavy-tailed family weights give anyway.
    repeat_share: float = 0.08
    nhs_known_share: float = 0.8
    # After a case closes: the chance concerns come back, and the mean wait for them (days).
    return_after_closure: float = 0.1
    return_mean_days: float = 110.0
    nfa_share: float = 0.4  # of referrals that lead to no plan: about 40% of all closures
    plan_share: float = 0.3  # of referrals decided at level 4 (or to a strategy discussion)
    plan_share_again: float = 0.6  # of those, for a child who had a plan before
    return_after_plan: float = 0.7
    # The people. Of the contacts a coordinator decides: the share decided after the RAG
    # target, and the share that changes the recommended level by one (of those, the share
    # that raises it; lowering a level 4 waits for a manager's sign-off).
    late_share: float = 0.06
    change_share: float = 0.12
    raise_share: float = 0.5
    # Contacts nobody decides within the run: lost in the queue, and counted as waiting.
    undecided_share: float = 0.005
    # Level 2-3 contacts the integrated mid-day meeting decides instead of a coordinator.
    imm_share: float = 0.15

    def __post_init__(self) -> None:
        if self.children < 50:
            raise ValueError("children must be at least 50")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 0 <= self.police_share < 1:
            raise ValueError("police_share must be in [0, 1)")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        wrong = [name for name in _SHARES if not 0 <= values[name] <= 1]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} must be in [0, 1]")
        if not 1 <= self.burst_min <= self.burst_max:
            raise ValueError("burst_min must be at least 1 and at most burst_max")
        if self.contacts_per_day is not None and self.contacts_per_day <= 0:
            raise ValueError("contacts_per_day must be positive")

    @property
    def per_day(self) -> float:
        return self.contacts_per_day if self.contacts_per_day is not None else self.children / 365

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0, 0), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """The end of the window, exclusive."""
        return self.start_at + timedelta(days=self.days)
