"""The `mash` command: run the parts, check rulesets, write schemas."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from mash.bench.command import bench as bench_command
from mash.config import Settings
from mash.observability.logging import configure_logging


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            click.echo(f"configuration error: {field}: {err['msg']}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """MASH triage event service. Settings come from MASH_* environment variables (docs/configuration.md)."""
    # Batch commands print their results on stdout; their logs (JSON) go to stderr.
    # Long-running parts reconfigure logging for themselves.
    configure_logging("warning", process="cli")


main.add_command(bench_command)


@main.command()
@click.option("--intake-port", type=int, help="default 8400 (MASH_INTAKE_PORT)")
@click.option("--worker-port", type=int, help="default 8402 (MASH_WORKER_PORT)")
@click.option("--console-port", type=int, help="default 8401 (MASH_CONSOLE_PORT)")
@click.option("--broker-port", type=int, default=0, help="embedded broker port; default: a free one")
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path(".mash"), show_default=True)
@click.option("--no-demo-data", is_flag=True, help="don't post the demo contacts")
def dev(
    intake_port: int | None,
    worker_port: int | None,
    console_port: int | None,
    broker_port: int,
    state_dir: Path,
    no_demo_data: bool,
) -> None:
    """Run everything on the embedded broker: broker, worker, intake, console and demo data."""
    from mash.dev import run_dev

    settings = _settings(
        mode="development",
        intake_port=intake_port,
        worker_port=worker_port,
        console_port=console_port,
        agencies_file=state_dir / "agencies.json",
        console_users_file=state_dir / "users.json",
        data_dir=state_dir / "worker",
    )
    run_dev(settings, state_dir, broker_port=broker_port, demo_data=not no_demo_data)


@main.command()
def worker() -> None:
    """Run one streaming worker against MASH_KAFKA_BOOTSTRAP."""
    from mash.streams.worker import run_worker

    run_worker(_settings())


@main.command()
def intake() -> None:
    """Run the intake adapter (HTTP) against MASH_KAFKA_BOOTSTRAP."""
    from mash.intake.server import run_intake

    run_intake(_settings())


@main.command()
def console() -> None:
    """Run the coordinator console (HTTP) against MASH_KAFKA_BOOTSTRAP."""
    from mash.console.server import run_console

    run_console(_settings())


@main.command("hash-password")
def hash_password() -> None:
    """Print an argon2 hash for a console user's password (for MASH_CONSOLE_USERS_FILE)."""
    from argon2 import PasswordHasher

    password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    click.echo(PasswordHasher().hash(password))


@main.command()
def topics() -> None:
    """Create the service's topics on MASH_KAFKA_BOOTSTRAP if they are missing."""
    from mash.streams.topics import ensure_topics

    created = asyncio.run(ensure_topics(_settings()))
    click.echo("created: " + (", ".join(created) if created else "nothing (all present)"))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="no progress bars")
def replay(file: Path, quiet: bool) -> None:
    """Feed a JSON Lines file of historical contacts, outcomes and decisions through the running pipeline.

    Returns when every event has been processed. Bad lines are reported with their
    numbers and skipped; the rest still load. A contact's indicator codes are checked against
    the ruleset in force on the day it was received (every version registered on the rulesets
    topic, and the current file). The line format is in docs/figures.md ("Replay files").
    """
    from mash.domain.ruleset import load_ruleset
    from mash.domain.ruleset_history import RulesetConflict
    from mash.intake.agencies import AgencyFile
    from mash.replay import replay as run_replay
    from mash.streams.ruleset_registry import history_with
    from mash.streams.topics import ensure_topics

    settings = _settings()
    agencies = {a.id: a for a in AgencyFile.model_validate_json(settings.agencies_file.read_bytes()).agencies}
    asyncio.run(ensure_topics(settings))
    try:
        rulesets = asyncio.run(history_with(settings, load_ruleset(settings.ruleset_file)))
    except RulesetConflict as exc:
        raise click.ClickException(str(exc)) from None
    result = asyncio.run(run_replay(settings, file, agencies, rulesets, not quiet))
    for number, reason in result.bad_lines:
        click.echo(f"{file}:{number}: skipped: {reason}", err=True)
    rate = result.contacts / result.seconds if result.seconds else 0.0
    click.echo(
        f"replayed {result.contacts} contacts and {result.outcomes} outcomes in {result.seconds:.1f} s "
        f"({rate:.0f} contacts/s), with {result.decisions} decisions; "
        f"{len(result.bad_lines)} bad lines skipped"
    )


