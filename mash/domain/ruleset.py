"""The council's threshold ruleset: indicators, combinations, history, routes and RAG.

A ruleset is data (YAML) so a council can publish its own threshold document as a file,
version it, and check it with `mash rules check FILE` before it goes live. Every screening
decision records the version of the ruleset that made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Level = Annotated[int, Field(ge=1, le=4)]
LEVELS = (1, 2, 3, 4)


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    BLUE = "blue"


class Route(StrEnum):
    UNIVERSAL = "universal"  # advice or signposting; no further action by the MASH
    EARLY_HELP = "early_help"
    SINGLE_AGENCY = "single_agency"  # one named partner agency supports the family (an IMM outcome)
    SOCIAL_CARE = "social_care"


_STRICT = ConfigDict(extra="forbid", frozen=True)


class Indicator(BaseModel):
    model_config = _STRICT

    code: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    description: Annotated[str, Field(min_length=1)]
    level: Level
    override: bool = False
    """A hard override puts the child at level 4 on its own, whatever else is true."""

    @model_validator(mode="after")
    def _override_is_level_4(self) -> Indicator:
        if self.override and self.level != 4:
            raise ValueError("only a level 4 indicator can be a hard override")
        return self


class CombinationRule(BaseModel):
    """Raises the level when several factors are present together.

    Either `all_of` (every named indicator present) or `min_count` with `at_level`
    (at least that many distinct indicators at that level or above).
    """

    model_config = _STRICT

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    description: Annotated[str, Field(min_length=1)]
    level: Level
    all_of: list[str] = []
    min_count: Annotated[int, Field(ge=2)] | None = None
    at_level: Level | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> CombinationRule:
        by_count = self.min_count is not None or self.at_level is not None
        if bool(self.all_of) == by_count:
            raise ValueError("give either all_of, or min_count with at_level")
        if by_count and (self.min_count is None or self.at_level is None):
            raise ValueError("min_count and at_level go together")
        return self


class HistoryRule(BaseModel):
    """Raises the level from what the service already knows about the child.

    `repeat_contacts` counts this contact and earlier ones received within `within_days` (by
    event time) as *incidents*: contacts within `same_incident_hours` of an incident's first
    contact are the same incident (several agencies reporting one event), and contacts that only
    record information (level 1 on their own indicators) are not counted and are never raised by
    repetition unless `count_information_only` is set. `open_case` fires when the child has an
    open social care case; `previous_cp_plan` when a child protection plan has ended before the
    contact (a current plan means an open case: the contact goes to the allocated worker).
    `max_level` caps what the rule can raise a level to. `description` may use {count} (contacts),
    {ordinal} ("4th"), {incidents} and {days}.
    """

    model_config = _STRICT

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    description: Annotated[str, Field(min_length=1)]
    kind: Literal["repeat_contacts", "open_case", "previous_cp_plan"]
    within_days: Annotated[int, Field(ge=1)] | None = None
    min_incidents: Annotated[int, Field(ge=2)] | None = None
    same_incident_hours: Annotated[int, Field(ge=0)] = 24
    count_information_only: bool = False
    raise_by: Annotated[int, Field(ge=0, le=3)] = 0
    min_level: Level | None = None
    max_level: Level = 4

    @model_validator(mode="after")
    def _well_formed(self) -> HistoryRule:
        counts = self.within_days is not None and self.min_incidents is not None
        if self.kind == "repeat_contacts" and not counts:
            raise ValueError("repeat_contacts needs within_days and min_incidents")
        if self.kind != "repeat_contacts" and (self.within_days or self.min_incidents):
            raise ValueError("within_days and min_incidents are only for repeat_contacts")
        if self.raise_by == 0 and self.min_level is None:
            raise ValueError("give raise_by or min_level, or the rule changes nothing")
        if self.min_level is not None and self.min_level > self.max_level:
            raise ValueError("min_level is above max_level")
        return self


class ServiceDecides(BaseModel):
    """Which contacts the service may decide itself instead of waiting for a person.

    A contact at one of `levels` is closed with no further action as soon as it is screened,
    but only if the child has no history at the service (when `only_without_history`): no
    contact in the `history_days` before, no open case, no child protection plan ever. A
    contact with an indicator the ruleset does not know always waits for a person.
    """

    model_config = _STRICT

    levels: list[Level] = [1]
    only_without_history: bool = True
    history_days: Annotated[int, Field(ge=1)] = 365

    @model_validator(mode="after")
    def _no_referral_without_a_person(self) -> ServiceDecides:
        if any(level >= 3 for level in self.levels):
            raise ValueError("the service may only decide levels 1 and 2: a referral needs a person")
        return self


class RouteTo(BaseModel):
    model_config = _STRICT

    route: Route
    pathway: Annotated[str, Field(min_length=1)]


class Ruleset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="RulesetV1")

    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    name: Annotated[str, Field(min_length=1)]
    effective_from: date = Field(
        description="the first day (Europe/London) of contacts this ruleset screens; a contact is "
        "screened under the ruleset in force on the day it was received"
    )
    indicators: Annotated[list[Indicator], Field(min_length=1)]
    combinations: list[CombinationRule] = []
    history: list[HistoryRule] = []
    routes: dict[Level, RouteTo]
    rag: dict[Level, Rag]
    service_decides: ServiceDecides = ServiceDecides()
    needs_consent: list[Level] = Field(
        [2, 3], description="levels whose service (early help, child in need) needs the family's consent"
    )
    unknown_indicator_rag: Rag = Field(
        Rag.AMBER,
        description="the review clock of a contact with an indicator this ruleset does not know",
    )

    # Read once per contact screened: a cached property is a plain attribute read, where a
    # pydantic private attribute goes through `__getattr__` (about a tenth of the domain step).
    # `model_copy(update=...)` would carry the cached values over: build a changed ruleset
    # with `model_validate`, as loading a file does.
    @cached_property
    def catalogue(self) -> dict[str, Indicator]:
        return {i.code: i for i in self.indicators}

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.catalogue)

    @cached_property
    def fingerprint(self) -> str:
        """Differs between any two rulesets that could decide a contact differently, even
        when an edited file keeps its version."""
        return hashlib.blake2b(self.model_dump_json().encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class RulesetProblem:
    """One thing wrong with a ruleset file, said so a council's editor can fix it."""

    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: {self.field}: {self.reason}"


