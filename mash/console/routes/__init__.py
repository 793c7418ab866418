"""The console's routes, one module per part of the console; each handler checks who is asking and
their form token, then reads the view or calls a use case (mash.services) and answers with a page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from mash.console.runtime import ConsoleRuntime, runtime
from mash.observability.logging import get_logger
from mash.services.decisions import NotRecorded, Unsealable

log = get_logger(__name__)

Runtime = Annotated[ConsoleRuntime, Depends(runtime)]


def log_not_recorded(exc: NotRecorded, **where: str) -> None:
    """Why a use case wrote nothing: the error's type or the sealing's reason, never what was typed."""
    if isinstance(exc, Unsealable):
        log.warning("console_unsealable_decision", reason=exc.reason, **where)
    else:
        log.warning("console_kafka_unavailable", error=exc.reason)
