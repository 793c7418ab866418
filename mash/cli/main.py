"""The `mash` command: the group and its commands, each defined in the module of its topic.

processes: dev, worker, intake, console, topics, hash-password; data: replay, report, simulate;
rules: rules; operations: imm, dlq, schemas; privacy: keys, erase, retention.
"""

from __future__ import annotations

import click

from mash.cli import data, operations, privacy, processes, rules
from mash.observability.logging import configure_logging


@click.group()
def main() -> None:
    """MASH triage event service. Settings come from MASH_* environment variables (docs/configuration.md).

    Commands run beside `mash dev` (`make run`) use its settings for whatever the environment
    doesn't set: see docs/running-locally.md.
    """
    # Batch commands print their results on stdout; their logs (JSON) go to stderr.
    # Long-running parts reconfigure logging for themselves.
    configure_logging("warning", process="cli")


for command in (
    processes.dev,
    processes.worker,
    processes.intake,
    processes.console,
    processes.hash_password,
    processes.topics,
    data.replay,
    data.report,
    data.simulate,
    rules.rules,
    operations.imm,
    operations.dlq,
    operations.schemas,
    privacy.keys,
    privacy.erase,
    privacy.retention,
):
    main.add_command(command)
