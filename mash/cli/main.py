"""The `mash` command: run the parts, check rulesets, write schemas."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from mash.cli.dev_settings import DevSettingsFile, read_settings_file
from mash.config import Settings
from mash.observability.logging import configure_logging

F = TypeVar("F", bound=Callable[..., Any])


def _settings(hint: str | None = None, **overrides: Any) -> Settings:
    """Settings from the environment and `overrides`; on a mistake, the errors (and `hint`), then exit 2."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            click.echo(f"configuration error: {field}: {err['msg']}", err=True)
        if hint:
            click.echo(hint, err=True)
        sys.exit(2)


def _opening(settings: Settings) -> Settings:
    """The settings of a part that seals or opens personal details: its master key must be there."""
    try:
        settings.master()
    except ValueError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    return settings


def _running_dev(state_dir: Path) -> DevSettingsFile | None:
    found = read_settings_file(state_dir)
    return found if found is not None and found.running() else None


def _settings_beside_dev(state_dir: Path) -> Settings:
    """For a command run beside `mash dev`: the environment first, then the settings of the
    `mash dev` running with `state_dir`, then the defaults."""
    running = _running_dev(state_dir)
    if running is None:
        return _settings(hint=_no_dev_hint(state_dir))
    for key in running.overridden(os.environ):
        click.echo(
            f"note: {key} is the environment's, not the running `mash dev`'s ({running.path})", err=True
        )
    return _settings(**running.settings_values(os.environ))


def _no_dev_hint(state_dir: Path, *, or_cluster: bool = True) -> str:
    found = read_settings_file(state_dir)
    if found is None:
        where = f"no running `mash dev` found in {state_dir}"
    elif found.pid is None:
        where = f"{found.path} is not a settings file `mash dev` wrote, or cannot be read"
    else:
        where = f"the `mash dev` that wrote {found.path} (process {found.pid}) is no longer running"
    hint = f"{where}: start one with `make run` (or `mash dev`), or give the --state-dir of the one running"
    if or_cluster:
        hint += "; for a Kafka cluster, set MASH_KAFKA_BOOTSTRAP and MASH_CHILD_KEY_SECRET instead"
    return hint


def _state_dir_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".mash"),
        show_default=True,
        envvar="MASH_STATE_DIR",
        help=f"{help_text} (MASH_STATE_DIR)",
    )


# Every command that talks to Kafka: run beside `mash dev`, it uses that stack's settings.
beside_dev = _state_dir_option("the folder of the running `mash dev` whose settings to use")
# `mash simulate --post` with no URL: the running `mash dev`'s intake.
POST_TO_DEV = "dev"


@click.group()
def main() -> None:
    """MASH triage event service. Settings come from MASH_* environment variables (docs/configuration.md).

    Commands run beside `mash dev` (`make run`) use its settings for whatever the environment
    doesn't set: see docs/running-locally.md.
    """
    # Batch commands print their results on stdout; their logs (JSON) go to stderr.
    # Long-running parts reconfigure logging for themselves.
    configure_logging("warning", process="cli")


@main.command()
@click.option("--intake-port", type=int, help="the intake's port; default 8400 (MASH_INTAKE_PORT)")
@click.option("--worker-port", type=int, help="the worker's port; default 8402 (MASH_WORKER_PORT)")
@click.option("--console-port", type=int, help="the console's port; default 8401 (MASH_CONSOLE_PORT)")
@click.option(
    "--broker-port",
    type=int,
    default=0,
    help="the embedded broker's port; default: a free one, printed at start and in the settings file",
)
@_state_dir_option("its logs, demo keys and users, worker state and settings file")
@click.option("--no-demo-data", is_flag=True, help="don't post the demo contacts")
def dev(
    intake_port: int | None,
    worker_port: int | None,
    console_port: int | None,
    broker_port: int,
    state_dir: Path,
    no_demo_data: bool,
) -> None:
    """Run everything on the embedded broker: broker, worker, intake, console and demo data.

    Other commands run beside it (same folder, or the same --state-dir) use its settings.
    Ctrl-C or SIGTERM stops everything.
    """
    from mash.cli.lifetime import StopRequest

    # Before the slow imports: from here on a signal requests the stop, never interrupts it.
    stop = StopRequest.installed()
    from mash.cli.dev import run_dev

    settings = _settings(
        mode="development",
        intake_port=intake_port,
        worker_port=worker_port,
        console_port=console_port,
        agencies_file=state_dir / "agencies.json",
        console_users_file=state_dir / "users.json",
        data_dir=state_dir / "worker",
    )
    run_dev(settings, state_dir, broker_port=broker_port, demo_data=not no_demo_data, stop=stop)


