"""`mash intake`: the intake adapter as one uvicorn process."""

from __future__ import annotations

import uvicorn

from mash.config import Settings
from mash.domain.ruleset import load_ruleset
from mash.intake.agencies import AgencyDirectory
from mash.intake.app import create_intake_app
from mash.observability.logging import configure_logging


def run_intake(settings: Settings) -> None:
    configure_logging(settings.log_level, process="intake")
    app = create_intake_app(
        settings, load_ruleset(settings.ruleset_file), AgencyDirectory(settings.agencies_file)
    )
    uvicorn.run(app, host=settings.intake_host, port=settings.intake_port, log_config=None, access_log=False)
