"""Creating the service's topics with explicit settings, before any process uses them."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from mash.config import Settings

TOPICS = ("contacts", "cases", "dlq")


async def ensure_topics(settings: Settings) -> list[str]:
    """Creates any missing topic; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(name),
                num_partitions=1 if name == "dlq" else settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs={"cleanup.policy": "delete", "retention.ms": "-1"},
            )
            for name in TOPICS
            if settings.topic(name) not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()