@main.command()
def worker() -> None:
    """Run one streaming worker against MASH_KAFKA_BOOTSTRAP."""
    from mash.worker.main import run_worker

    run_worker(_settings())


@main.command()
def intake() -> None:
    """Run the intake adapter (HTTP) against MASH_KAFKA_BOOTSTRAP."""
    from mash.intake.server import run_intake

    run_intake(_opening(_settings()))


@main.command()
def console() -> None:
    """Run the coordinator console (HTTP) against MASH_KAFKA_BOOTSTRAP."""
    from mash.console.server import run_console

    run_console(_opening(_settings()))


@main.command("hash-password")
def hash_password() -> None:
    """Print an argon2 hash for a console user's password (for MASH_CONSOLE_USERS_FILE)."""
    from argon2 import PasswordHasher

    password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    click.echo(PasswordHasher().hash(password))


@main.command()
@beside_dev
def topics(state_dir: Path) -> None:
    """Create the service's topics on MASH_KAFKA_BOOTSTRAP if they are missing."""
    from mash.adapters.topics import ensure_topics

    created = asyncio.run(ensure_topics(_settings_beside_dev(state_dir)))
    click.echo("created: " + (", ".join(created) if created else "nothing (all present)"))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="no progress bars")
@beside_dev
def replay(file: Path, quiet: bool, state_dir: Path) -> None:
    """Feed a JSON Lines file of historical contacts, outcomes and decisions through the running pipeline.

    Returns when every event has been processed. Bad lines are reported with their
    numbers and skipped; the rest still load. A contact's indicator codes are checked against
    the ruleset in force on the day it was received (every version registered on the rulesets
    topic, and the current file). The line format is in docs/figures.md ("Replay files").
    """
    from mash.adapters.ruleset_registry import history_with
    from mash.adapters.topics import ensure_topics
    from mash.cli.replay import replay as run_replay
    from mash.domain.ruleset import load_ruleset
    from mash.domain.ruleset_history import RulesetConflict
    from mash.intake.agencies import AgencyFile

    settings = _settings_beside_dev(state_dir)
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
    "--year",
    type=click.IntRange(min=1900, max=9998),
    help="the statutory year starting 1 April YEAR: 2025 is 1 April 2025 to 31 March 2026",
)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="first day, inclusive (with --to)")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="last day, inclusive (with --from)")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write here instead of stdout")
@beside_dev
def report(
    year: int | None,
    start: datetime | None,
    end: datetime | None,
    fmt: str,
    out: Path | None,
    state_dir: Path,
) -> None:
    """The statutory figures for contacts received in the statutory year --year, or from --from
    to --to (by event time)."""
    from mash.cli.report import as_csv, as_json, compute_report

    first, last = _report_period(year, start, end)
    result = asyncio.run(compute_report(_settings_beside_dev(state_dir), first, last))
    if fmt == "json":
        text = as_json(result)
    elif fmt == "csv":
        text = as_csv(result)
    else:
        from mash.views.scorecard import render_html

        text = render_html(result)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def _report_period(year: int | None, start: datetime | None, end: datetime | None) -> tuple[date, date]:
    from mash.domain.referrals import statutory_year

    if year is not None:
        if start is not None or end is not None:
            raise click.UsageError("give --year, or --from and --to, not both")
        return statutory_year(year)
    if start is None or end is None:
        raise click.UsageError(
            "give --year YEAR (1 April YEAR to 31 March the year after), or --from and --to"
        )
    if end < start:
        raise click.BadParameter("--to is before --from")
    return start.date(), end.date()


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
    metavar="[URL]",
    is_flag=False,
    flag_value=POST_TO_DEV,
    help="post contacts and outcomes to a running intake, e.g. http://127.0.0.1:8400; with no URL, "
    "the running `mash dev`'s (decisions are skipped: people decide in the console)",
)
@click.option(
    "--keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="with --post: agency id -> API key; default: the running `mash dev`'s demo-keys.json",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="with --post: lines per second",
)
@beside_dev
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
    state_dir: Path,
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
    assert post_url is not None
    post_url, keys = _post_target(post_url, keys, state_dir)
    if keys is None:
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