class RulesetError(Exception):
    def __init__(self, source: str, problems: list[RulesetProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(str(p) for p in problems))


def _semantic_problems(ruleset: Ruleset) -> list[tuple[list[str | int], str]]:
    problems: list[tuple[list[str | int], str]] = []
    seen: set[str] = set()
    for i, ind in enumerate(ruleset.indicators):
        if ind.code in seen:
            problems.append((["indicators", i, "code"], f"duplicate indicator code {ind.code!r}"))
        seen.add(ind.code)
    for i, rule in enumerate(ruleset.combinations):
        for j, code in enumerate(rule.all_of):
            if code not in seen:
                problems.append((["combinations", i, "all_of", j], f"unknown indicator code {code!r}"))
    rule_ids: set[str] = set()
    placed = [("combinations", i, r.id) for i, r in enumerate(ruleset.combinations)]
    placed += [("history", i, r.id) for i, r in enumerate(ruleset.history)]
    for section, i, rule_id in placed:
        if rule_id in rule_ids:
            problems.append(([section, i, "id"], f"duplicate rule id {rule_id!r}"))
        rule_ids.add(rule_id)
    for key, name in (("routes", ruleset.routes), ("rag", ruleset.rag)):
        missing = [lvl for lvl in LEVELS if lvl not in name]
        if missing:
            problems.append(([key], f"levels {missing} have no entry; every level 1-4 needs one"))
    return problems


def _line_of(node: yaml.Node | None, loc: list[str | int]) -> int | None:
    """Walks the YAML node tree along an error location to the line a person should look at."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child, line = value, key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _duplicate_keys(node: yaml.Node, path: list[str | int]) -> list[RulesetProblem]:
    """YAML quietly keeps the last of two equal keys; in a threshold document that hides a mistake."""
    problems: list[RulesetProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                field = ".".join(str(p) for p in [*path, name])
                problems.append(RulesetProblem(key.start_mark.line + 1, field, "this key is given twice"))
            seen.add(name)
            problems.extend(_duplicate_keys(value, [*path, name]))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, [*path, i]))
    return problems


def parse_ruleset(text: str, source: str = "<ruleset>") -> Ruleset:
    """Parses and validates a ruleset; raises RulesetError listing every problem with its line."""
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RulesetError(source, [RulesetProblem(line, "(yaml)", str(exc.problem))]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise RulesetError(
            source, [RulesetProblem(line, "(yaml)", f"unreadable character {exc.character!r}")]
        ) from None
    if not isinstance(data, dict) or tree is None:
        raise RulesetError(source, [RulesetProblem(1, "(file)", "must be a mapping of ruleset fields")])
    duplicates = _duplicate_keys(tree, [])
    if duplicates:
        raise RulesetError(source, duplicates)
    try:
        ruleset = Ruleset.model_validate(data)
    except ValidationError as exc:
        problems = [
            RulesetProblem(
                _line_of(tree, [p for p in err["loc"] if isinstance(p, (str, int))]),
                ".".join(str(p) for p in err["loc"]) or "(file)",
                err["msg"],
            )
            for err in exc.errors(include_input=False, include_url=False)
        ]
        raise RulesetError(source, problems) from None
    semantic = _semantic_problems(ruleset)
    if semantic:
        problems = [
            RulesetProblem(_line_of(tree, loc), ".".join(str(p) for p in loc), msg) for loc, msg in semantic
        ]
        raise RulesetError(source, problems)
    return ruleset


def load_ruleset(path: Path | None = None) -> Ruleset:
    """Loads the council's ruleset file, or the default shipped with the service."""
    if path is None:
        text = resources.files("mash.rulesets").joinpath("default.yaml").read_text(encoding="utf-8")
        return parse_ruleset(text, "default ruleset")
    return parse_ruleset(path.read_text(encoding="utf-8"), str(path))
