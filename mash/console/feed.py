"""Reads the cases, plans and contacts topics from the beginning into a ConsoleView, then follows them.

No consumer group: every console replica reads everything, so each holds the whole view and
any replica can answer any browser. `caught_up` is set once the records that were on the
topics at start have been read, which is when the console reports itself ready. The same
records feed the live statutory figures (`mash.views.live_figures`), so they are parsed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from pydantic import ValidationError

from mash.adapters.follow import TopicFollower
from mash.adapters.ports import Record
from mash.config import Settings
from mash.domain.case import CaseRecord, PlanRecord
from mash.observability.logging import get_logger
from mash.views.figure_source import FigureSource
from mash.views.ledger import H_CONTACT
from mash.views.queues import Change, ConsoleView

log = get_logger(__name__)

OnChanges = Callable[[list[Change]], None]


class ViewFeed:
    def __init__(
        self,
        settings: Settings,
        view: ConsoleView,
        on_changes: OnChanges,
        figures: FigureSource | None = None,
    ) -> None:
        self.view = view
        self.on_changes = on_changes
        self.figures = figures or FigureSource()
        self._topics = {name: settings.topic(name) for name in ("cases", "plans", "contacts", "keys")}
        self._changes: list[Change] = []
        self._follower = TopicFollower(
            settings, list(self._topics.values()), self._apply, "console", self._push
        )

    @property
    def caught_up(self) -> asyncio.Event:
        return self._follower.caught_up

    async def start(self) -> None:
        await self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    def _push(self) -> None:
        # Browsers only hear of changes once the view has caught up; before that they'd be noise.
        if self._changes and self.caught_up.is_set():
            self.on_changes(self._changes)
        self._changes = []

    def _apply(self, rec: Record) -> None:
        topic = rec.topic
        if topic == self._topics["keys"]:
            self._changes.extend(self.view.on_key(rec.key, rec.value))
            return
        if rec.value is None:
            return
        try:
            if topic == self._topics["cases"]:
                record = CaseRecord.model_validate_json(rec.value)
                self.figures.add_case(record)
                self._changes.extend(self.view.apply_case(record))
            elif topic == self._topics["plans"]:
                plan = PlanRecord.model_validate_json(rec.value)
                self.figures.add_plan(plan)
                self._changes.extend(self.view.apply_plan(plan))
            else:
                header = dict(rec.headers).get(H_CONTACT)
                # Contacts written by something other than the intake adapter may lack the header.
                contact_id = (
                    header.decode() if header is not None else str(orjson.loads(rec.value)["contact_id"])
                )
                self._changes.extend(self.view.add_contact(contact_id, rec.value))
        except (ValidationError, orjson.JSONDecodeError, KeyError, TypeError):
            # Only where: a pydantic error on a contact would echo a child's details.
            log.warning("console_unreadable_record", topic=topic, partition=rec.partition, offset=rec.offset)