@main.command()
@click.option(
    "--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="first day, inclusive"
)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="last day, inclusive")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write here instead of stdout")
def report(start: Any, end: Any, fmt: str, out: Path | None) -> None:
    """The statutory figures for contacts received from --from to --to (by event time)."""
    from mash.report import as_csv, as_json, compute_report

    if end < start:
        raise click.BadParameter("--to is before --from")
    result = asyncio.run(compute_report(_settings(), start.date(), end.date()))
    if fmt == "json":
        text = as_json(result)
    elif fmt == "csv":
        text = as_csv(result)
    else:
        from mash.figures.scorecard import render_html

        text = render_html(result)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@main.command("simulate")
@click.option("--seed", type=int, default=1, show_default=True, help="same seed and options: same lines")
@click.option(
    "--children",
    type=click.IntRange(min=50),
    default=5000,
    show_default=True,
    help="children who may come to notice (about a quarter of the council's children)",
)
@click.option("--days", type=click.IntRange(min=1), default=730, show_default=True)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="first day (UTC); default 2024-04-01 with --out, the day --days before today with --post",
)
@click.option(
    "--contacts-per-day", type=click.FloatRange(min=0, min_open=True), help="default: children / 365"
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write JSON Lines to this file")
@click.option(
    "--post",
    "post_url",
    metavar="URL",
    help="post contacts and outcomes to a running intake: http://127.0.0.1:8400 (decisions are skipped)",
)
@click.option(
    "--keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="with --post: agency id -> API key, as in .mash/demo-keys.json",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="with --post: lines per second",
)
def simulate_command(
    seed: int,
    children: int,
    days: int,
    start: datetime | None,
    contacts_per_day: float | None,
    out: Path | None,
    post_url: str | None,
    keys: Path | None,
    rate: float,
) -> None:
    """Synthetic contacts, decisions and outcomes for a council: a JSONL file, or posted to an intake.

    With --post only contacts and the case system's outcomes are posted: people decide in the
    console, and the partner API takes no decisions, so the simulated decisions are skipped
    (and counted). The contacts then wait for someone to decide them in the console, and an
    outcome that followed a simulated decision may find no referral.
    """
    import json
    import time
    from datetime import UTC, timedelta

    from mash.simulate import PostError, SimulationConfig, post_to_service, write_jsonl

    if (out is None) == (post_url is None):
        raise click.UsageError("give one of --out PATH or --post URL")
    options: dict[str, Any] = {"seed": seed, "children": children, "days": days}
    if contacts_per_day is not None:
        options["contacts_per_day"] = contacts_per_day
    if start is not None:
        options["start"] = start.date()
    elif post_url is not None:
        # End the run today: the intake refuses contacts dated in the future.
        options["start"] = datetime.now(UTC).date() - timedelta(days=days)
    config = SimulationConfig(**options)
    began = time.perf_counter()
    if out is not None:
        lines = write_jsonl(config, out)
        click.echo(f"wrote {lines} lines to {out} in {time.perf_counter() - began:.1f}s")
        return
    if post_url is None or keys is None:
        raise click.UsageError("--post needs --keys FILE (the demo-keys.json the dev server writes)")
    if config.end_at > datetime.now(UTC):
        raise click.UsageError("the run would end after now, and the intake refuses contacts from the future")

    def refused(line: dict[str, Any], status: int, body: str) -> None:
        # The reference identifies the line without naming the child; the body is left out.
        item = line["submission"] if line["kind"] == "contact" else line["event"]
        reference = item.get("agency_reference") or item.get("reference")
        click.echo(f"refused ({status}): {line['kind']} {reference}", err=True)

    try:
        result = asyncio.run(
            post_to_service(config, post_url, json.loads(keys.read_text()), rate, on_refused=refused)
        )
    except (PostError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"posted {result.posted} lines to {post_url} in {time.perf_counter() - began:.1f}s; "
        f"skipped {result.decisions_skipped} decision lines (people decide in the console)"
    )


@main.group()
def imm() -> None:
    """The integrated mid-day meeting (IMM)."""


@imm.command("freeze")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="the meeting's date; default: today (Europe/London)",
)
def imm_freeze(day: datetime | None) -> None:
    """Freeze a meeting's agenda and publish it on mash.imm.v1, as the 11:30 scheduler does.

    Idempotent: a meeting already frozen keeps its agenda. A day with no meeting (a weekend
    or a bank holiday) freezes nothing.
    """
    from mash.streams.imm_agent import run_freeze
    from mash.streams.topics import ensure_topics

    settings = _settings()
    asyncio.run(ensure_topics(settings))
    try:
        result = asyncio.run(run_freeze(settings, day.date() if day else None))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date") from None
    click.echo(result.describe())


@main.group()
def rules() -> None:
    """Threshold rulesets."""


@rules.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
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


@main.group()
def schemas() -> None:
    """JSON Schemas of the requests and events."""


@schemas.command("write")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path("schemas"), show_default=True
)
def schemas_write(directory: Path) -> None:
    """Regenerate the JSON Schema files from the models."""
    from mash.schemas import write_schemas

    for path in write_schemas(directory):
        click.echo(f"wrote {path}")
