"""`mash worker`: one faust worker process against the configured Kafka."""

from __future__ import annotations

import asyncio
import logging
import sys

import faust
from aiokafka.errors import KafkaError

from mash.adapters.ruleset_registry import Registry
from mash.adapters.topics import ensure_topics
from mash.config import Settings
from mash.domain.ruleset import Ruleset, load_ruleset
from mash.domain.ruleset_history import RulesetConflict
from mash.observability.logging import configure_logging, get_logger
from mash.worker.epoch import broker_epoch, discard_stale_state
from mash.worker.faust_app import create_app

log = get_logger(__name__)


async def _topics_when_kafka_answers(settings: Settings) -> None:
    """Waits for Kafka rather than exiting, so a worker started before its broker just waits."""
    while True:
        try:
            await ensure_topics(settings)
            return
        except KafkaError as exc:
            log.warning("waiting_for_kafka", error=type(exc).__name__)
            await asyncio.sleep(2.0)


async def _registry(settings: Settings, ruleset: Ruleset) -> Registry:
    """Every ruleset version registered so far, with this worker's own registered too."""
    registry = Registry(settings)
    await registry.read()
    try:
        await registry.register(ruleset)
    except RulesetConflict as exc:
        sys.exit(f"{settings.ruleset_file or 'the default ruleset'}: {exc}")
    return registry


def run_worker(settings: Settings) -> None:
    configure_logging(settings.log_level, process="worker")
    ruleset = load_ruleset(settings.ruleset_file)
    asyncio.run(_topics_when_kafka_answers(settings))
    if settings.embedded_broker:
        # A fresh embedded broker has none of the changelog this state was built from.
        discard_stale_state(settings, asyncio.run(broker_epoch(settings)))
    registry = asyncio.run(_registry(settings, ruleset))
    app = create_app(settings, ruleset, registry)
    # Our JSON handler, so faust's and aiokafka's lines pass the personal-data filter too.
    app.conf.loghandlers = list(logging.getLogger().handlers)
    level = settings.log_level.upper()
    only_ours = {"version": 1, "disable_existing_loggers": False, "root": {"level": level, "handlers": []}}
    worker = faust.Worker(app, loglevel=level, quiet=True, redirect_stdouts=False, logging_config=only_ours)
    worker.execute_from_commandline()
