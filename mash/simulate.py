"""`mash simulate`: synthetic contacts and outcomes for a council of a given size, for replay.

Everything here is made up, and meant to look it: names are built from nonsense syllables
("Quibix Snibthorpe"), NHS numbers come from the 999 range that is reserved for test data and
never issued to a patient (they still pass the Modulus 11 check), referrers' e-mail addresses
are at `.example` domains and their phone numbers in Ofcom's 01632 960xxx drama range.

The generator is pure: `simulate` draws only from `random.Random(config.seed)` and never
reads the clock, so one seed and one config always give byte-identical lines, in event-time
order (an outcome at the same instant as a contact comes first, as the service orders them).

How the figures in `docs/domain-primer.md` shape the data (national figures for England):

- **Volume.** Referrals run at about 5.4% of all children a year and about 22% of contacts
  convert to a referral, so a council receives about one contact a year for every four of
  its children. `children` is the pool who may come to notice, taken as about a quarter of
  the council's children, so the default is one contact per pool child a year
  (`children / 365` a day): a 5,000-child pool gives ~14 a day, ~5,000 a year.
- **Sources.** Police are the biggest single source, about a quarter of contacts
  (`police_share`); the rest follow the census mix: schools and education ~24%, health ~16%,
  the council's own services ~14% (early help the largest), then legal agencies, individuals,
  housing, anonymous and other. A contact is one child, so the shares are shares of
  children named, not of submissions. Every submission names its CIN source code; the
  agency is one of the five demo agencies: police, school (schools, education services),
  health (3A-3F), and early-help, the council's own account, for everything that reaches
  a MASH through the council (its services, housing, legal agencies, the public).
- **Bursts.** Police domestic-abuse notifications are batched: on some days (Mondays most,
  after the weekend) a run of police submissions naming the children of a household, with
  `domestic_abuse_in_home` or `domestic_abuse_marac`, arrives within a few minutes.
- **When.** Schools, primary health and council services send in working hours on working
  days (England bank holidays from the service's own calendar), schools much less in the
  summer and Christmas holidays; police, A&E and the public send around the clock, police
  mostly in the evening and at night.
- **Levels.** Each source has its own mix of levels of need, and the indicators come from the
  default ruleset's catalogue, chosen to fit the child's age. The service's history rules
  raise the level of repeat contacts and of contacts about children with an open case, so
  the generator screens every contact with the service's own `screen` (as the service would)
  and the *routed* share of social care lands at 20-30% of contacts.
- **Repeats and re-referrals.** Some families come to notice more than others (a log-normal
  weight per family), a share of contacts are about children seen in the last 90 days, and
  after a case closes concerns come back for some children within months: this gives repeat
  contacts, contacts linked to open cases and, once a year of history has built up, a
  re-referral rate near the national ~22% (the first year has no earlier referrals to count).
- **Outcomes.** A referral (a social-care contact for a child without an open case) opens a
  case that the case system later closes: within weeks after an assessment with no further
  action (~40% of closures), months later after child-in-need work. A share of level-4
  referrals lead to a child protection plan (started within weeks, after the conference),
  which ends months later; the case closes after the plan. Children whose plan ended often
  come back, and at the next plan count as "second or subsequent". Nationally ~20% of plans
  are, counting plans however long ago; a run starts with no history, so the share starts
  at nil and builds up (to roughly 15-20% in a two-year run's second year).
- **Children.** Stable fictional identities: ~80% with an NHS number, the rest known by name
  and date of birth; families of one to four children share a family name, and a few
  submissions name two or three siblings. A few contacts are about unborn babies (expected
  date, no NHS number) from midwives, police and early help.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import orjson

from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.contact import Child, CinSource, ConsentReason, ConsentStatus
from mash.domain.identity import child_identity
from mash.domain.nhs import WEIGHTS
from mash.domain.ruleset import Route, Ruleset, load_ruleset
from mash.domain.screening import EarlierContact, Known, Plan, screen

if TYPE_CHECKING:
    import httpx

Line = dict[str, Any]

LONDON: Final = ZoneInfo("Europe/London")
DEMO_AGENCY_IDS: Final = frozenset({"police", "school", "health", "early-help", "case-system"})
OUTCOME_AGENCY: Final = "case-system"


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Every default is a national figure or a documented guess (see the module)."""

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
    plan_share: float = 0.3  # of level-4 referrals
    plan_share_again: float = 0.6  # of level-4 referrals for a child who had a plan before
    return_after_plan: float = 0.7

    def __post_init__(self) -> None:
        if self.children < 50:
            raise ValueError("children must be at least 50")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 0 <= self.police_share < 1 or not 0 <= self.burst_share <= 1:
            raise ValueError("police_share must be in [0, 1) and burst_share in [0, 1]")
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


