"""The `mash` command: the service's commands, and no measuring tools (`make bench` runs those)."""

from __future__ import annotations

from mash.cli.main import main

COMMANDS = {
    "dev",
    "worker",
    "intake",
    "console",
    "topics",
    "hash-password",
    "replay",
    "report",
    "simulate",
    "rules",
    "imm",
    "dlq",
    "schemas",
    "keys",
    "erase",
    "retention",
}


def test_mash_offers_the_services_commands_and_nothing_else() -> None:
    assert set(main.commands) == COMMANDS
