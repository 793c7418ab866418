"""The service's topics, and creating them with explicit settings before any process uses them.

Every topic about a child (contacts, outcomes, decisions) is keyed by the child key and
has the same number of partitions, so all of one child's events meet on one partition,
in order, with that child's table entry.
"""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from mash.config import Settings

CHILD_INPUTS = ("contacts", "outcomes", "decisions")
OUTPUTS = ("cases", "plans")
DEAD_LETTERS = "dlq"
IMM = "imm"  # the integrated mid-day meeting: frozen agendas and meeting records, keyed by meeting id
RULESETS = "rulesets"  # every ruleset version used, keyed by version (mash.streams.ruleset_registry)
# Children's data keys, wrapped, keyed by key id; a tombstone erases one (mash.adapters.keyring).
# Compacted, so Apache Kafka drops an erased key for good; every other topic keeps everything.
KEYS = "keys"
ALL = (*CHILD_INPUTS, *OUTPUTS, DEAD_LETTERS, IMM, RULESETS, KEYS)
SINGLE_PARTITION = (DEAD_LETTERS, RULESETS, KEYS)
COMPACTED = (KEYS,)


async def ensure_topics(settings: Settings) -> list[str]:
    """Creates any missing topic; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(name),
                num_partitions=1 if name in SINGLE_PARTITION else settings.topic_partitions,
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