# ---------------------------------------------------------------------------------------------
# Indicators: code -> (level, youngest age, oldest age, applies to a whole household).
# Levels must match the default ruleset; tests/unit/test_simulate.py checks they do.

INDICATORS: Final[Mapping[str, tuple[int, int, int, bool]]] = {
    "disclosure_of_abuse": (4, 4, 17, False),
    "non_accidental_injury": (4, 0, 17, False),
    "non_mobile_baby_injury": (4, 0, 0, False),
    "under_13_sexual_activity": (4, 10, 12, False),
    "sexual_abuse": (4, 2, 17, False),
    "child_sexual_exploitation": (4, 11, 17, False),
    "trafficking": (4, 10, 17, False),
    "fgm_or_honour_based_violence": (4, 0, 17, False),
    "fabricated_induced_illness": (4, 0, 11, False),
    "abandonment_or_severe_neglect": (4, 0, 17, True),
    "suicidal_ideation_with_plan": (4, 11, 17, False),
    "domestic_abuse_marac": (4, 0, 17, True),
    "sex_offender_in_household": (4, 0, 17, True),
    "frequently_missing": (4, 11, 17, False),
    "persistent_absence": (3, 5, 16, False),
    "risk_of_permanent_exclusion": (3, 8, 16, False),
    "regularly_missing": (3, 11, 17, False),
    "exploitation_vulnerability": (3, 11, 17, False),
    "regular_substance_use": (3, 12, 17, False),
    "domestic_abuse_in_home": (3, 0, 17, True),
    "parental_mental_health_significant": (3, 0, 17, True),
    "parental_substance_misuse_significant": (3, 0, 17, True),
    "chronic_neglect": (3, 0, 17, True),
    "homeless_16_17": (3, 16, 17, False),
    "unborn_pre_birth_assessment": (3, -1, -1, False),  # only for an unborn child
    "privately_fostered": (3, 5, 17, False),
    "parent_in_prison": (3, 0, 17, True),
    "young_carer_outcomes_affected": (3, 8, 17, False),
    "teenage_pregnancy_serious_concern": (3, 13, 17, False),
    "missed_health_checks": (2, 0, 5, False),
    "attendance_pattern_concern": (2, 5, 16, False),
    "fixed_term_exclusion": (2, 6, 16, False),
    "single_self_harm_episode": (2, 11, 17, False),
    "early_offending_or_substance_use": (2, 10, 17, False),
    "low_level_mental_health": (2, 8, 17, False),
    "young_carer": (2, 8, 17, False),
    "family_poverty_impact": (2, 0, 17, True),
    "parental_ill_health_some_impact": (2, 0, 17, True),
    "developmental_delay": (2, 0, 7, False),
    "no_unmet_needs": (1, 0, 17, True),
}

HOUSEHOLD: Final[dict[int, tuple[str, ...]]] = {
    level: tuple(code for code, (lv, _, _, household) in INDICATORS.items() if lv == level and household)
    for level in (1, 2, 3, 4)
}
TOXIC_TRIO: Final = (
    "domestic_abuse_in_home",
    "parental_mental_health_significant",
    "parental_substance_misuse_significant",
)
SPECIFIED_HARM: Final = frozenset(
    {
        "sexual_abuse",
        "child_sexual_exploitation",
        "fgm_or_honour_based_violence",
        "fabricated_induced_illness",
        "under_13_sexual_activity",
    }
)


@dataclass(frozen=True)
class Source:
    """One CIN source code as the simulation uses it."""

    code: CinSource
    agency: str
    share: float  # of non-police contacts, before normalising
    timing: str  # "office", "school", "police", "acute" or "public"
    levels: tuple[float, float, float, float]  # chance of level 1..4 before the service's history rules
    indicators: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # level 2, 3, 4 codes
    roles: tuple[str, ...]
    domain: str
    ages: tuple[int, int] = (0, 17)
    siblings: float = 0.06  # chance a submission names more than one child


