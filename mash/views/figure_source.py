"""The figures' source: the latest case record per contact and plan per id, from Kafka.

`mash report` reads it to the end once; the console keeps it current for the live
gauges. Both then compute with `mash.domain.figures.figures`, so they agree by
construction.
"""

from __future__ import annotations

import orjson

from mash.adapters.follow import TopicFollower
from mash.adapters.ports import Record
from mash.config import Settings
from mash.domain.case import CaseRecord, PlanRecord, supersedes
from mash.domain.figures import ContactFact, PlanFact
from mash.observability.logging import get_logger

log = get_logger(__name__)


class FigureSource:
    def __init__(self) -> None:
        self.contacts: dict[str, ContactFact] = {}
        self.plans: dict[str, PlanFact] = {}
        self._placed: dict[str, CaseRecord | PlanRecord] = {}  # the record each fact came from

    def add(self, topic_kind: str, value: bytes) -> None:
        if topic_kind == "cases":
            self.add_case(CaseRecord.model_validate(orjson.loads(value)))
        else:
            self.add_plan(PlanRecord.model_validate(orjson.loads(value)))

    def add_case(self, record: CaseRecord) -> None:
        if self._kept(record.contact_id, record):
            self.contacts[record.contact_id] = ContactFact.of(record)

    def add_plan(self, plan: PlanRecord) -> None:
        if self._kept(plan.plan_id, plan):
            self.plans[plan.plan_id] = PlanFact.of(plan)

    def _kept(self, key: str, record: CaseRecord | PlanRecord) -> bool:
        if not supersedes(record, self._placed.get(key)):
            return False
        self._placed[key] = record
        return True


def figures_follower(settings: Settings, source: FigureSource) -> TopicFollower:
    kinds = {settings.topic("cases"): "cases", settings.topic("plans"): "plans"}

    def on_record(record: Record) -> None:
        if record.value is None:
            return
        try:
            source.add(kinds[record.topic], record.value)
        except ValueError:  # not ours to fix here: the worker only publishes valid records
            log.warning("figures_unreadable_record", topic=record.topic, offset=record.offset)

    return TopicFollower(settings, list(kinds), on_record, "figures")


async def read_source(settings: Settings) -> FigureSource:
    source = FigureSource()
    await figures_follower(settings, source).read_to_end()
    return source
