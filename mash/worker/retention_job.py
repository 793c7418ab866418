"""The retention policy, applied each night by the worker that leads the group.

It needs no master key: it reads the case records and the keys topic and destroys keys
(mash.services.privacy). A night missed (the worker was restarting) is caught up the next night:
the policy is a condition on today's date, not an event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import faust

from mash.config import Settings
from mash.domain.calendar import DEFAULT_CALENDAR
from mash.observability.logging import get_logger
from mash.services.privacy import apply_retention

log = get_logger(__name__)


def install_retention(app: faust.App, settings: Settings) -> Callable[[], Awaitable[None]] | None:
    """Adds the nightly job (MASH_RETENTION_AT; none when it is empty) and returns it."""
    at = settings.retention_at
    if at is None:
        return None

    async def nightly() -> None:
        try:
            due = await apply_retention(settings, datetime.now(UTC), apply=True)
        except Exception as exc:  # the next night tries again; the operator sees the warning
            log.warning("retention_failed", error=type(exc).__name__)
            return
        log.info("retention_applied", children_erased=len(due))

    app.crontab(f"{at.minute} {at.hour} * * *", timezone=DEFAULT_CALENDAR.zone, on_leader=True)(nightly)
    return nightly
