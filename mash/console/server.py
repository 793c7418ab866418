"""`mash console`: the coordinator console as one uvicorn process."""

from __future__ import annotations

import sys

import uvicorn

from mash.config import Settings
from mash.console.app import create_console_app
from mash.console.runtime import build_runtime
from mash.console.users import UserDirectory
from mash.domain.ruleset import load_ruleset
from mash.observability.logging import configure_logging

# Open browsers hold server-sent-event streams for as long as they are open; without a limit
# a graceful shutdown would wait for every coordinator to close their tab.
SHUTDOWN_GRACE_S = 3


def run_console(settings: Settings) -> None:
    configure_logging(settings.log_level, process="console")
    if settings.console_session_secret is None:
        sys.exit("MASH_CONSOLE_SESSION_SECRET must be set: it signs the console's session cookies")
    try:
        users = UserDirectory(settings.console_users_file)
    except (OSError, ValueError) as exc:
        # Only the error's type: a validation error would echo the file's contents.
        sys.exit(f"cannot read the console users file {settings.console_users_file}: {type(exc).__name__}")
    app = create_console_app(build_runtime(settings, users, load_ruleset(settings.ruleset_file)))
    uvicorn.run(
        app,
        host=settings.console_host,
        port=settings.console_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
