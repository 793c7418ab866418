"""`mash intake`: the intake adapter as one uvicorn process."""

from __future__ import annotations

import sys

import uvicorn

from mash.adapters.ruleset_file import RulesetHolder, load_or_exit
from mash.config import Settings
from mash.intake.agencies import AgencyDirectory
from mash.intake.app import create_intake_app
from mash.observability.logging import configure_logging


def run_intake(settings: Settings) -> None:
    configure_logging(settings.log_level, process="intake")
    ruleset = load_or_exit(settings.ruleset_file)
    try:
        agencies = AgencyDirectory(settings.agencies_file)
    except (OSError, ValueError) as exc:
        # Only the error's type: a validation error would echo the file's contents.
        sys.exit(f"cannot read the agencies file {settings.agencies_file}: {type(exc).__name__}")
    holder = RulesetHolder(ruleset, settings.ruleset_file, settings.ruleset_check_s)
    app = create_intake_app(settings, holder, agencies)
    # uvloop and httptools, named rather than "auto" so that a missing one fails at start rather
    # than silently costing the adapter throughput (docs/performance.md).
    uvicorn.run(
        app,
        host=settings.intake_host,
        port=settings.intake_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
    )