_PARENTAL_3: Final = (
    "parental_mental_health_significant",
    "parental_substance_misuse_significant",
    "domestic_abuse_in_home",
    "chronic_neglect",
)
_PUBLIC = (
    ("family_poverty_impact", "parental_ill_health_some_impact", "low_level_mental_health"),
    _PARENTAL_3,
    ("non_accidental_injury", "abandonment_or_severe_neglect", "sexual_abuse"),
)
_SCHOOL = (
    (
        "attendance_pattern_concern",
        "fixed_term_exclusion",
        "low_level_mental_health",
        "young_carer",
        "family_poverty_impact",
        "single_self_harm_episode",
        "developmental_delay",
    ),
    (
        "persistent_absence",
        "risk_of_permanent_exclusion",
        "young_carer_outcomes_affected",
        "chronic_neglect",
        "parental_mental_health_significant",
        "domestic_abuse_in_home",
        "exploitation_vulnerability",
    ),
    (
        "disclosure_of_abuse",
        "non_accidental_injury",
        "sexual_abuse",
        "fgm_or_honour_based_violence",
        "under_13_sexual_activity",
        "suicidal_ideation_with_plan",
        "child_sexual_exploitation",
    ),
)
_GP = (
    ("missed_health_checks", "low_level_mental_health", "parental_ill_health_some_impact"),
    (
        "parental_mental_health_significant",
        "parental_substance_misuse_significant",
        "teenage_pregnancy_serious_concern",
        "regular_substance_use",
    ),
    ("non_accidental_injury", "fabricated_induced_illness", "under_13_sexual_activity"),
)

