"""`mash keys`, `mash erase` and `mash retention`: the commands around personal data.

What each does to the keys topic, and what it means on Kafka: docs/security-and-privacy.md.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click

from mash.adapters.sealing import new_master_key
from mash.cli.options import beside_dev, settings_beside_dev


@click.group()
def keys() -> None:
    """The master key that wraps every child's data key."""


@keys.command("new")
@click.option("--id", "key_id", help="the key's id (default: a random mk-...)")
def keys_new(key_id: str | None) -> None:
    """Print a new master key, ID:BASE64, for MASH_MASTER_KEYS. Keep it in the council's secret store."""
    click.echo(new_master_key(key_id))


@keys.command("rotate")
@beside_dev
def keys_rotate(state_dir: Path) -> None:
    """Re-wrap every data key with the first key of MASH_MASTER_KEYS.

    Put the new key first and the old one after it, run this, then drop the old key from the
    setting once every process has restarted (docs/security-and-privacy.md, "Rotating the master key").
    """
    from mash.services.privacy import rotate

    count = asyncio.run(rotate(settings_beside_dev(state_dir)))
    click.echo(f"re-wrapped {count} data keys with the current master key")


@click.command()
@click.argument("child")
@click.option("--reason", required=True, help="the council's decision it acts on (a reference, never a name)")
@click.option("--by", required=True, help="who decided the erasure")
@beside_dev
def erase(child: str, reason: str, by: str, state_dir: Path) -> None:
    """Erase a child's personal details: CHILD is a child key (ck-...) or one of its contact ids (ct-...).

    Destroys the child's data keys, so every contact sealed under them, on every topic and copy,
    can no longer be opened; records why. Case records and figures, which are pseudonymous, stay.
    """
    from mash.adapters.producer import command_publisher
    from mash.services.privacy import UnknownChild, child_of, erase, read_keyring

    settings = settings_beside_dev(state_dir)

    async def run() -> tuple[str, int]:
        child_key, contacts = await child_of(settings, child)
        keyring = await read_keyring(settings, opens=False)
        async with command_publisher(settings) as publisher:
            keys_topic = settings.topic("keys")
            done = await erase(
                publisher, keys_topic, keyring, child_key, contacts, reason, by, datetime.now(UTC)
            )
        return done.child_key, done.keys

    try:
        child_key, count = asyncio.run(run())
    except UnknownChild as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"erased {child_key}: {count} data keys destroyed")


@click.group()
def retention() -> None:
    """The council's retention policy for personal details (MASH_RETENTION_NFA_YEARS)."""


@retention.command("run")
@click.option(
    "--apply/--dry-run", default=False, help="erase (--apply) or only report (--dry-run, the default)"
)
@beside_dev
def retention_run(apply: bool, state_dir: Path) -> None:
    """Report (or erase) the children the retention policy says to erase today, and why."""
    from mash.services.privacy import apply_retention

    settings = settings_beside_dev(state_dir)
    due = asyncio.run(apply_retention(settings, datetime.now(UTC), apply=apply))
    for child in due:
        click.echo(f"{child.child_key}  {child.contacts} contacts  {child.reason}")
    verb = "erased" if apply else "would erase"
    click.echo(
        f"{verb} {len(due)} children: every contact ended with no further action, last contact over "
        f"{settings.retention_nfa_years} years ago"
    )
