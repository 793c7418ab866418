"""Never a 202 for a contact the broker did not keep: the intake's check on the topics it writes.

Apache Kafka refuses a write to a topic that does not exist (given
`auto.create.topics.enable=false`, as production should set it), and keeps its topics across
restarts. The embedded broker does neither: it keeps everything in memory, so a restart
leaves it empty, and it *acknowledges* a write to a topic it does not have and then drops it
(measured with tansu 0.6.0: offsets 0, 1, 2 acknowledged, nothing readable, no topic). A
producer that knew the topic from before the restart gets no error at all.

So on the embedded broker the intake checks, before and after every write, with one small
metadata request that never creates a topic, that its topics are there and that the broker
is the one it checked before (a marker topic that only the intake creates; a restarted broker
no longer has it). A fresh broker gets the service's topics again (as a starting worker does),
the ledger is rebuilt from the (now empty) topics, and a write that may have gone into a
broker that restarted under it is answered 503, so the client retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from mash.adapters.topics import ensure_topics, partitions
from mash.config import Settings
from mash.observability.logging import get_logger

log = get_logger(__name__)

UNKNOWN_TOPIC = 3


class TopicsUnavailable(Exception):
    """The topics cannot be written safely just now; the reason is safe to show a client."""


class TopicGuard:
    def __init__(self, settings: Settings, on_fresh_broker: Callable[[], Awaitable[None]]) -> None:
        self.settings = settings
        names = ("contacts", "outcomes", "cases")
        self.topics = [settings.topic(name) for name in names]
        self.partitions = {settings.topic(name): partitions(settings, name) for name in names}
        self.marker = settings.topic("intake-epoch")
        self.on_fresh_broker = on_fresh_broker
        self.generation = 0  # goes up each time the broker is found fresh
        self._lock = asyncio.Lock()  # one set-up of a fresh broker at a time
        self._unreachable_until = 0.0

    async def _partitions(self, client: AIOKafkaClient, names: list[str]) -> dict[str, int]:
        """Partition count of each topic that exists; a metadata request that creates nothing."""
        node = client.get_random_node()
        if node is None:
            raise TopicsUnavailable("the event store cannot be reached")
        request = MetadataRequest(names, allow_auto_topic_creation=False)
        response: Any = await asyncio.wait_for(client.send(node, request), self.settings.produce_timeout_s)
        found: dict[str, int] = {}
        for topic in response.topics:
            error, name, partitions = topic[0], topic[1], topic[-1]
            if error == 0:
                found[name] = len(partitions)
            elif error != UNKNOWN_TOPIC:
                raise TopicsUnavailable("the event store is not ready")
        return found

    async def check(self, client: AIOKafkaClient) -> int:
        """Raises TopicsUnavailable unless the topics are there; returns the broker's generation.

        While the broker is away every request is answered at once for a second after a
        failed check, rather than each waiting out its own timeout.
        """
        if time.monotonic() < self._unreachable_until:
            raise TopicsUnavailable("the event store cannot be reached")
        try:
            found = await self._partitions(client, [*self.topics, self.marker])
        except (KafkaError, TimeoutError, OSError, TopicsUnavailable) as exc:
            self._unreachable_until = time.monotonic() + 1.0
            raise TopicsUnavailable("the event store cannot be reached") from exc
        missing = [t for t in self.topics if t not in found]
        if not self.settings.embedded_broker:
            if missing:
                log.error("intake_topics_missing", topics=missing)
                raise TopicsUnavailable("the event store is not set up")
            return self.generation
        wrong = [t for t in self.topics if found.get(t) not in (None, self.partitions[t])]
        if wrong:
            # Made by something else with other partitions: one order, or a child's keys, would split.
            log.error("intake_topics_wrongly_partitioned", topics=wrong)
            raise TopicsUnavailable("the event store is not set up correctly")
        if missing or self.marker not in found:
            async with self._lock:
                generation = self.generation
                found = await self._partitions(client, [*self.topics, self.marker])
                if self.generation == generation and (
                    self.marker not in found or not set(self.topics) <= set(found)
                ):
                    await self._fresh_broker([t for t in self.topics if t not in found])
        return self.generation

    async def _fresh_broker(self, missing: list[str]) -> None:
        log.warning("embedded_broker_is_fresh", missing_topics=len(missing), generation=self.generation + 1)
        try:
            await ensure_topics(self.settings)
            admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
            await admin.start()
            try:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(self.marker, num_partitions=1, replication_factor=1)])
            finally:
                await admin.close()
        except (KafkaError, TimeoutError, OSError) as exc:
            raise TopicsUnavailable("the event store is being set up") from exc
        self.generation += 1
        await self.on_fresh_broker()
