"""Everything the console's handlers share, as one typed object on `app.state.console`.

Built when the app is created (so tests that never start the app still have it whole); `start`
and `stop` (the app's lifespan) connect the producer and follow the topics: the cases, plans,
contacts and keys into the view, the ruleset versions into the registry, and the meeting's
agendas and records into the meeting log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from jinja2 import Environment
from pydantic import ValidationError

from mash.adapters.follow import TopicFollower
from mash.adapters.keyring import Keyring
from mash.adapters.ports import Record
from mash.adapters.producer import ProducerHandle
from mash.adapters.ruleset_registry import Registry
from mash.config import Settings
from mash.console.feed import ViewFeed
from mash.console.imm_metrics import ImmCollector
from mash.console.live import Hub, update_messages
from mash.console.metrics import ConsoleMetrics
from mash.console.present import Said, environment
from mash.console.refusals import Refusals
from mash.console.sessions import Sessions
from mash.console.users import UserDirectory
from mash.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from mash.domain.imm import ImmLog, parse_imm_event
from mash.domain.ruleset import Ruleset
from mash.observability.logging import get_logger
from mash.services.decisions import Decisions, SealedWriter
from mash.services.meeting import Meetings
from mash.views.queue_order import Queue
from mash.views.queues import Change, ConsoleView

log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ConsoleRuntime:
    settings: Settings
    ruleset: Ruleset
    now: Callable[[], datetime]
    sessions: Sessions
    view: ConsoleView
    env: Environment
    said: Said
    hub: Hub
    feed: ViewFeed
    metrics: ConsoleMetrics
    registry: Registry
    kafka: ProducerHandle
    refusals: Refusals
    decisions: Decisions
    meetings: Meetings
    imm_follower: TopicFollower
    calendar: WorkingCalendar = DEFAULT_CALENDAR

    @property
    def ready(self) -> bool:
        return self.feed.caught_up.is_set() and self.kafka.ready

    def registered_versions(self) -> list[str]:
        """The ruleset versions registered: what a re-screen may choose from."""
        history = self.registry.history
        return [r.version for r in history.versions] if history else [self.ruleset.version]

    async def start(self) -> None:
        await self.kafka.start()
        await self.feed.start()
        await self.registry.follower.start()
        await self.imm_follower.start()

    async def stop(self) -> None:
        await self.imm_follower.stop()
        self.hub.close()
        await self.registry.follower.stop()
        await self.feed.stop()
        await self.kafka.stop()


def build_runtime(
    settings: Settings,
    users: UserDirectory,
    ruleset: Ruleset,
    now: Callable[[], datetime] = utc_now,
    view: ConsoleView | None = None,
    registry: Registry | None = None,
    kafka: ProducerHandle | None = None,
) -> ConsoleRuntime:
    """`view`, `registry` and `kafka` are given by tests; otherwise the console's own."""
    view = view if view is not None else ConsoleView(Keyring(settings.master()))
    hub = Hub()
    env = environment(view.keyring)
    feed = ViewFeed(settings, view, _live_updates(view, hub, env, now))
    metrics = ConsoleMetrics(view, hub, feed, now)
    kafka = kafka if kafka is not None else ProducerHandle(settings, "console")
    writer = SealedWriter(kafka, settings, view.keyring)
    meetings = Meetings(writer, ImmLog(), view.records, DEFAULT_CALENDAR, settings.imm_cutoff)
    metrics.registry.register(ImmCollector(meetings.log, view.records, DEFAULT_CALENDAR))
    return ConsoleRuntime(
        settings=settings,
        ruleset=ruleset,
        now=now,
        sessions=Sessions(users),
        view=view,
        env=env,
        said=Said(view.keyring),
        hub=hub,
        feed=feed,
        metrics=metrics,
        registry=registry if registry is not None else Registry(settings),
        kafka=kafka,
        refusals=Refusals(),
        decisions=Decisions(writer),
        meetings=meetings,
        imm_follower=_imm_follower(settings, meetings.log),
    )


def _live_updates(
    view: ConsoleView, hub: Hub, env: Environment, now: Callable[[], datetime]
) -> Callable[[list[Change]], None]:
    """What the feed calls with each batch's changes: one message for every open browser."""
    row_template = env.get_template("_row.html")

    def render_row(queue: Queue, contact_id: str, at: datetime) -> str:
        return row_template.render(r=view.records[contact_id], child_of=view.child_line, queue=queue, now=at)

    def on_changes(changes: list[Change]) -> None:
        if hub.subscribers:
            hub.publish(*update_messages(view, changes, now(), render_row))

    return on_changes


def _imm_follower(settings: Settings, imm_log: ImmLog) -> TopicFollower:
    """Every console replica follows the meetings' topic, so each shows the same meetings."""

    def on_record(record: Record) -> None:
        if record.value is None:
            return
        try:
            imm_log.add(parse_imm_event(record.value))
        except ValidationError:
            log.warning("console_imm_unreadable_record", partition=record.partition, offset=record.offset)

    return TopicFollower(settings, [settings.topic("imm")], on_record, "console-imm")


def runtime(request: Request) -> ConsoleRuntime:
    """The runtime of the app serving `request` (a FastAPI dependency)."""
    found = request.app.state.console
    assert isinstance(found, ConsoleRuntime)
    return found
