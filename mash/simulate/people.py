"""The people of a simulated MASH: who decides a contact, what, and when.

Pure: every choice is drawn from the generator's `random.Random`, every time comes from the
service's own working calendar (mash.domain.calendar), so a seed still gives the same file.

- A coordinator decides within working hours, at a delay set by the recommendation's RAG:
  a red contact within its 4 clock hours (out of hours too: the duty team), an amber one within
  a working day, a green or blue one within three; `late_share` of them miss the target.
- Most confirm the recommendation, naming its level and RAG; `change_share` change it by one
  level. A coordinator's lowering of a level 4 waits for a manager, who signs it off a little
  later: the contact is decided then.
- `imm_share` of the level 2-3 contacts not linked to an open case are decided at the
  integrated mid-day meeting instead, recorded at 12:30 on the day of the first meeting whose
  agenda (frozen at 11:30) could list them.
- `undecided_share` are never decided in the run: they fell through the cracks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from mash.domain.calendar import DEFAULT_CALENDAR, add_working_time, is_working_time, next_working_day
from mash.domain.contact import ConsentReason, ConsentStatus
from mash.domain.decisions import NEEDS_CONSENT, ConsentBasis, DecisionAction, ImmOutcome, PartnerAgency, Role
from mash.domain.imm import DEFAULT_CUTOFF, meeting_id
from mash.domain.ruleset import Rag, Route, Ruleset
from mash.domain.screening import Screening
from mash.simulate.config import SimulationConfig

# Who decides: the MASH's coordinators and managers, and the integrated mid-day meeting.
COORDINATORS: Final = tuple(f"coordinator-{n}" for n in range(1, 9))
MANAGERS: Final = tuple(f"manager-{n}" for n in range(1, 4))

# What the meeting agrees for a case at each level it discusses, and how often: most level 2
# cases go to early help, most level 3 cases to a social care assessment.
IMM_OUTCOMES: Final[Mapping[int, tuple[tuple[ImmOutcome, float], ...]]] = {
    2: (
        (ImmOutcome.EARLY_HELP, 0.6),
        (ImmOutcome.SINGLE_AGENCY, 0.15),
        (ImmOutcome.ADVICE_SIGNPOST, 0.15),
        (ImmOutcome.NFA, 0.1),
    ),
    3: (
        (ImmOutcome.CSC_ASSESSMENT, 0.7),
        (ImmOutcome.EARLY_HELP, 0.18),
        (ImmOutcome.STRATEGY_DISCUSSION, 0.05),
        (ImmOutcome.SINGLE_AGENCY, 0.07),
    ),
}
# The agency a single-agency outcome names, and who leads it.
SINGLE_AGENCIES: Final[tuple[tuple[str, PartnerAgency], ...]] = (
    ("School nursing service", PartnerAgency.HEALTH),
    ("CAMHS", PartnerAgency.HEALTH),
    ("Education welfare service", PartnerAgency.EDUCATION),
    ("Youth service", PartnerAgency.EARLY_HELP),
    ("Youth justice service", PartnerAgency.YOUTH_JUSTICE),
)
LEAD_AGENCY: Final[Mapping[ImmOutcome, PartnerAgency]] = {
    ImmOutcome.EARLY_HELP: PartnerAgency.EARLY_HELP,
    ImmOutcome.CSC_ASSESSMENT: PartnerAgency.CHILDRENS_SOCIAL_CARE,
    ImmOutcome.STRATEGY_DISCUSSION: PartnerAgency.CHILDRENS_SOCIAL_CARE,
}
# With no service to offer, the agency that raised the concern keeps the lead.
REFERRING_AGENCY: Final[Mapping[str, PartnerAgency]] = {
    "police": PartnerAgency.POLICE,
    "school": PartnerAgency.EDUCATION,
    "health": PartnerAgency.HEALTH,
    "early-help": PartnerAgency.EARLY_HELP,
}

WORKING_DAY = DEFAULT_CALENDAR.working_day_seconds
# The meeting starts at 12:00; its outcomes are recorded once it ends.
IMM_RECORDED = time(12, 30)

_IMM_ROUTE = {
    ImmOutcome.NFA: Route.UNIVERSAL,
    ImmOutcome.ADVICE_SIGNPOST: Route.UNIVERSAL,
    ImmOutcome.EARLY_HELP: Route.EARLY_HELP,
    ImmOutcome.SINGLE_AGENCY: Route.SINGLE_AGENCY,
    ImmOutcome.CSC_ASSESSMENT: Route.SOCIAL_CARE,
    ImmOutcome.STRATEGY_DISCUSSION: Route.SOCIAL_CARE,
}


@dataclass(frozen=True)
class Step:
    """One decision to write: when, by whom, what it says, and where it leaves the contact.

    `decides` marks the step that decides the contact (a change waiting for sign-off does
    not); `level` and `route` are what is in force once it applies."""

    at: datetime
    action: DecisionAction
    by: str
    role: Role
    rationale: str
    level: int
    route: Route
    decides: bool
    rag: Rag | None = None  # confirm and change only
    signs_off_previous: bool = False
    imm: dict[str, str] | None = None  # imm_outcome only: the meeting's fields

    @property
    def s47(self) -> bool:
        """Significant harm: a child protection enquiry, which may lead to a plan."""
        outcome = self.imm["outcome"] if self.imm else None
        return outcome == ImmOutcome.STRATEGY_DISCUSSION.value or (outcome is None and self.level == 4)


@dataclass(frozen=True)
class Waiting:
    """What a person sees of a contact waiting for them."""

    at: datetime
    screening: Screening
    linked: bool  # about a child whose case is open: it goes to the allocated worker
    agency: str
    consent: ConsentStatus | None
    consent_reason: ConsentReason | None


def _whole_seconds(at: datetime) -> datetime:
    # The file carries whole seconds: what the service reads must be what the generator used.
    return at.replace(microsecond=0)


def after_working_time(at: datetime, days: float) -> datetime:
    """`days` working days after `at`, inside working hours (never on 17:00 itself)."""
    later = add_working_time(at, max(60, round(days * WORKING_DAY)), DEFAULT_CALENDAR)
    if not is_working_time(later, DEFAULT_CALENDAR):
        later -= timedelta(minutes=1)  # a delay that used up a day exactly ends at 17:00
    return _whole_seconds(later)


def imm_meeting_day(at: datetime) -> date:
    """The first meeting whose agenda could list a contact received at `at`: today's if its
    agenda is frozen (11:30) after `at`, otherwise the next working day's."""
    local = at.astimezone(DEFAULT_CALENDAR.zone)
    if DEFAULT_CALENDAR.is_working_day(local.date()) and local.time() < DEFAULT_CUTOFF:
        return local.date()
    return next_working_day(local.date(), DEFAULT_CALENDAR)