def _post_target(post_url: str, keys: Path | None, state_dir: Path) -> tuple[str, Path | None]:
    """The intake and keys to post to: those given, else the running `mash dev`'s."""
    running = _running_dev(state_dir)
    if post_url == POST_TO_DEV:
        if running is None:
            raise click.UsageError(
                f"--post with no URL posts to the running `mash dev`, but "
                f"{_no_dev_hint(state_dir, or_cluster=False)}"
            )
        post_url = f"http://{running.env['MASH_INTAKE_HOST']}:{running.env['MASH_INTAKE_PORT']}"
    if keys is None and running is not None:
        keys = state_dir / "demo-keys.json"
    return post_url, keys


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
@beside_dev
def imm_freeze(day: datetime | None, state_dir: Path) -> None:
    """Freeze a meeting's agenda and publish it on mash.imm.v1, as the 11:30 scheduler does.

    Idempotent: a meeting already frozen keeps its agenda. A day with no meeting (a weekend
    or a bank holiday) freezes nothing.
    """
    from mash.adapters.topics import ensure_topics
    from mash.worker.imm_agent import run_freeze

    settings = _settings_beside_dev(state_dir)
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


@rules.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@beside_dev
def rules_publish(file: Path, state_dir: Path) -> None:
    """Register a ruleset version, so contacts received from its `effective_from` are screened
    under it (for example last year's thresholds, before replaying last year's contacts)."""
    from mash.adapters.ruleset_registry import Registry
    from mash.adapters.topics import ensure_topics
    from mash.domain.ruleset import RulesetError, load_ruleset
    from mash.domain.ruleset_history import RulesetConflict

    settings = _settings_beside_dev(state_dir)
    try:
        ruleset = load_ruleset(file)
    except RulesetError as exc:
        raise click.ClickException(f"{exc}; check it with `mash rules check {file}`") from None
    asyncio.run(ensure_topics(settings))

    async def publish() -> None:
        registry = Registry(settings)
        await registry.read()
        await registry.register(ruleset)

    try:
        asyncio.run(publish())
    except RulesetConflict as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"ruleset {ruleset.version} is registered: it screens contacts received from {ruleset.effective_from}"
    )


@rules.command("list")
@beside_dev
def rules_list(state_dir: Path) -> None:
    """The ruleset versions the service has used, and the first day of each."""
    from mash.adapters.ruleset_registry import Registry

    registry = Registry(_settings_beside_dev(state_dir))
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
                _settings_beside_dev(state_dir),
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


@main.group()
def dlq() -> None:
    """Dead letters: the events the worker could not use, on mash.dlq.v1."""


@dlq.command("show")
@click.option(
    "--private-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the operators' dead-letter private key (or MASH_DEAD_LETTER_PRIVATE_KEY); without it, no originals",
)
@click.option("--limit", type=click.IntRange(min=1), help="show only the last N dead letters")
@beside_dev
def dlq_show(private_key_file: Path | None, limit: int | None, state_dir: Path) -> None:
    """List the dead letters, one a line; with the private key, opened.

    Each line: where the record was, why it failed, its size and SHA-256 and, with the private
    key, the original key and value, which may hold personal data: never paste them into a ticket.
    """
    from mash.adapters.dead_letters import box_key, dead_letter_lines

    settings = _settings_beside_dev(state_dir)
    configured = settings.dead_letter_private_key
    if private_key_file:
        text: str | None = private_key_file.read_text()
    else:
        text = configured.get_secret_value() if configured else None
    try:
        private_key = box_key(text, "MASH_DEAD_LETTER_PRIVATE_KEY") if text else None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for line in asyncio.run(dead_letter_lines(settings, private_key, limit)):
        click.echo(line)


@dlq.command("keys")
def dlq_keys() -> None:
    """Print a new key pair for dead letters.

    The public key is for the worker (MASH_DEAD_LETTER_PUBLIC_KEY); the private key stays with the
    operators, for `mash dlq show`, and is never given to the worker.
    """
    from mash.adapters.sealing import new_box_keys

    private, public = new_box_keys()
    click.echo(f"MASH_DEAD_LETTER_PRIVATE_KEY={private}")
    click.echo(f"MASH_DEAD_LETTER_PUBLIC_KEY={public}")


@main.group()
def schemas() -> None:
    """JSON Schemas of the requests and events."""


@schemas.command("write")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), default=Path("schemas"), show_default=True
)
def schemas_write(directory: Path) -> None:
    """Regenerate the JSON Schema files from the models."""
    from mash.cli.schemas import write_schemas

    for path in write_schemas(directory):
        click.echo(f"wrote {path}")


def _privacy_commands() -> None:
    from mash.cli.privacy import erase, keys, retention

    for command in (keys, erase, retention):
        main.add_command(command)


_privacy_commands()
