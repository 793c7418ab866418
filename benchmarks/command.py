"""`python -m benchmarks` (what `make bench` runs): its options. The measurements load when it runs."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click


@click.command("bench")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="also write the results here"
)
@click.option(
    "--contacts",
    type=click.IntRange(min=1000),
    help="contacts through the pipeline; default 100,000 (5,000 with --quick)",
)
@click.option("--quick", is_flag=True, help="small sizes: a smoke run of every measurement")
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help=(
        "run only these (repeat, or comma-separate): pipeline, two-workers, latency, intake, rules, "
        "memory, replay, console"
    ),
)
@click.option(
    "--profile",
    "profile_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="sample the one-worker pipeline run with py-spy (pip install py-spy); raw stacks go here",
)
@click.option("--keep", is_flag=True, help="keep the processes' logs and state (printed path)")
def bench(
    json_path: Path | None,
    contacts: int | None,
    quick: bool,
    only: tuple[str, ...],
    profile_dir: Path | None,
    keep: bool,
) -> None:
    """Measure the service on the embedded broker and print a table, each figure beside a
    comparison measured in the same run. Needs the development extra (the broker)."""
    from benchmarks.runner import BenchOptions, run, selection

    try:
        selection(only)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--only") from None
    options = BenchOptions(
        contacts=contacts,
        quick=quick,
        only=only,
        json_path=json_path,
        profile_dir=profile_dir,
        keep=keep,
        command=" ".join(["python -m benchmarks", *map(shlex.quote, sys.argv[1:])]),
    )
    run(options, echo=click.echo, progress=lambda text: click.echo(text, err=True))
