"""The commands that run the service's processes, and what they need set up first.

`mash dev` runs them all on the embedded broker; `mash worker`, `mash intake` and `mash console`
run one each against a Kafka cluster; `mash topics` creates the topics and `mash hash-password`
hashes a console user's password. The parts' own modules load only when a command runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from mash.cli.options import beside_dev, opening, settings_beside_dev, settings_from_env, state_dir_option


@click.command()
@click.option("--intake-port", type=int, help="the intake's port; default 8400 (MASH_INTAKE_PORT)")
@click.option("--worker-port", type=int, help="the worker's port; default 8402 (MASH_WORKER_PORT)")
@click.option("--console-port", type=int, help="the console's port; default 8401 (MASH_CONSOLE_PORT)")
@click.option(
    "--broker-port",
    type=int,
    default=0,
    help="the embedded broker's port; default: a free one, printed at start and in the settings file",
)
@state_dir_option("its logs, demo keys and users, worker state and settings file")
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

    settings = settings_from_env(
        mode="development",
        intake_port=intake_port,
        worker_port=worker_port,
        console_port=console_port,
        agencies_file=state_dir / "agencies.json",
        console_users_file=state_dir / "users.json",
        data_dir=state_dir / "worker",
    )
    run_dev(settings, state_dir, broker_port=broker_port, demo_data=not no_demo_data, stop=stop)


@click.command()
def worker() -> None:
    """Run one streaming worker against MASH_KAFKA_BOOTSTRAP."""
    from mash.worker.main import run_worker

    run_worker(settings_from_env())


@click.command()
def intake() -> None:
    """Run the intake adapter (HTTP) against MASH_KAFKA_BOOTSTRAP."""
    from mash.intake.server import run_intake

    run_intake(opening(settings_from_env()))


@click.command()
def console() -> None:
    """Run the coordinator console (HTTP) against MASH_KAFKA_BOOTSTRAP."""
    from mash.console.server import run_console

    run_console(opening(settings_from_env()))


@click.command("hash-password")
def hash_password() -> None:
    """Print an argon2 hash for a console user's password (for MASH_CONSOLE_USERS_FILE)."""
    from argon2 import PasswordHasher

    password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    click.echo(PasswordHasher().hash(password))


@click.command()
@beside_dev
def topics(state_dir: Path) -> None:
    """Create the service's topics on MASH_KAFKA_BOOTSTRAP if they are missing."""
    from mash.adapters.topics import ensure_topics

    created = asyncio.run(ensure_topics(settings_beside_dev(state_dir)))
    click.echo("created: " + (", ".join(created) if created else "nothing (all present)"))