# Police (6) is not here: its volume is set by `police_share`. Shares are of the other
# three quarters, after the census mix of referral sources. The level mixes are what each
# partner reports; they are tuned so that, once the service's history rules have raised
# repeat contacts and linked open cases, about a quarter of contacts route to social care
# (checked with the service's own `derive` in tests/unit/test_simulate.py).
SOURCES: Final[tuple[Source, ...]] = (
    Source(
        CinSource.SCHOOLS, "school", 0.27, "school", (0.15, 0.75, 0.07, 0.03), _SCHOOL,
        ("designated safeguarding lead", "deputy safeguarding lead", "head teacher"),
        "school.example", (4, 17), 0.08,
    ),
    Source(
        CinSource.EDUCATION_SERVICES, "school", 0.04, "office", (0.2, 0.71, 0.07, 0.02), _SCHOOL,
        ("education welfare officer", "SEND officer"), "education.example", (4, 17),
    ),
    Source(CinSource.GP, "health", 0.03, "office", (0.2, 0.69, 0.07, 0.04), _GP, ("GP",), "nhs.example"),
    Source(
        CinSource.HEALTH_VISITOR, "health", 0.04, "office", (0.15, 0.74, 0.07, 0.04),
        (
            ("missed_health_checks", "developmental_delay", "family_poverty_impact",
             "parental_ill_health_some_impact"),
            _PARENTAL_3,
            ("non_mobile_baby_injury", "non_accidental_injury", "abandonment_or_severe_neglect"),
        ),
        ("health visitor",), "nhs.example", (0, 4), 0.1,
    ),
    Source(
        CinSource.SCHOOL_NURSE, "health", 0.015, "school", (0.15, 0.74, 0.07, 0.04),
        (
            ("low_level_mental_health", "single_self_harm_episode", "missed_health_checks", "young_carer"),
            ("teenage_pregnancy_serious_concern", "regular_substance_use", "chronic_neglect"),
            ("disclosure_of_abuse", "under_13_sexual_activity", "fgm_or_honour_based_violence"),
        ),
        ("school nurse",), "nhs.example", (5, 17),
    ),
    Source(CinSource.OTHER_PRIMARY_HEALTH, "health", 0.025, "office", (0.2, 0.69, 0.07, 0.04), _GP,
           ("practice nurse", "dentist", "pharmacist"), "nhs.example"),
    Source(
        CinSource.A_AND_E, "health", 0.04, "acute", (0.2, 0.65, 0.09, 0.06),
        (
            ("single_self_harm_episode", "early_offending_or_substance_use"),
            ("regular_substance_use", "exploitation_vulnerability", "parental_substance_misuse_significant"),
            ("non_accidental_injury", "non_mobile_baby_injury", "suicidal_ideation_with_plan",
             "sexual_abuse", "child_sexual_exploitation"),
        ),
        ("A&E safeguarding nurse", "emergency department doctor"), "nhs.example",
    ),
    Source(
        CinSource.OTHER_HEALTH, "health", 0.065, "office", (0.15, 0.72, 0.09, 0.04),
        (
            ("low_level_mental_health", "single_self_harm_episode", "developmental_delay",
             "parental_ill_health_some_impact"),
            ("parental_mental_health_significant", "parental_substance_misuse_significant",
             "teenage_pregnancy_serious_concern"),
            ("suicidal_ideation_with_plan", "fabricated_induced_illness", "fgm_or_honour_based_violence"),
        ),
        ("midwife", "CAMHS practitioner", "adult mental health nurse"), "nhs.example",
    ),
    Source(
        CinSource.HOUSING, "early-help", 0.025, "office", (0.35, 0.56, 0.07, 0.02),
        (("family_poverty_impact",), ("homeless_16_17", "chronic_neglect", "domestic_abuse_in_home"),
         ("abandonment_or_severe_neglect",)),
        ("housing officer",), "council.example", (0, 17), 0.15,
    ),
    Source(
        CinSource.LA_SOCIAL_CARE, "early-help", 0.025, "office", (0.15, 0.7, 0.11, 0.04),
        (("parental_ill_health_some_impact", "young_carer"),
         ("parental_mental_health_significant", "parental_substance_misuse_significant",
          "young_carer_outcomes_affected", "privately_fostered"),
         ("sex_offender_in_household", "abandonment_or_severe_neglect")),
        ("adult social worker",), "council.example", (0, 17), 0.15,
    ),
    Source(
        CinSource.LA_OTHER_DEPARTMENT, "early-help", 0.02, "office", (0.3, 0.61, 0.07, 0.02),
        (("family_poverty_impact", "attendance_pattern_concern"),
         ("privately_fostered", "homeless_16_17", "chronic_neglect"),
         ("abandonment_or_severe_neglect",)),
        ("council officer", "youth worker"), "council.example",
    ),
    Source(
        CinSource.LA_EXTERNAL, "early-help", 0.015, "office", (0.15, 0.64, 0.15, 0.06),
        (("family_poverty_impact",), _PARENTAL_3, ("sex_offender_in_household", "non_accidental_injury")),
        ("social worker (another council)",), "othercouncil.example", (0, 17), 0.2,
    ),
    Source(
        CinSource.LA_EARLY_HELP, "early-help", 0.13, "office", (0.08, 0.79, 0.1, 0.03),
        (
            ("family_poverty_impact", "young_carer", "parental_ill_health_some_impact",
             "attendance_pattern_concern", "low_level_mental_health"),
            (*_PARENTAL_3, "young_carer_outcomes_affected", "persistent_absence"),
            ("abandonment_or_severe_neglect", "disclosure_of_abuse"),
        ),
        ("early help practitioner", "family support worker"), "council.example", (0, 17), 0.15,
    ),
    Source(
        CinSource.INDIVIDUAL_SELF, "early-help", 0.008, "public", (0.25, 0.57, 0.11, 0.07),
        (("low_level_mental_health",), ("homeless_16_17", "regular_substance_use", "chronic_neglect"),
         ("disclosure_of_abuse", "sexual_abuse")),
        ("the child",), "council.example", (11, 17), 0.0,
    ),
    Source(CinSource.INDIVIDUAL_FAMILY, "early-help", 0.05, "public", (0.42, 0.49, 0.06, 0.03), _PUBLIC,
           ("family member",), "council.example"),
    Source(CinSource.INDIVIDUAL_ACQUAINTANCE, "early-help", 0.012, "public", (0.42, 0.49, 0.06, 0.03),
           _PUBLIC, ("neighbour", "family friend"), "council.example"),
    Source(CinSource.INDIVIDUAL_OTHER, "early-help", 0.012, "public", (0.42, 0.49, 0.06, 0.03), _PUBLIC,
           ("member of the public",), "council.example"),
    Source(
        CinSource.OTHER_LEGAL_AGENCY, "early-help", 0.055, "office", (0.35, 0.5, 0.11, 0.04),
        (("early_offending_or_substance_use",),
         ("parent_in_prison", "domestic_abuse_in_home", "exploitation_vulnerability"),
         ("sex_offender_in_household",)),
        ("probation officer", "youth justice worker", "Cafcass officer"), "justice.example", (0, 17), 0.15,
    ),
    Source(CinSource.OTHER, "early-help", 0.05, "office", (0.42, 0.49, 0.06, 0.03), _PUBLIC,
           ("voluntary sector worker", "sports coach", "faith group leader"), "community.example"),
    Source(CinSource.ANONYMOUS, "early-help", 0.025, "public", (0.42, 0.49, 0.06, 0.03), _PUBLIC,
           ("anonymous caller",), "council.example"),
    Source(CinSource.UNKNOWN, "early-help", 0.02, "office", (0.42, 0.49, 0.06, 0.03), _PUBLIC,
           ("not recorded",), "council.example"),
)  # fmt: skip

