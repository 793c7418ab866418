"""The service's topics, and creating them with explicit settings before any process uses them.

The input topics (contacts, outcomes, decisions, identity decisions) have one partition each:
which child an event is about depends on every event before it (docs/identity.md). The
resolved topic, keyed by child key, has as many partitions as the worker's child table, so all
of one child's updates meet on one partition, in order, with that child's table entry.
"""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from mash.config import Settings

# Every input about children, one partition each: the identities agent reads them in one order
# (mash.worker.identities_agent) and sends each child's updates to RESOLVED, keyed by child key.
CHILD_INPUTS = ("contacts", "outcomes", "decisions", "identities")
RESOLVED = "resolved"
OUTPUTS = ("cases", "plans")
DEAD_LETTERS = "dlq"
IMM = "imm"  # the integrated mid-day meeting: frozen agendas and meeting records, keyed by meeting id
RULESETS = "rulesets"  # every ruleset version used, keyed by version (mash.adapters.ruleset_registry)
# Children's data keys, wrapped, keyed by key id; a tombstone erases one (mash.adapters.keyring).
# Compacted, so Apache Kafka drops an erased key for good; every other topic keeps everything.
KEYS = "keys"
ALL = (*CHILD_INPUTS, RESOLVED, *OUTPUTS, DEAD_LETTERS, IMM, RULESETS, KEYS)
SINGLE_PARTITION = (*CHILD_INPUTS, DEAD_LETTERS, RULESETS, KEYS)
COMPACTED = (KEYS,)


def partitions(settings: Settings, name: str) -> int:
    """How many partitions the service gives topic `name` ("contacts", "cases", ...)."""
    return 1 if name in SINGLE_PARTITION else settings.topic_partitions


async def ensure_topics(settings: Settings) -> list[str]:
    """Creates any missing topic; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(name),
                num_partitions=partitions(settings, name),
                replication_factor=settings.topic_replication,
                topic_configs=(
                    {"cleanup.policy": "compact"}
                    if name in COMPACTED
                    else {"cleanup.policy": "delete", "retention.ms": "-1"}
                ),
            )
            for name in ALL
            if settings.topic(name) not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()
