"""The commands that bring a council's events in and take its figures out.

`mash replay` feeds a file of past events through the running pipeline (mash/cli/replay.py),
`mash report` computes the statutory figures (mash/cli/report.py), and `mash simulate` makes up
a council's events, to a file or posted to an intake (mash/simulate).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mash.cli.options import EXISTING_FILE, beside_dev, no_dev_hint, running_dev, settings_beside_dev

if TYPE_CHECKING:
    from mash.config import Settings
    from mash.domain.ruleset_history import RulesetHistory
    from mash.intake.agencies import Agency
    from mash.simulate import SimulationConfig

# `mash simulate --post` with no URL: the running `mash dev`'s intake.
POST_TO_DEV = "dev"


@click.command()
@click.argument("file", type=EXISTING_FILE)
@click.option("--quiet", is_flag=True, help="no progress bars")
@beside_dev
def replay(file: Path, quiet: bool, state_dir: Path) -> None:
    """Feed a JSON Lines file of historical contacts, outcomes and decisions through the running pipeline.

    Returns when every event has been processed. Bad lines are reported with their
    numbers and skipped; the rest still load. A contact's indicator codes are checked against
    the ruleset in force on the day it was received (every version registered on the rulesets
    topic, and the current file). The line format is in docs/figures.md ("Replay files").
    """
    from mash.cli.replay import replay as run_replay

    settings = settings_beside_dev(state_dir)
    agencies, rulesets = _replay_context(settings)
    result = asyncio.run(run_replay(settings, file, agencies, rulesets, not quiet))
    for number, reason in result.bad_lines:
        click.echo(f"{file}:{number}: skipped: {reason}", err=True)
    rate = result.contacts / result.seconds if result.seconds else 0.0
    click.echo(
        f"replayed {result.contacts} contacts and {result.outcomes} outcomes in {result.seconds:.1f} s "
        f"({rate:.0f} contacts/s), with {result.decisions} decisions; "
        f"{len(result.bad_lines)} bad lines skipped"
    )


def _replay_context(settings: Settings) -> tuple[dict[str, Agency], RulesetHistory]:
    """The agencies a replay file may name, and every ruleset version registered (topics created)."""
    from mash.adapters.ruleset_registry import history_with
    from mash.adapters.topics import ensure_topics
    from mash.domain.ruleset import load_ruleset
    from mash.domain.ruleset_history import RulesetConflict
    from mash.intake.agencies import AgencyFile

    agencies = {a.id: a for a in AgencyFile.model_validate_json(settings.agencies_file.read_bytes()).agencies}
    asyncio.run(ensure_topics(settings))
    try:
        rulesets = asyncio.run(history_with(settings, load_ruleset(settings.ruleset_file)))
    except RulesetConflict as exc:
        raise click.ClickException(str(exc)) from None
    return agencies, rulesets


@click.command()
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
    result = asyncio.run(compute_report(settings_beside_dev(state_dir), first, last))
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


@click.command("simulate")
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
    type=EXISTING_FILE,
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
def simulate(
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
    import time

    from mash.simulate import write_jsonl

    if (out is None) == (post_url is None):
        raise click.UsageError("give one of --out PATH or --post URL")
    config = _simulation(seed, children, days, start, contacts_per_day, posting=post_url is not None)
    began = time.perf_counter()
    if out is not None:
        lines = write_jsonl(config, out)
        click.echo(f"wrote {lines} lines to {out} in {time.perf_counter() - began:.1f}s")
        return
    assert post_url is not None
    url, posted, skipped = _post(config, *_post_target(post_url, keys, state_dir), rate)
    click.echo(
        f"posted {posted} lines to {url} in {time.perf_counter() - began:.1f}s; "
        f"skipped {skipped} decision lines (people decide in the console)"
    )


def _simulation(
    seed: int,
    children: int,
    days: int,
    start: datetime | None,
    contacts_per_day: float | None,
    *,
    posting: bool,
) -> SimulationConfig:
    from mash.simulate import SimulationConfig

    options: dict[str, Any] = {"seed": seed, "children": children, "days": days}
    if contacts_per_day is not None:
        options["contacts_per_day"] = contacts_per_day
    if start is not None:
        options["start"] = start.date()
    elif posting:
        # End the run today: the intake refuses contacts dated in the future.
        options["start"] = datetime.now(UTC).date() - timedelta(days=days)
    return SimulationConfig(**options)


def _post_target(post_url: str, keys: Path | None, state_dir: Path) -> tuple[str, Path | None]:
    """The intake and keys to post to: those given, else the running `mash dev`'s."""
    running = running_dev(state_dir)
    if post_url == POST_TO_DEV:
        if running is None:
            raise click.UsageError(
                f"--post with no URL posts to the running `mash dev`, but "
                f"{no_dev_hint(state_dir, or_cluster=False)}"
            )
        post_url = f"http://{running.env['MASH_INTAKE_HOST']}:{running.env['MASH_INTAKE_PORT']}"
    if keys is None and running is not None:
        keys = state_dir / "demo-keys.json"
    return post_url, keys


def _post(config: SimulationConfig, url: str, keys: Path | None, rate: float) -> tuple[str, int, int]:
    """Posts the simulated contacts and outcomes; returns the intake, lines posted, decisions skipped."""
    import json

    from mash.simulate import PostError, post_to_service

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
            post_to_service(config, url, json.loads(keys.read_text()), rate, on_refused=refused)
        )
    except (PostError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    return url, result.posted, result.decisions_skipped