# Most police notifications share information (level 1) or suggest early help; the serious
# domestic abuse comes mostly in the bursts, which are generated separately.
POLICE: Final = Source(
    CinSource.POLICE, "police", 0.0, "police", (0.5, 0.39, 0.07, 0.04),
    (
        ("early_offending_or_substance_use", "family_poverty_impact", "single_self_harm_episode"),
        ("domestic_abuse_in_home", "regularly_missing", "exploitation_vulnerability",
         "regular_substance_use", "parental_substance_misuse_significant", "parent_in_prison"),
        ("domestic_abuse_marac", "frequently_missing", "child_sexual_exploitation", "non_accidental_injury",
         "sexual_abuse", "sex_offender_in_household", "trafficking"),
    ),
    ("police officer", "police staff (MASH)", "detective constable"), "police.example", (0, 17), 0.3,
)  # fmt: skip

# A child whose concerns came back after a case closed is more often at a higher level.
RETURN_LEVELS: Final = (0.1, 0.5, 0.3, 0.1)
# After a child protection plan, what brings a child back is more often serious again.
RETURN_AFTER_PLAN_LEVELS: Final = (0.0, 0.3, 0.45, 0.25)
# A burst is domestic abuse: mostly standard/medium risk, some high risk heard at MARAC.
BURST_MARAC_SHARE: Final = 0.2
BURST_SIBLINGS: Final = 0.55
# Pre-birth concerns come mostly from midwives (other health), a few from police and early help.
UNBORN_CHANCE: Final = {CinSource.OTHER_HEALTH: 0.15, CinSource.POLICE: 0.01, CinSource.LA_EARLY_HELP: 0.01}

# Local-time hour weights, 00:00 to 23:00, for each timing profile.
# fmt: off
_HOURS: Final[dict[str, tuple[float, ...]]] = {
    "office": (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.05, 0.4, 1, 1, 1,
               1, 0.8, 1, 1, 1, 0.7, 0.2, 0.08, 0.04, 0.02, 0.02, 0.01),
    # Police notify around the clock, most of all in the evening, when most incidents happen.
    "police": (0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.25, 0.4, 0.7, 0.9, 0.9, 0.9,
               0.9, 0.9, 0.9, 0.9, 1, 1, 1.1, 1.2, 1.2, 1.1, 1, 0.8),
    "acute": (0.5, 0.4, 0.3, 0.3, 0.2, 0.2, 0.3, 0.5, 0.8, 1, 1, 1,
              1, 1, 1, 1, 1.1, 1.2, 1.2, 1.2, 1.1, 1, 0.8, 0.6),
    "public": (0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 1, 1, 1, 1,
               1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.3, 0.2),
    # Office sources on a weekend or bank holiday: the odd message from someone on call.
    "closed": (0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 1, 1, 1, 1,
               1, 1, 1, 1, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3),
}
# fmt: on
_HOURS["school"] = _HOURS["office"]


def _day_factor(timing: str, d: date) -> float:
    """How busy a source is on day `d`, relative to an ordinary working day."""
    working = DEFAULT_CALENDAR.is_working_day(d)
    if timing == "police":
        return 1.0 if working else 1.1
    if timing == "acute":
        return 1.0
    if timing == "public":
        return 1.0 if working else 0.6
    factor = 1.0 if working else 0.05
    if timing == "school" and _school_holiday(d):
        factor *= 0.2
    return factor


def _school_holiday(d: date) -> bool:
    # England's long breaks; half terms and Easter vary by council and are left out.
    month_day = (d.month, d.day)
    return (7, 22) <= month_day <= (8, 31) or month_day >= (12, 21) or month_day <= (1, 3)


# ---------------------------------------------------------------------------------------------
# Fictional names and numbers.

