"""MkDocs hooks: the tables that restate what the code holds are made from the code at build time.

A page asks for one with a marker on a line of its own, `<!-- generated: NAME -->`, where NAME is
a key of `TABLES`. An unknown name fails the build, so a typo cannot leave a page silently empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from mash.config import Settings
from mash.domain.calendar import DEFAULT_CALENDAR, DEFAULT_TARGETS, RagTarget
from mash.domain.ruleset import LEVELS, Ruleset, load_ruleset

MARKER = re.compile(r"^<!-- generated: (?P<name>[a-z0-9-]+) -->$", flags=re.MULTILINE)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def cell(text: object) -> str:
    """Text that stays inside one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def target_text(target: RagTarget) -> str:
    if target.kind == "none":
        return "no target"
    unit = {"clock_hours": "clock hour", "working_days": "working day"}[target.kind]
    amount = f"{target.amount:g}"
    return f"{amount} {unit}{'' if amount == '1' else 's'}"


# ---------------------------------------------------------------- the threshold ruleset


def ruleset() -> Ruleset:
    return load_ruleset(None)


def ruleset_summary() -> str:
    rules = ruleset()
    counts = {level: sum(1 for i in rules.indicators if i.level == level) for level in LEVELS}
    overrides = sum(1 for i in rules.indicators if i.override)
    return table(
        ["version", "name", "indicators", "hard overrides", "combination rules", "history rules"],
        [
            [
                f"`{rules.version}`",
                cell(rules.name),
                ", ".join(f"{counts[level]} at level {level}" for level in reversed(LEVELS)),
                str(overrides),
                str(len(rules.combinations)),
                str(len(rules.history)),
            ]
        ],
    )


def ruleset_levels() -> str:
    rules = ruleset()
    rows = []
    for level in reversed(LEVELS):
        rag = rules.rag[level]
        rows.append(
            [
                str(level),
                rag.value,
                target_text(DEFAULT_TARGETS[rag.value]),
                f"`{rules.routes[level].route.value}`",
                cell(rules.routes[level].pathway),
            ]
        )
    return table(["level", "RAG", "screening target", "route", "pathway a coordinator sees"], rows)


def ruleset_indicators() -> str:
    rules = ruleset()
    rows = [
        [f"`{i.code}`", str(i.level), "yes" if i.override else "", cell(i.description)]
        for i in sorted(rules.indicators, key=lambda i: -i.level)
    ]
    return table(["code", "level", "hard override", "description"], rows)


def ruleset_combinations() -> str:
    rows = []
    for rule in ruleset().combinations:
        if rule.all_of:
            when = "all of " + ", ".join(f"`{code}`" for code in rule.all_of)
        else:
            when = f"at least {rule.min_count} different indicators at level {rule.at_level} or above"
        rows.append([f"`{rule.id}`", when, f"level {rule.level} at least", cell(rule.description)])
    return table(["rule", "fires when", "gives", "reason a coordinator reads"], rows)


def ruleset_history() -> str:
    rows = []
    for n, rule in enumerate(ruleset().history, 1):
        if rule.kind == "repeat_contacts":
            when = (
                f"{rule.min_incidents} or more separate incidents (this contact included) within "
                f"{rule.within_days} days; contacts within {rule.same_incident_hours} hours of an "
                "incident's first are the same incident"
            )
            if not rule.count_information_only:
                when += "; information-only contacts neither count nor are raised"
        elif rule.kind == "open_case":
            when = "the child has an open social care case"
        else:
            when = "a child protection plan has ended before the contact"
        effects = []
        if rule.raise_by:
            effects.append(f"raises the level by {rule.raise_by} (never above {rule.max_level})")
        if rule.min_level is not None:
            effects.append(f"makes it at least level {rule.min_level}")
        rows.append([str(n), f"`{rule.id}`", when, "; ".join(effects)])
    return table(["order", "rule", "fires when", "effect"], rows)


# ---------------------------------------------------------------- clocks


def clock_targets() -> str:
    rows = [[rag, target_text(target)] for rag, target in DEFAULT_TARGETS.items()]
    return table(["RAG", "screening target"], rows)


def working_calendar() -> str:
    cal = DEFAULT_CALENDAR
    days = sorted(cal.working_weekdays)
    span = (
        f"{WEEKDAYS[days[0]]} to {WEEKDAYS[days[-1]]}" if days == list(range(days[0], days[-1] + 1)) else ""
    )
    holidays = f"`holidays` library, country `{cal.holiday_country}`"
    if cal.holiday_subdiv:
        holidays += f", subdivision `{cal.holiday_subdiv}`"
    return table(
        ["setting", "default"],
        [
            ["time zone", f"`{cal.timezone}`"],
            ["working hours", f"{cal.day_start:%H:%M} to {cal.day_end:%H:%M}"],
            ["working days", span or ", ".join(WEEKDAYS[d] for d in days)],
            ["bank holidays", holidays],
            ["hours in a working day", f"{cal.working_day_seconds / 3600:g}"],
        ],
    )


# ---------------------------------------------------------------- settings


def default_text(field: FieldInfo) -> str:
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, time):
        return f"`{value:%H:%M}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    return f"`{value}`"


def settings_table() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"Settings.{name} has no description: the configuration page needs one")
        rows.append([f"`MASH_{name.upper()}`", default_text(field), cell(field.description)])
    return table(["variable", "default", "meaning"], rows)


TABLES: dict[str, Callable[[], str]] = {
    "ruleset-summary": ruleset_summary,
    "ruleset-levels": ruleset_levels,
    "ruleset-indicators": ruleset_indicators,
    "ruleset-combinations": ruleset_combinations,
    "ruleset-history": ruleset_history,
    "clock-targets": clock_targets,
    "working-calendar": working_calendar,
    "settings": settings_table,
}


def fill(markdown: str, where: str = "<page>") -> str:
    """The page with every marker replaced by its table."""

    def one(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in TABLES:
            raise ValueError(f"{where}: no generated table called {name!r} (known: {sorted(TABLES)})")
        return TABLES[name]()

    return MARKER.sub(one, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return fill(markdown, page.file.src_uri)
