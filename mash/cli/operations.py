"""What operators and maintainers run now and then: `mash imm freeze` (the IMM's agenda),
`mash dlq` (the dead letters) and `mash schemas write` (the JSON Schemas of the contracts)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import click

from mash.cli.options import EXISTING_FILE, beside_dev, settings_beside_dev


@click.group()
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

    settings = settings_beside_dev(state_dir)
    asyncio.run(ensure_topics(settings))
    try:
        result = asyncio.run(run_freeze(settings, day.date() if day else None))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date") from None
    click.echo(result.describe())


@click.group()
def dlq() -> None:
    """Dead letters: the events the worker could not use, on mash.dlq.v1."""


@dlq.command("show")
@click.option(
    "--private-key-file",
    type=EXISTING_FILE,
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

    settings = settings_beside_dev(state_dir)
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


@click.group()
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
