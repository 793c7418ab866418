"""`mash rules`: check a threshold ruleset file, register a version, list them, re-screen under one."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mash.cli.options import EXISTING_FILE, beside_dev, settings_beside_dev

if TYPE_CHECKING:
    from mash.config import Settings
    from mash.domain.ruleset import Ruleset


@click.group()
def rules() -> None:
    """Threshold rulesets."""


@rules.command("check")
@click.argument("file", type=EXISTING_FILE)
def rules_check(file: Path) -> None:
    """Validate a ruleset file; print each problem with its line, field and reason."""
    from mash.domain.ruleset import RulesetError, load_ruleset

    try:
        ruleset = load_ruleset(file)
    except RulesetError as exc:
        for problem in exc.problems:
            click.echo(f"{file}:{problem.line or 1}: {problem.field}: {problem.reason}", err=True)
        click.echo(f"{len(exc.problems)} problem(s); the ruleset was not accepted", err=True)
        sys.exit(1)
    click.echo(
        f"{file}: ruleset {ruleset.version} is valid: {len(ruleset.indicators)} indicators, "
        f"{len(ruleset.combinations)} combination rules, {len(ruleset.history)} history rules"
    )


@rules.command("publish")
@click.argument("file", type=EXISTING_FILE)
@beside_dev
def rules_publish(file: Path, state_dir: Path) -> None:
    """Register a ruleset version, so contacts received from its `effective_from` are screened
    under it (for example last year's thresholds, before replaying last year's contacts)."""
    from mash.adapters.topics import ensure_topics
    from mash.domain.ruleset import RulesetError, load_ruleset
    from mash.domain.ruleset_history import RulesetConflict

    settings = settings_beside_dev(state_dir)
    try:
        ruleset = load_ruleset(file)
    except RulesetError as exc:
        raise click.ClickException(f"{exc}; check it with `mash rules check {file}`") from None
    asyncio.run(ensure_topics(settings))
    try:
        asyncio.run(_register(settings, ruleset))
    except RulesetConflict as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"ruleset {ruleset.version} is registered: it screens contacts received from {ruleset.effective_from}"
    )


async def _register(settings: Settings, ruleset: Ruleset) -> None:
    from mash.adapters.ruleset_registry import Registry

    registry = Registry(settings)
    await registry.read()
    await registry.register(ruleset)


@rules.command("list")
@beside_dev
def rules_list(state_dir: Path) -> None:
    """The ruleset versions the service has used, and the first day of each."""
    from mash.adapters.ruleset_registry import Registry

    registry = Registry(settings_beside_dev(state_dir))
    asyncio.run(registry.read())
    if registry.history is None:
        click.echo("no ruleset registered yet: a worker registers its own when it starts")
        return
    for ruleset in sorted(registry.history.versions, key=lambda r: r.effective_from):
        click.echo(f"{ruleset.version:<16} from {ruleset.effective_from}  {ruleset.name}")


@rules.command("rescreen")
@click.option("--version", "version", required=True, help="the registered ruleset version to screen under")
@click.option("--by", required=True, help="the manager who decided it (recorded in each case's trail)")
@click.option("--rationale", required=True, help="why (recorded in each case's trail)")
@click.option("--dry-run", is_flag=True, help="count the contacts it would re-screen; send nothing")
@beside_dev
def rules_rescreen(version: str, by: str, rationale: str, dry_run: bool, state_dir: Path) -> None:
    """Re-screen every contact still waiting for a decision under another ruleset version.

    Each gets a manager's `rescreen` decision, recorded in its trail (the rationale sealed under
    the contact's data key: it needs MASH_MASTER_KEYS); decided contacts keep the screening they
    were decided on.
    """
    from mash.adapters.sealing import Unreadable
    from mash.services.rescreen import rescreen_waiting

    try:
        result = asyncio.run(
            rescreen_waiting(
                settings_beside_dev(state_dir),
                version,
                by=by,
                rationale=rationale,
                now=datetime.now(UTC),
                dry_run=dry_run,
            )
        )
    except (ValueError, Unreadable) as exc:  # an unknown version, no master key, a key it cannot open
        raise click.ClickException(str(exc)) from None
    verb = "would re-screen" if not result.sent else "re-screening"
    click.echo(f"{verb} {result.waiting} waiting contacts under ruleset {version}")