_GIVEN_A: Final = ("Ba", "Ke", "Lo", "Mi", "Nu", "Pa", "Ri", "Su", "Ta", "Vo", "Ze", "Qui", "Xan", "Yo", "Wy")
_GIVEN_B: Final = ("bix", "dro", "fen", "lux", "mo", "nix", "pel", "quo", "rin", "sto", "vel", "zor")
_FAMILY_A: Final = (
    "Blor", "Crim", "Drax", "Flim", "Grum", "Jex", "Klop", "Mox",
    "Plim", "Quar", "Snib", "Trox", "Vrin", "Wug", "Zib", "Yorp",
)  # fmt: skip
_FAMILY_B: Final = ("bottom", "wick", "thorpe", "ley", "ham", "ington", "stead", "worth", "by", "combe")


def nhs_check_digit(nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no number can end them (a 10)."""
    check = 11 - sum(int(d) * w for d, w in zip(nine, WEIGHTS, strict=True)) % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def _test_nhs_number(rng: random.Random) -> str:
    # 999 000 0000 - 999 999 9999 is reserved for test data: never a real child's number.
    while True:
        nine = f"999{rng.randrange(1_000_000):06d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return f"{nine}{check}"


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
# The population.


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
    """What the service knows of one child identity, mirrored so outcomes fit its decisions."""

    contacts: list[datetime] = field(default_factory=list)
    open_case: bool = False
    plans: list[datetime] = field(default_factory=list)


@dataclass(order=True)
class _Pending:
    at: datetime
    seq: int
    kind: str = field(compare=False)  # an OutcomeType value, or "return" (not emitted)
    kid: int = field(compare=False)
    child: dict[str, Any] = field(compare=False)
    identity: str = field(compare=False)
    nfa: bool = field(compare=False, default=False)
    plan_case: bool = field(compare=False, default=False)


class _Simulation:
    def __init__(self, config: SimulationConfig, ruleset: Ruleset) -> None:
        self.config = config
        self.ruleset = ruleset
        self.rng = random.Random(config.seed)
        self.kids: list[_Kid] = []
        self.families: list[_Family] = []
        self.records: dict[str, _Record] = {}
        self.pending: list[_Pending] = []
        self.returns: list[_Pending] = []
        self.recent: deque[tuple[datetime, int]] = deque()
        self.seq = 0
        self.submissions = 0
        self.outcomes = 0
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
            name = rng.choice(_FAMILY_A) + rng.choice(_FAMILY_B)
            # Heavy-tailed: a few families come to notice again and again.
            weight = rng.lognormvariate(0.0, 0.4)
            givens: set[str] = set()
            members: list[int] = []
            for _ in range(size):
                given = rng.choice(_GIVEN_A) + rng.choice(_GIVEN_B)
                while given in givens:
                    given = rng.choice(_GIVEN_A) + rng.choice(_GIVEN_B)
                givens.add(given)
                nhs = None
                if rng.random() < config.nhs_known_share:
                    nhs = _test_nhs_number(rng)
                    while nhs in used_nhs:
                        nhs = _test_nhs_number(rng)
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

    def _pick(self, source: Source, at: datetime, on: date) -> tuple[int, _Pending | None]:
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
        given = rng.choice(_GIVEN_A) + rng.choice(_GIVEN_B)
        family = rng.choice(_FAMILY_A) + rng.choice(_FAMILY_B)
        role = rng.choice(source.roles)
        if source.code is CinSource.ANONYMOUS:
            return {"name": "Anonymous caller", "role": role, "phone": "01632 960000"}
        name = f"PC {given} {family}" if role == "police officer" else f"{given} {family}"
        referrer = {"name": name, "role": role}
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

    # -- the service's view, and the case system ----------------------------------------------

    def _schedule(
        self,
        kind: str,
        at: datetime,
        kid: int,
        child: dict[str, Any],
        identity: str,
        *,
        nfa: bool = False,
        plan_case: bool = False,
    ) -> None:
        self.seq += 1
        item = _Pending(at, self.seq, kind, kid, child, identity, nfa, plan_case)
        if kind == "return":
            bisect.insort(self.returns, item)
        else:
            heapq.heappush(self.pending, item)

    def _office_time(self, after: datetime, days: float) -> datetime:
        """A working-hours moment about `days` after `after`: when a social worker records an outcome."""
        d = (after + timedelta(days=days)).astimezone(LONDON).date()
        while not DEFAULT_CALENDAR.is_working_day(d):
            d += timedelta(days=1)
        minute = self.rng.randrange(9 * 60, 17 * 60 + 30)
        return datetime.combine(d, time(minute // 60, minute % 60), tzinfo=LONDON).astimezone(UTC)

    def _open_case(self, at: datetime, kid: int, child: dict[str, Any], identity: str, level: int) -> None:
        rng, config = self.rng, self.config
        record = self.records[identity]
        chance = config.plan_share_again if record.plans else config.plan_share
        if level == 4 and rng.random() < chance:
            # Conference within 15 working days of the strategy discussion; plans last months.
            started = self._office_time(at, rng.uniform(14, 35))
            ended = self._office_time(started, min(600.0, max(90.0, rng.lognormvariate(math.log(240), 0.45))))
            closed = self._office_time(ended, rng.uniform(14, 90))
            self._schedule("cp_plan_started", started, kid, child, identity)
            self._schedule("cp_plan_ended", ended, kid, child, identity)
            self._schedule("case_closed", closed, kid, child, identity, plan_case=True)
        elif rng.random() < config.nfa_share:
            # Assessment within 45 working days, then no further action.
            self._schedule(
                "case_closed", self._office_time(at, rng.uniform(7, 63)), kid, child, identity, nfa=True
            )
        else:
            # Child-in-need work, then closure.
            closed = self._office_time(at, rng.uniform(45, 150))
            self._schedule("case_closed", closed, kid, child, identity)

    def _apply_outcome(self, item: _Pending) -> Line:
        record = self.records[item.identity]
        if item.kind == "cp_plan_started":
            record.plans.append(item.at)
        elif item.kind == "case_closed":
            record.open_case = False
            chance = self.config.return_after_plan if item.plan_case else self.config.return_after_closure
            if self.rng.random() < chance:
                wait = self.rng.expovariate(1 / self.config.return_mean_days)
                back = item.at + timedelta(days=wait)
                self._schedule("return", back, item.kid, item.child, item.identity, plan_case=item.plan_case)
        self.outcomes += 1
        event: dict[str, Any] = {"type": item.kind, "child": dict(item.child), "occurred_at": _stamp(item.at)}
        if item.kind == "case_closed":
            event["nfa"] = item.nfa
        event["reference"] = f"SIM-{self.config.seed}-O{self.outcomes:06d}"
        return {"kind": "outcome", "agency": OUTCOME_AGENCY, "event": event}

    def _drain(self, until: datetime) -> Iterator[Line]:
        while self.pending and self.pending[0].at <= until:
            yield self._apply_outcome(heapq.heappop(self.pending))

    def _contact(self, at: datetime, source: Source, burst: bool) -> Line:
        rng = self.rng
        on = at.astimezone(LONDON).date()
        returning: _Pending | None = None
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
        children: list[dict[str, Any]] = []
        for k in kids:
            child, identity = self._identity(k, unborn)
            children.append(dict(child))
            record = self.records.setdefault(identity, _Record())
            known = Known(
                tuple(EarlierContact(c, 2) for c in record.contacts),
                record.open_case,
                tuple(Plan(p) for p in record.plans),
            )
            screened = screen(codes, known, at, self.ruleset)
            record.contacts.append(at)
            if self.ruleset.routes[screened.level].route is Route.SOCIAL_CARE and not record.open_case:
                record.open_case = True
                self._open_case(at, k, child, identity, screened.level)
            self.recent.append((at, k))
        self.submissions += 1
        submission = {
            "agency_reference": f"SIM-{self.config.seed}-{self.submissions:06d}",
            "received_at": _stamp(at),
            "source": source.code.value,
            "children": children,
            "indicators": codes,
            "narrative": self._narrative(codes, burst),
            "consent": self._consent(level, codes, source.code is CinSource.POLICE),
            "referrer": self._referrer(source),
        }
        return {"kind": "contact", "agency": source.agency, "submission": submission}

    # -- the days -----------------------------------------------------------------------------

    def _expected_children(self, source: Source) -> float:
        # Only about half of the children have a sibling of a suitable age to name too.
        return 1 + source.siblings * 0.55 * 1.33

    def _moment(self, d: date, timing: str) -> datetime:
        closed = timing in ("office", "school") and not DEFAULT_CALENDAR.is_working_day(d)
        hours = _HOURS["closed" if closed else timing]
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
            timing: sum(_day_factor(timing, d) for d in days) / len(days)
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
                r * _day_factor(s.timing, d) / means[s.timing] for s, r in zip(SOURCES, rates, strict=True)
            ]
            police = police_rate * _day_factor("police", d) / means["police"]
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
                for _ in range(rng.randint(config.burst_min, config.burst_max)):
                    at = begin + timedelta(seconds=rng.randrange(config.burst_minutes * 60))
                    slots.append((at, len(slots), POLICE, True))
            slots.sort(key=lambda slot: (slot[0], slot[1]))
            for at, _, source, burst in slots:
                if not start_at <= at < end_at:
                    continue
                yield from self._drain(at)
                yield self._contact(at, source, burst)
        yield from self._drain(end_at - timedelta(microseconds=1))


def simulate(config: SimulationConfig, ruleset: Ruleset | None = None) -> Iterator[Line]:
    """Replay lines for `config`, in event-time order. `ruleset` defaults to the shipped one."""
    return _Simulation(config, ruleset or load_ruleset()).run()


def write_jsonl(config: SimulationConfig, path: Path) -> int:
    """Writes the simulation to `path` as JSON Lines; returns the number of lines."""
    count = 0
    with path.open("wb") as out:
        for line in simulate(config):
            out.write(orjson.dumps(line))
            out.write(b"\n")
            count += 1
    return count


class PostError(RuntimeError):
    """The service refused the simulation's keys, or could not be reached: stop rather than skip."""


Refused = Callable[[Line, int, str], None]


async def post_to_service(
    config: SimulationConfig,
    intake_url: str,
    keys: dict[str, str],
    rate_per_s: float,
    *,
    max_in_flight: int = 16,
    on_refused: Refused | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Posts the simulation to a running intake at a steady `rate_per_s`; returns the lines accepted.

    `keys` maps each demo agency id to its API key (the dev server's demo-keys.json). Lines
    start in file (event-time) order, up to `max_in_flight` at once, so one slow request
    doesn't slow the rate; the service orders each child's events by event time, so a small
    reordering in flight changes nothing. A 503 or 429 is retried after its Retry-After. A
    line refused for a reason a retry cannot fix (a 422, say) is passed to `on_refused` with
    the status and body, and not counted. `transport` is for tests.
    """
    import httpx  # only a dev dependency: generating a file must not need it

    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    missing = sorted(DEMO_AGENCY_IDS - keys.keys())
    if missing:
        raise ValueError(f"no key for agencies: {', '.join(missing)}")
    interval = 1 / rate_per_s
    posted = 0
    slots = asyncio.Semaphore(max_in_flight)
    failures: list[PostError] = []

    async def send(
        client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]
    ) -> httpx.Response:
        for attempt in range(_MAX_ATTEMPTS):
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= 5:
                    raise PostError(f"the service at {intake_url} cannot be reached: {exc!r}") from exc
                await asyncio.sleep(min(30.0, 0.5 * 2.0**attempt))
                continue
            if response.status_code not in (429, 503):
                return response
            await asyncio.sleep(_retry_after(response.headers.get("Retry-After")))
        raise PostError(f"{path} still unavailable after {_MAX_ATTEMPTS} attempts")

    async def post(client: httpx.AsyncClient, line: Line) -> None:
        nonlocal posted
        contact = line["kind"] == "contact"
        path = "/v1/contacts" if contact else "/v1/outcomes"
        headers = {"Authorization": f"Bearer {keys[line['agency']]}"}
        try:
            response = await send(client, path, line["submission"] if contact else line["event"], headers)
            if response.status_code in (401, 403):
                raise PostError(f"{path} refused the key of agency {line['agency']}: {response.status_code}")
            if response.is_success:
                posted += 1
            elif on_refused is not None:
                on_refused(line, response.status_code, response.text)
        except PostError as exc:
            failures.append(exc)
        finally:
            slots.release()

    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(
        base_url=intake_url.rstrip("/"), timeout=30.0, transport=transport
    ) as client:
        next_at = loop.time()
        for line in simulate(config):
            if failures:
                break
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # After a stall, carry on at the rate rather than catch up in a rush.
            next_at = max(next_at + interval, loop.time())
            await slots.acquire()
            task = asyncio.create_task(post(client, line))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    if failures:
        raise failures[0]
    return posted


_MAX_ATTEMPTS: Final = 30


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds only; the intake never sends a date)."""
    try:
        return max(0.1, min(60.0, float(value))) if value else 1.0
    except ValueError:
        return 1.0
