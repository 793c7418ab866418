"""The static data of `mash simulate`: indicators, sources and their level mixes, hours of the
day, and fictional names and numbers (what the simulated people decide with is beside them, in
mash.simulate.people).

These are the generator's weights: nothing here reads the clock, and only `fictional_nhs_number`
draws, from the `random.Random` the generator passes it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.contact import CinSource
from mash.domain.nhs import WEIGHTS

DEMO_AGENCY_IDS: Final = frozenset({"police", "school", "health", "early-help", "case-system"})
OUTCOME_AGENCY: Final = "case-system"

# ---------------------------------------------------------------------------------------------
# Indicators: code -> (level, youngest age, oldest age, applies to a whole household).
# Levels must match the default ruleset; tests/unit/simulate/test_generator.py checks they do.

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
# repeat contacts and people have decided, about 22% of contacts become referrals and about
# a quarter go to social care, linked contacts included (checked with the worker's own
# functions in tests/unit/simulate/test_generator.py).
SOURCES: Final[tuple[Source, ...]] = (
    Source(
        CinSource.SCHOOLS, "school", 0.27, "school", (0.15, 0.73, 0.09, 0.03), _SCHOOL,
        ("designated safeguarding lead", "deputy safeguarding lead", "head teacher"),
        "school.example", (4, 17), 0.08,
    ),
    Source(
        CinSource.EDUCATION_SERVICES, "school", 0.04, "office", (0.2, 0.69, 0.09, 0.02), _SCHOOL,
        ("education welfare officer", "SEND officer"), "education.example", (4, 17),
    ),
    Source(CinSource.GP, "health", 0.03, "office", (0.2, 0.67, 0.09, 0.04), _GP, ("GP",), "nhs.example"),
    Source(
        CinSource.HEALTH_VISITOR, "health", 0.04, "office", (0.15, 0.72, 0.09, 0.04),
        (
            ("missed_health_checks", "developmental_delay", "family_poverty_impact",
             "parental_ill_health_some_impact"),
            _PARENTAL_3,
            ("non_mobile_baby_injury", "non_accidental_injury", "abandonment_or_severe_neglect"),
        ),
        ("health visitor",), "nhs.example", (0, 4), 0.1,
    ),
    Source(
        CinSource.SCHOOL_NURSE, "health", 0.015, "school", (0.15, 0.72, 0.09, 0.04),
        (
            ("low_level_mental_health", "single_self_harm_episode", "missed_health_checks", "young_carer"),
            ("teenage_pregnancy_serious_concern", "regular_substance_use", "chronic_neglect"),
            ("disclosure_of_abuse", "under_13_sexual_activity", "fgm_or_honour_based_violence"),
        ),
        ("school nurse",), "nhs.example", (5, 17),
    ),
    Source(CinSource.OTHER_PRIMARY_HEALTH, "health", 0.025, "office", (0.2, 0.67, 0.09, 0.04), _GP,
           ("practice nurse", "dentist", "pharmacist"), "nhs.example"),
    Source(
        CinSource.A_AND_E, "health", 0.04, "acute", (0.2, 0.63, 0.11, 0.06),
        (
            ("single_self_harm_episode", "early_offending_or_substance_use"),
            ("regular_substance_use", "exploitation_vulnerability", "parental_substance_misuse_significant"),
            ("non_accidental_injury", "non_mobile_baby_injury", "suicidal_ideation_with_plan",
             "sexual_abuse", "child_sexual_exploitation"),
        ),
        ("A&E safeguarding nurse", "emergency department doctor"), "nhs.example",
    ),
    Source(
        CinSource.OTHER_HEALTH, "health", 0.065, "office", (0.15, 0.7, 0.11, 0.04),
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
        CinSource.HOUSING, "early-help", 0.025, "office", (0.35, 0.54, 0.09, 0.02),
        (("family_poverty_impact",), ("homeless_16_17", "chronic_neglect", "domestic_abuse_in_home"),
         ("abandonment_or_severe_neglect",)),
        ("housing officer",), "council.example", (0, 17), 0.15,
    ),
    Source(
        CinSource.LA_SOCIAL_CARE, "early-help", 0.025, "office", (0.15, 0.68, 0.13, 0.04),
        (("parental_ill_health_some_impact", "young_carer"),
         ("parental_mental_health_significant", "parental_substance_misuse_significant",
          "young_carer_outcomes_affected", "privately_fostered"),
         ("sex_offender_in_household", "abandonment_or_severe_neglect")),
        ("adult social worker",), "council.example", (0, 17), 0.15,
    ),
    Source(
        CinSource.LA_OTHER_DEPARTMENT, "early-help", 0.02, "office", (0.3, 0.59, 0.09, 0.02),
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
        CinSource.LA_EARLY_HELP, "early-help", 0.13, "office", (0.08, 0.76, 0.13, 0.03),
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
    CinSource.POLICE, "police", 0.0, "police", (0.48, 0.37, 0.11, 0.04),
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
HOURS: Final[dict[str, tuple[float, ...]]] = {
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
HOURS["school"] = HOURS["office"]


def day_factor(timing: str, d: date) -> float:
    """How busy a source is on day `d`, relative to an ordinary working day."""
    working = DEFAULT_CALENDAR.is_working_day(d)
    if timing == "police":
        return 1.0 if working else 1.1
    if timing == "acute":
        return 1.0
    if timing == "public":
        return 1.0 if working else 0.6
    factor = 1.0 if working else 0.05
    if timing == "school" and school_holiday(d):
        factor *= 0.2
    return factor


def school_holiday(d: date) -> bool:
    # England's long breaks; half terms and Easter vary by council and are left out.
    month_day = (d.month, d.day)
    return (7, 22) <= month_day <= (8, 31) or month_day >= (12, 21) or month_day <= (1, 3)


# ---------------------------------------------------------------------------------------------
# Fictional names and numbers.

GIVEN_A: Final = ("Ba", "Ke", "Lo", "Mi", "Nu", "Pa", "Ri", "Su", "Ta", "Vo", "Ze", "Qui", "Xan", "Yo", "Wy")
GIVEN_B: Final = ("bix", "dro", "fen", "lux", "mo", "nix", "pel", "quo", "rin", "sto", "vel", "zor")
FAMILY_A: Final = (
    "Blor", "Crim", "Drax", "Flim", "Grum", "Jex", "Klop", "Mox",
    "Plim", "Quar", "Snib", "Trox", "Vrin", "Wug", "Zib", "Yorp",
)  # fmt: skip
FAMILY_B: Final = ("bottom", "wick", "thorpe", "ley", "ham", "ington", "stead", "worth", "by", "combe")


def nhs_check_digit(nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no number can end them (a 10)."""
    check = 11 - sum(int(d) * w for d, w in zip(nine, WEIGHTS, strict=True)) % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def fictional_nhs_number(rng: random.Random) -> str:
    # 999 000 0000 - 999 999 9999 is reserved for test data: never a real child's number.
    while True:
        nine = f"999{rng.randrange(1_000_000):06d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return f"{nine}{check}"
