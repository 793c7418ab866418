"""What a measurement's processes run with: the bench's keys, its settings, topics and environment.

Each measurement has topics of its own (`new_prefix`), on a broker it may share with others.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr

from mash.adapters.sealing import new_master_key
from mash.adapters.topics import ensure_topics
from mash.config import EMBEDDED_FETCH_WAIT_MS, Settings

BENCH_SECRET = "bench-child-key-secret"  # noqa: S105 (a bench-only key for made-up children)
BENCH_MASTER_KEYS = new_master_key("mk-bench")  # made for the run, for made-up children

# Consumer-group timings of the embedded profile (as the integration tests use): the
# embedded broker makes a first group join wait for the whole rebalance timeout.
GROUP_TIMINGS = {
    "MASH_REBALANCE_TIMEOUT_S": "2",
    "MASH_SESSION_TIMEOUT_S": "10",
    "MASH_HEARTBEAT_INTERVAL_S": "0.5",
}

# The intake's per-agency rate limit, raised out of the way: the bench measures what the
# intake can do, not the limit (whose check still runs on every request). Its workload is a
# year of history, so the window a partner may date a contact back in is widened too.
NO_RATE_LIMIT = {
    "MASH_AGENCY_RATE_PER_S": "1000000",
    "MASH_AGENCY_RATE_BURST": "1000000",
    "MASH_MAX_BACKDATE_HOURS": "100000",
}


def new_prefix(name: str) -> str:
    """A topic prefix of its own for one measurement: its own topics, group and changelog."""
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"


def bench_settings(bootstrap: str, prefix: str, **overrides: Any) -> Settings:
    return Settings(
        mode="development",
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        child_key_secret=SecretStr(BENCH_SECRET),
        master_keys=SecretStr(BENCH_MASTER_KEYS),
        **overrides,
    )


async def create_topics(bootstrap: str, prefix: str) -> Settings:
    settings = bench_settings(bootstrap, prefix)
    await ensure_topics(settings)
    return settings


# The worker's two tables (mash.worker.faust_app): each child's state, by child key, on as many
# partitions as the resolved topic; the identities agent's rows, on one partition as its inputs.
CHILDREN_TABLE = "children"
IDENTITIES_TABLE = "identities"


def changelog_topic(settings: Settings, table: str = CHILDREN_TABLE) -> str:
    """faust's name for a worker table's changelog: `{app id}-{table name}-changelog`."""
    return f"{settings.app_id}-{settings.topic_prefix}-{table}-changelog"


async def create_changelog(settings: Settings, table: str = CHILDREN_TABLE) -> str:
    """Creates a worker table's changelog topic, compacted and with the table's partitions, as
    faust creates it; returns its name."""
    topic = changelog_topic(settings, table)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=1 if table == IDENTITIES_TABLE else settings.topic_partitions,
                    replication_factor=settings.topic_replication,
                    topic_configs={"cleanup.policy": "compact"},
                )
            ]
        )
    finally:
        await admin.close()
    return topic


def service_env(
    bootstrap: str, prefix: str, work: Path, *, embedded_profile: bool, **extra: str
) -> dict[str, str]:
    """The environment of a worker or intake process, as `tests/integration/conftest.py` builds it.

    `embedded_profile` is MASH_EMBEDDED_BROKER: true makes every producer send one record per
    batch (exact end offsets on the embedded broker); false is normal Kafka batching.
    """
    return {
        **os.environ,
        "MASH_MODE": "development",
        "MASH_KAFKA_BOOTSTRAP": bootstrap,
        "MASH_EMBEDDED_BROKER": "true" if embedded_profile else "false",
        "MASH_CHILD_KEY_SECRET": BENCH_SECRET,
        "MASH_MASTER_KEYS": BENCH_MASTER_KEYS,
        "MASH_TOPIC_PREFIX": prefix,
        "MASH_PRODUCE_TIMEOUT_S": "10",
        # The bench always runs on the embedded broker, which holds every fetch for its full wait:
        # every process waits as in the embedded profile, whichever producer batching it uses.
        "MASH_FETCH_MAX_WAIT_MS": str(EMBEDDED_FETCH_WAIT_MS),
        **GROUP_TIMINGS,
        **NO_RATE_LIMIT,
        **extra,
    }
