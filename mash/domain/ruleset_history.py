"""Every ruleset version the service has used, and which one was in force on a given day.

A contact is screened once, under the ruleset in force on the day it was received (Europe/London),
and keeps that screening and its version: a ruleset that comes into force later never rewrites an
earlier contact. So the service keeps every version it has used, and replaying last year's
contacts screens them with last year's rules. Re-screening a waiting contact under another
version is a person's recorded decision (`DecisionAction.RESCREEN`), never a side effect.

A version is immutable: the same version with other content is refused, so a record that names a
version always means the same rules.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime

from mash.domain.referrals import local_date
from mash.domain.ruleset import Ruleset


class RulesetConflict(ValueError):
    """A ruleset whose version is already known with other content."""


@dataclass(frozen=True)
class RulesetHistory:
    """The versions in the order they were first used. Two versions in force from the same day:
    the one used later wins (a correction issued the same day)."""

    versions: tuple[Ruleset, ...]
    _by_version: dict[str, Ruleset] = field(init=False, repr=False, compare=False)
    _days: list[tuple[date, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("a ruleset history needs at least one ruleset")
        by_version: dict[str, Ruleset] = {}
        for ruleset in self.versions:
            known = by_version.get(ruleset.version)
            if known is not None and known.fingerprint != ruleset.fingerprint:
                raise RulesetConflict(_conflict(ruleset.version))
            by_version.setdefault(ruleset.version, ruleset)
        object.__setattr__(self, "_by_version", by_version)
        first: dict[str, tuple[date, int]] = {}
        for i, ruleset in enumerate(self.versions):
            first.setdefault(ruleset.version, (ruleset.effective_from, i))
        days = sorted(first.values())
        object.__setattr__(self, "_days", days)

    @classmethod
    def of(cls, *rulesets: Ruleset) -> RulesetHistory:
        return cls(tuple(rulesets))

    def get(self, version: str) -> Ruleset | None:
        return self._by_version.get(version)

    def __contains__(self, version: object) -> bool:
        return version in self._by_version

    def in_force(self, at: datetime) -> Ruleset:
        """The ruleset that screens a contact received at `at`. A contact from before every
        version's first day is screened under the earliest."""
        day = local_date(at)
        index = bisect_right(self._days, (day, len(self.versions)))
        _, position = self._days[index - 1] if index else self._days[0]
        return self.versions[position]

    def with_ruleset(self, ruleset: Ruleset) -> RulesetHistory:
        """The history with `ruleset` added (unchanged if its version is already there, with the
        same content); raises RulesetConflict for a known version with other content."""
        known = self._by_version.get(ruleset.version)
        if known is not None:
            if known.fingerprint != ruleset.fingerprint:
                raise RulesetConflict(_conflict(ruleset.version))
            return self
        return RulesetHistory((*self.versions, ruleset))


def _conflict(version: str) -> str:
    return (
        f"ruleset version {version} is already in use with other rules; give the changed file a new version"
    )
