"""The intake's topic guard: a fresh embedded broker is noticed, an unreachable one fails fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from mash.adapters.topics import partitions
from mash.config import Settings
from mash.intake import guard as guard_module
from mash.intake.guard import TopicGuard, TopicsUnavailable


@dataclass
class FakeBroker:
    topics: dict[str, int] = field(default_factory=dict)
    reachable: bool = True
    requests: int = 0

    def get_random_node(self) -> int:
        return 111

    async def send(self, node: int, request: Any) -> Any:
        self.requests += 1
        if not self.reachable:
            raise KafkaConnectionError("down")
        names = request._topics
        found = [
            (0, n, False, list(range(self.topics[n]))) if n in self.topics else (3, n, False, [])
            for n in names
        ]
        return type("MetadataResponse", (), {"topics": found})()


def settings(embedded: bool = True) -> Settings:
    return Settings(mode="development", topic_prefix="g", embedded_broker=embedded, topic_partitions=4)


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> FakeBroker:
    fake = FakeBroker()

    async def ensure_topics(s: Settings) -> list[str]:
        for name in ("contacts", "outcomes", "cases"):
            fake.topics.setdefault(s.topic(name), partitions(s, name))
        return []

    class Admin:
        def __init__(self, **_: Any) -> None: ...
        async def start(self) -> None: ...
        async def close(self) -> None: ...
        async def create_topics(self, topics: list[Any]) -> None:
            for t in topics:
                fake.topics[t.name] = t.num_partitions

    monkeypatch.setattr(guard_module, "ensure_topics", ensure_topics)
    monkeypatch.setattr(guard_module, "AIOKafkaAdminClient", Admin)
    return fake


async def test_a_fresh_broker_gets_its_topics_back_and_the_ledger_rebuilt(broker: FakeBroker) -> None:
    rebuilt: list[int] = []

    async def rebuild() -> None:
        rebuilt.append(1)

    guard = TopicGuard(settings(), rebuild)
    first = await guard.check(broker)  # type: ignore[arg-type]
    assert first == 1
    assert rebuilt == [1]
    assert await guard.check(broker) == 1  # type: ignore[arg-type]
    broker.topics.clear()  # the embedded broker restarted: empty
    assert await guard.check(broker) == 2  # type: ignore[arg-type]
    assert rebuilt == [1, 1]
    # Topics made by someone else (a starting worker) but no marker: still a fresh broker.
    broker.topics = dict(guard.partitions)
    assert await guard.check(broker) == 3  # type: ignore[arg-type]


async def test_wrongly_partitioned_topics_are_refused(broker: FakeBroker) -> None:
    async def rebuild() -> None: ...

    guard = TopicGuard(settings(), rebuild)
    # The inputs have one partition (one order for every child's events), the cases four.
    broker.topics = {**{name: 2 for name in guard.topics}, guard.marker: 1}
    with pytest.raises(TopicsUnavailable, match="not set up correctly"):
        await guard.check(broker)  # type: ignore[arg-type]


async def test_an_unreachable_broker_fails_fast_for_a_second(broker: FakeBroker) -> None:
    async def rebuild() -> None: ...

    guard = TopicGuard(settings(), rebuild)
    broker.reachable = False
    with pytest.raises(TopicsUnavailable, match="cannot be reached"):
        await guard.check(broker)  # type: ignore[arg-type]
    asked = broker.requests
    with pytest.raises(TopicsUnavailable):
        await guard.check(broker)  # type: ignore[arg-type]
    assert broker.requests == asked, "the second request was answered without asking the broker"


async def test_on_apache_kafka_missing_topics_are_refused_not_created(broker: FakeBroker) -> None:
    async def rebuild() -> None:
        raise AssertionError("never on Apache Kafka")

    guard = TopicGuard(settings(embedded=False), rebuild)
    with pytest.raises(TopicsUnavailable, match="not set up"):
        await guard.check(broker)  # type: ignore[arg-type]
    assert broker.topics == {}
    broker.topics = {name: 12 for name in guard.topics}  # any partitioning the operators chose
    assert await guard.check(broker) == 0  # type: ignore[arg-type]
