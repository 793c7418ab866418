"""What the `mash` commands share: reading the settings, and running beside `mash dev`.

A mistake in the settings ends the command with the errors and exit status 2, never a traceback.
A command that talks to Kafka, run beside `mash dev`, uses that stack's settings for whatever the
environment does not set (docs/running-locally.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from mash.cli.dev_settings import DevSettingsFile, read_settings_file
from mash.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def settings_from_env(hint: str | None = None, **overrides: Any) -> Settings:
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


def opening(given: Settings) -> Settings:
    """The settings of a part that seals or opens personal details: its master key must be there."""
    try:
        given.master()
    except ValueError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    return given


def running_dev(state_dir: Path) -> DevSettingsFile | None:
    found = read_settings_file(state_dir)
    return found if found is not None and found.running() else None


def settings_beside_dev(state_dir: Path) -> Settings:
    """For a command run beside `mash dev`: the environment first, then the settings of the
    `mash dev` running with `state_dir`, then the defaults."""
    running = running_dev(state_dir)
    if running is None:
        return settings_from_env(hint=no_dev_hint(state_dir))
    for key in running.overridden(os.environ):
        click.echo(
            f"note: {key} is the environment's, not the running `mash dev`'s ({running.path})", err=True
        )
    return settings_from_env(**running.settings_values(os.environ))


def no_dev_hint(state_dir: Path, *, or_cluster: bool = True) -> str:
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


def state_dir_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".mash"),
        show_default=True,
        envvar="MASH_STATE_DIR",
        help=f"{help_text} (MASH_STATE_DIR)",
    )


# Every command that talks to Kafka: run beside `mash dev`, it uses that stack's settings.
beside_dev = state_dir_option("the folder of the running `mash dev` whose settings to use")

# An existing file given as an argument or option.
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
