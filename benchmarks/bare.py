"""The floor: a bare aiokafka loop that does the least a contact pipeline can do.

It consumes the contacts topic in a consumer group of its own, parses each record's JSON
(orjson) and produces one small record per contact, keyed by contact id, to its output
topic, with the same producer batching as the worker's normal profile. It never looks at
a table, a ruleset or a model, and takes one hop where the worker takes two (its identities
agent, then its children agent): its rate is what Python and Kafka manage on this machine,
and the pipeline's rate is reported as a share of it.

With `--state-topic TOPIC` it does the worker's own work instead (`DomainStep`): the same
loop and batches, with both of the worker's steps per contact in one process (which child it
is about, then the child's state and `apply`). That is not a worker (see `DomainStep`), but it
measures what a batch design could reach with today's domain steps, against the two faust
agents the worker is.

Run as its own process, like the worker: `python -m benchmarks.bare BOOTSTRAP IN OUT GROUP READY`.
It writes READY (a file) once its group has assigned it partitions, then runs until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from mash.adapters.topics import RESOLVED
from mash.config import Settings
from mash.domain.child import apply_stored
from mash.domain.identities import Identities
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.worker import identities_agent


class DomainStep:
    """The worker's per-contact work in a batch loop: an upper bound for a batch design, not a worker.

    Per contact, both of the worker's steps, one after the other in this process: the identities
    agent's (`identities_agent.step`: the sealed contact parsed, which child it is about, found in
    an in-memory `Identities` index), with a send of each `ChildUpdate` to the resolved topic as
    that agent sends it; then, for each update, the children agent's (`apply_stored`: the child's
    state from JSON, the update applied, the state back to JSON), with a send of each record it
    publishes. The update goes to the children step in memory: the resolved topic is written,
    never read back, so the loop takes one Kafka hop where the worker takes two. Per batch: one
    record per identities row and one state record per child that the batch changed, to a topic
    standing in for the two tables' changelogs. The index and the states are dicts: no recovery,
    no rebalances, no dead letters, no metrics.
    """

    def __init__(self, source: str, state_topic: str) -> None:
        self.settings = Settings(mode="development", topic_prefix=source.removesuffix(".contacts.v1"))
        self.rulesets = RulesetHistory.of(load_ruleset(self.settings.ruleset_file))
        self.state_topic = state_topic
        self.resolved = self.settings.topic(RESOLVED)
        self.identities = Identities()
        self.states: dict[bytes, bytes] = {}

    async def handle(
        self, records: list[ConsumerRecord[bytes, bytes]], producer: AIOKafkaProducer, target: str
    ) -> list[asyncio.Future[Any]]:
        pending: list[asyncio.Future[Any]] = []
        rows: dict[bytes, bytes] = {}
        changed: dict[bytes, bytes] = {}
        for record in records:
            effects = identities_agent.step(
                self.identities, record.topic, record.value or b"", self.settings, self.rulesets
            )
            rows.update((key.encode(), value) for key, value in effects.rows.items())
            for update in effects.updates:
                key = update.child_key.encode()
                value = update.model_dump_json().encode()
                pending.append(await producer.send(self.resolved, key=key, value=value))
                step, state = apply_stored(self.states.get(key), update, self.rulesets)
                self.states[key] = changed[key] = state
                for item in step.publish:
                    pending.append(await producer.send(target, key=item.key.encode(), value=item.value))
        for key, value in [*rows.items(), *changed.items()]:
            pending.append(await producer.send(self.state_topic, key=key, value=value))
        return pending


async def bare_loop(
    bootstrap: str, source: str, target: str, group: str, ready: Path, domain: DomainStep | None = None
) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        rebalance_timeout_ms=2000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    await consumer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        ready.write_text("ready")
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=2000)
            pending: list[asyncio.Future[Any]] = []
            for records in batches.values():
                if domain is not None:
                    pending.extend(await domain.handle(records, producer, target))
                    continue
                for record in records:
                    contact = orjson.loads(record.value or b"{}")
                    named = contact["identifiers"]
                    value = orjson.dumps(
                        {"contact_id": contact["contact_id"], "child": named["nhs"] or named["name_dob"]}
                    )
                    pending.append(
                        await producer.send(target, key=contact["contact_id"].encode(), value=value)
                    )
            if pending:
                await asyncio.gather(*pending)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("bootstrap", "source", "target", "group"):
        parser.add_argument(name)
    parser.add_argument("ready", type=Path)
    parser.add_argument("--state-topic", help="run the worker's domain step (DomainStep) per contact")
    args = parser.parse_args()
    domain = DomainStep(args.source, args.state_topic) if args.state_topic else None
    asyncio.run(bare_loop(args.bootstrap, args.source, args.target, args.group, args.ready, domain))


if __name__ == "__main__":
    main()