class People:
    def __init__(self, rng: random.Random, config: SimulationConfig, ruleset: Ruleset) -> None:
        self.rng = rng
        self.config = config
        self.ruleset = ruleset

    def decide(self, waiting: Waiting) -> list[Step]:
        """The decisions about one contact that waits for a person, in time order; none if it
        is never decided."""
        rng, config = self.rng, self.config
        if rng.random() < config.undecided_share:
            return []
        level = waiting.screening.level
        if level in IMM_OUTCOMES and not waiting.linked and rng.random() < config.imm_share:
            return [self._imm(waiting)]
        return self._coordinator(waiting)

    # -- a coordinator ----------------------------------------------------------------------------

    def _delay(self, at: datetime, rag: Rag, late: bool) -> datetime:
        rng = self.rng
        if rag is Rag.RED:
            # Worked round the clock; most within the 4 hours, the late ones within the night.
            minutes = (
                rng.uniform(245, 720)
                if late
                else min(235.0, max(10.0, rng.lognormvariate(math.log(70), 0.6)))
            )
            return _whole_seconds(at + timedelta(seconds=round(minutes * 60)))
        if rag is Rag.AMBER:
            days = rng.uniform(1.02, 2.5) if late else rng.triangular(0.05, 0.98, 0.3)
        elif rag is Rag.GREEN and late:
            days = rng.uniform(3.02, 6.0)
        else:
            # Most the same or the next working day; the rest (and blue, which has no
            # target) before the three working days are up.
            days = rng.uniform(0.05, 0.98) if rng.random() < 0.7 else rng.uniform(1.0, 2.95)
        return after_working_time(at, days)

    def _coordinator(self, waiting: Waiting) -> list[Step]:
        rng, config, ruleset = self.rng, self.config, self.ruleset
        screening = waiting.screening
        late = rng.random() < config.late_share
        at = self._delay(waiting.at, screening.rag, late)
        by = rng.choice(COORDINATORS)
        level = screening.level
        if rng.random() >= config.change_share:
            rationale = f"[simulated] Agreed with the screening: level {level}, {screening.rag.value}."
            route = ruleset.routes[level].route
            confirm = Step(at, DecisionAction.CONFIRM, by, Role.COORDINATOR, rationale, level, route,
                           decides=True, rag=screening.rag)  # fmt: skip
            return [confirm]
        up = level == 1 or (level < 4 and rng.random() < config.raise_share)
        to = level + 1 if up else level - 1
        rag = ruleset.rag[to]
        route = ruleset.routes[to].route
        if up:
            why = "the referrer's call back added to the concern"
        else:
            why = "checks with partners showed the family is already getting support"
        rationale = f"[simulated] {'Raised' if up else 'Lowered'} to level {to}: {why}."
        # Lowering a level 4 is only a proposal until a manager signs it off.
        waits = level == 4
        change = Step(at, DecisionAction.CHANGE, by, Role.COORDINATOR, rationale, to, route,
                      decides=not waits, rag=rag)  # fmt: skip
        if not waits:
            return [change]
        # A manager on duty signs off lowering a level 4, within the red target mostly.
        signed = _whole_seconds(at + timedelta(minutes=rng.uniform(10, 90)))
        sign_off = Step(
            signed,
            DecisionAction.SIGN_OFF,
            rng.choice(MANAGERS),
            Role.MANAGER,
            f"[simulated] Signed off: level {to} is safe for this child.",
            to,
            route,
            decides=True,
            signs_off_previous=True,
        )
        return [change, sign_off]

    # -- the integrated mid-day meeting -----------------------------------------------------------

    def _imm(self, waiting: Waiting) -> Step:
        rng = self.rng
        level = waiting.screening.level
        outcomes, weights = zip(*IMM_OUTCOMES[level], strict=True)
        outcome: ImmOutcome = rng.choices(outcomes, weights=weights)[0]
        day = imm_meeting_day(waiting.at)
        recorded = datetime.combine(day, IMM_RECORDED, tzinfo=DEFAULT_CALENDAR.zone).astimezone(UTC)
        recorded += timedelta(seconds=rng.randrange(20 * 60))
        fields: dict[str, str] = {"meeting_id": meeting_id(day), "outcome": outcome.value}
        if outcome is ImmOutcome.SINGLE_AGENCY:
            name, lead = rng.choice(SINGLE_AGENCIES)
            fields["single_agency_name"] = name
        else:
            lead = LEAD_AGENCY.get(outcome, REFERRING_AGENCY[waiting.agency])
        fields["lead_agency"] = lead.value
        fields["consent_basis"] = self._consent_basis(outcome, waiting).value
        return Step(
            recorded,
            DecisionAction.IMM_OUTCOME,
            rng.choice(COORDINATORS),
            Role.COORDINATOR,
            f"[simulated] Agreed at the integrated mid-day meeting: {outcome.value.replace('_', ' ')}.",
            level,
            _IMM_ROUTE[outcome],
            decides=True,
            imm=fields,
        )

    def _consent_basis(self, outcome: ImmOutcome, waiting: Waiting) -> ConsentBasis:
        if outcome is ImmOutcome.STRATEGY_DISCUSSION:
            return ConsentBasis.SIGNIFICANT_HARM
        if outcome not in NEEDS_CONSENT:
            return ConsentBasis.NOT_REQUIRED
        if waiting.consent is not ConsentStatus.GIVEN and waiting.consent_reason is not None:
            return ConsentBasis(waiting.consent_reason.value)
        # Otherwise the meeting asks the family, who agree to the help offered.
        return ConsentBasis.GIVEN
