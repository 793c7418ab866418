"""What a partner reports about a child: the level of need, the indicators, consent, the referrer
and a narrative, drawn from the generator's `random.Random` with the catalogue's weights.

Levels are what the partner reports, before the service's history rules; indicators are chosen
from the source's own list for that level, fitting every child named. Consent follows each
level's usual pattern, and now and then a partner shares without consent and records no reason
(accepted and flagged by the service, never refused).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
from mash.domain.ruleset import Ruleset
from mash.simulate.catalogue import (
    FAMILY_A,
    FAMILY_B,
    GIVEN_A,
    GIVEN_B,
    HOUSEHOLD,
    INDICATORS,
    SPECIFIED_HARM,
    TOXIC_TRIO,
    Source,
)


def reported_level(rng: random.Random, weights: Sequence[float]) -> int:
    """The level of need a partner reports, by the source's (or a return's) mix of levels 1 to 4."""
    return rng.choices((1, 2, 3, 4), weights=weights)[0]


def _fits(code: str, ages: Sequence[int], household: bool) -> bool:
    _, lo, hi, whole = INDICATORS[code]
    return (whole or not household) and all(lo <= a <= hi for a in ages)


def indicators(rng: random.Random, source: Source, level: int, ages: Sequence[int]) -> list[str]:
    """The indicator codes for a contact at `level` about children of `ages` (one submission)."""
    household = len(ages) > 1
    if level == 1:
        return ["no_unmet_needs"]
    if level == 4 and source.code in (CinSource.POLICE, CinSource.LA_EARLY_HELP) and rng.random() < 0.08:
        return list(TOXIC_TRIO)

    def choose(lv: int, exclude: Sequence[str] = ()) -> str | None:
        pool = [c for c in source.indicators[lv - 2] if c not in exclude and _fits(c, ages, household)]
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


def consent(rng: random.Random, level: int, codes: Sequence[str], police: bool) -> dict[str, str]:
    """The submission's `consent` field."""
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


def referrer(rng: random.Random, source: Source) -> dict[str, str]:
    """The submission's `referrer`: a fictional name, and a `.example` address or an Ofcom drama number."""
    given = rng.choice(GIVEN_A) + rng.choice(GIVEN_B)
    family = rng.choice(FAMILY_A) + rng.choice(FAMILY_B)
    role = rng.choice(source.roles)
    if source.code is CinSource.ANONYMOUS:
        # No name and no number: nobody can call an anonymous caller back.
        return {"name": "Anonymous caller", "role": role}
    name = f"PC {given} {family}" if role == "police officer" else f"{given} {family}"
    found = {"name": name, "role": role}
    if source.timing == "public" and rng.random() < 0.05:
        return found  # a member of the public who left no number
    if rng.random() < 0.6:
        found["email"] = f"{given}.{family}@{source.domain}".lower()
    else:
        found["phone"] = f"01632 960{rng.randrange(1, 1000):03d}"
    return found


def narrative(ruleset: Ruleset, codes: Sequence[str], burst: bool) -> str:
    """The submission's narrative: the indicators in the ruleset's words, marked as simulated."""
    catalogue = ruleset.catalogue
    said = "; ".join(catalogue[c].description for c in codes if c in catalogue)
    lead = "Police domestic abuse notification" if burst else "Concern reported"
    return f"[simulated] {lead}: {said}."
