"""What the intake's handlers work with, built once per app and kept on `app.state.runtime`.

Its lifespan: `start` connects to Kafka in the background (the adapter meanwhile serves HTTP,
live but not ready, and answers writes 503), then has the ledger follow its topics and opens
the producer for writes; `stop` undoes it all.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from dataclasses import dataclass, field

from fastapi import Request

from mash.adapters.keyring import Keyring
from mash.adapters.ruleset_file import RulesetHolder
from mash.config import Settings
from mash.domain.ruleset import Ruleset
from mash.intake.accepted_log import AcceptedLog
from mash.intake.agencies import AgencyDirectory
from mash.intake.guard import TopicGuard
from mash.intake.kafka import IntakeProducer
from mash.intake.limits import RateLimiter
from mash.observability.logging import get_logger
from mash.services.submissions import ContactSubmissions
from mash.views.ledger import LedgerFeed

log = get_logger(__name__)


@dataclass
class IntakeRuntime:
    settings: Settings
    rules: RulesetHolder
    agencies: AgencyDirectory
    feed: LedgerFeed
    guard: TopicGuard
    kafka: IntakeProducer
    contacts: ContactSubmissions
    limiter: RateLimiter = field(default_factory=RateLimiter)
    accepted_log: AcceptedLog = field(default_factory=AcceptedLog)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(
        cls, settings: Settings, ruleset: Ruleset | RulesetHolder, agencies: AgencyDirectory
    ) -> IntakeRuntime:
        rules = (
            ruleset
            if isinstance(ruleset, RulesetHolder)
            else RulesetHolder(ruleset, settings.ruleset_file, settings.ruleset_check_s)
        )
        feed = LedgerFeed.from_kafka(settings, Keyring(settings.master()))
        guard = TopicGuard(settings, feed.rebuild)
        kafka = IntakeProducer(settings, guard)
        contacts = ContactSubmissions(
            settings, kafka, feed, rules, connected=lambda: kafka.ready, same_broker=kafka.same_broker
        )
        return cls(settings, rules, agencies, feed, guard, kafka, contacts)

    @property
    def ready(self) -> bool:
        return self.feed.caught_up and self.kafka.ready

    async def start(self) -> None:
        connecting = asyncio.create_task(self._connect(), name="connect-kafka")
        connecting.add_done_callback(_stop_if_failed)
        self._tasks = [connecting, asyncio.create_task(self.accepted_log.run(), name="log-accepted")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.accepted_log.flush()
        await self.feed.stop()
        await self.kafka.stop()

    async def _connect(self) -> None:
        await self.kafka.connect()
        await self.feed.start()
        self.kafka.open()
        log.info("intake_connected_to_kafka")
        # What start-up made (modules, app, clients) lives as long as the process: keep it out
        # of the collector's full passes, which otherwise stall every request for 60-120 ms.
        gc.collect()
        gc.freeze()


def _stop_if_failed(task: asyncio.Task[None]) -> None:
    """A failure `connect` does not wait out is a bug: stop, as a failed start-up would, so the
    supervisor restarts the adapter rather than leave it live and never ready."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("intake_cannot_start", error=type(error).__name__)
        os.kill(os.getpid(), signal.SIGTERM)


def runtime_of(request: Request) -> IntakeRuntime:
    runtime: IntakeRuntime = request.app.state.runtime
    return runtime
