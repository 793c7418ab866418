"""The faust application: the worker's settings, its two agents and their tables, its pages and jobs.

The `identities` agent (`mash.worker.identities_agent`) reads every input event and sends each
child's update to `mash.resolved.v1`; the `children` agent (`mash.worker.children_agent`) adds it
to the child's history and publishes what that changed. Both take their events in batches and
acknowledge them once their output is with aiokafka (`mash.worker.agent_support`); what keeps
delivery at-least-once where faust alone does not is `mash.worker.delivery`.
"""

from __future__ import annotations

from typing import Any

import faust

from mash.adapters.ruleset_file import RulesetHolder
from mash.adapters.ruleset_registry import LiveRulesets, Registry
from mash.config import Settings
from mash.domain.ruleset import Ruleset
from mash.worker.agent_support import AgentSupport, DeadLetterTopic
from mash.worker.children_agent import install_children
from mash.worker.consumer import use_consumer
from mash.worker.delivery import keep_delivery, record_order
from mash.worker.faust_internals import set_fetch_wait
from mash.worker.identities_agent import install_identities
from mash.worker.imm_agent import install_imm
from mash.worker.output import kafka_producer
from mash.worker.pipeline_metrics import install_pipeline_metrics
from mash.worker.retention_job import install_retention
from mash.worker.web_pages import install_pages

PRODUCER_LINGER_S = 0.02


def faust_settings(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        "store": settings.store,
        "datadir": str(settings.data_dir),
        "processing_guarantee": "at_least_once",
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication,
        "consumer_auto_offset_reset": "earliest",
        # Every topic and table holds bytes we encode and parse ourselves (pydantic + orjson).
        "key_serializer": "raw",
        "value_serializer": "raw",
        "producer_acks": -1,
        "producer_request_timeout": settings.worker_send_timeout_s,
        "broker_rebalance_timeout": settings.rebalance_timeout_s,
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": settings.heartbeat_interval_s,
        "web_enabled": True,
        "web_bind": settings.worker_host,
        "web_host": settings.worker_host,
        "web_port": settings.worker_port,
        "web_tables_enabled": False,
        "web_graph_enabled": False,
        "web_stats_enabled": False,
        "web_router_enabled": False,
        "web_metrics_enabled": False,
    }
    if settings.embedded_broker:
        # The embedded broker reports a partition's end as the last batch's base offset + 1,
        # which makes table recovery stop short; one record per batch keeps it exact.
        conf["producer_max_batch_size"] = 1
    else:
        # Each event sends two records (the child's table changelog and its case record) to
        # eight or more partitions; without a linger nearly every batch holds one record and
        # the broker spends most of its time on request overhead. 20 ms fills batches under
        # load and adds at most 20 ms to a case's journey.
        conf["producer_linger"] = PRODUCER_LINGER_S
    return conf


def _ignore(_: object) -> None:
    """faust's `send_soon` returns a future the caller need not keep: faust's flush before each
    commit waits for it."""


def new_faust_app(app_id: str, settings: Settings) -> faust.App:
    """A faust app with the worker's settings, consumer and fetch wait (the worker's, or the
    bench's floor)."""
    app = faust.App(app_id, **faust_settings(settings))
    use_consumer(app)
    if settings.fetch_wait_ms:
        # faust fixes the fetch wait at 1500 ms. Apache Kafka answers a fetch as soon as records
        # are there, so that only bounds idle waits; the embedded broker waits the whole time,
        # which would put 1.5 s into every contact's journey.
        set_fetch_wait(app, settings.fetch_wait_ms)
    return app


def live_rulesets(app: faust.App, settings: Settings, ruleset: Ruleset, registry: Registry) -> LiveRulesets:
    """Re-reads MASH_RULESET_FILE when it changes; a file with errors is refused and the last good
    one kept; a new version is registered for every process to screen with. The versions other
    workers register are followed as they come."""
    registered = app.topic(settings.topic("rulesets"), key_type=bytes, value_type=bytes)
    rules = LiveRulesets(
        registry,
        RulesetHolder(ruleset, settings.ruleset_file, settings.ruleset_check_s),
        lambda key, value: _ignore(registered.send_soon(key=key, value=value)),
    )

    async def follow_rulesets() -> None:
        await registry.follower.start()

    app.task(follow_rulesets)
    return rules


def create_app(settings: Settings, ruleset: Ruleset, registry: Registry) -> faust.App:
    """`registry` holds every ruleset version registered so far, `ruleset` among them."""
    app = new_faust_app(settings.app_id, settings)
    rules = live_rulesets(app, settings, ruleset, registry)
    support = AgentSupport(record_order(app), DeadLetterTopic.of(app, settings))

    def producer() -> Any:  # asked for at each send: faust creates it as it starts
        return kafka_producer(app)

    install_children(app, settings, producer, support, rules)
    install_identities(app, settings, producer, support, rules)
    install_pages(app)
    install_pipeline_metrics(app, settings)  # its sensor counts a failed send before delivery's stops
    keep_delivery(app, settings.worker_send_timeout_s)
    install_imm(app, settings)
    install_retention(app, settings)
    return app
