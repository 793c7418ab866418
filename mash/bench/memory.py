"""Worker memory with 1,000,000 children in its table.

Pushing a million contacts through the pipeline would take far longer than a bench run
on the embedded broker, so the table is filled the way a restarted worker fills it: from
its changelog topic. Before the worker starts, the bench writes one changelog record per
child, keyed by child key, to the partition the contacts topic would put that child on;
each value is a real `ChildState` (JSON) made by the worker's own step (`apply`) from the
run's simulated contacts. The first children are exactly the simulated children with their
states; the rest have keys of their own and reuse those states round-robin, so value
sizes follow the simulation. The worker then recovers the table into RocksDB, as after a
restart, and is measured when ready. Then it processes further simulated contacts live
(some about children already in the table, whose recovered states it reads and extends),
and is measured again. After it stops, the bench counts the children in its RocksDB files.

The comparison, same broker, same run: a worker with an empty table, ready and idle.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from mash.bench.common import (
    BenchError,
    OutputCounter,
    Record,
    bench_producer,
    cpu_seconds,
    create_changelog,
    create_topics,
    new_prefix,
    produce,
    read_memory,
    service_env,
    wait_all_ready,
    worker_proc,
)
from mash.config import Settings
from mash.domain.child import ChildState, apply
from mash.domain.contact import ContactEvent
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ContactEntry
from mash.intake.ledger import H_CONTACT


@dataclass
class MemoryResult:
    children: int
    changelog_mib: float
    recovery_s: float
    recovery_cpu_s: float
    rss_ready_mib: float
    rss_after_live_mib: float
    peak_mib: float
    live_contacts: int
    empty_rss_mib: float
    children_in_rocksdb: int | None

    @property
    def rss_mib(self) -> float:
        """The figure reported: resident memory once it has also processed contacts live."""
        return max(self.rss_ready_mib, self.rss_after_live_mib)


def child_states(events: Sequence[ContactEvent]) -> dict[str, bytes]:
    """Each child's table value after its contacts, by the worker's own step, in event-time order."""
    ruleset = load_ruleset()
    history = RulesetHistory.of(ruleset)
    states: dict[str, ChildState] = {}
    for event in sorted(events, key=lambda e: e.received_at):
        state = states.get(event.child_key, ChildState())
        entry = ContactEntry.of(event, ruleset.version)
        states[event.child_key] = apply(state, event.child_key, entry, history).state
    return {key: state.model_dump_json().encode() for key, state in states.items()}


def synthetic_key(i: int) -> bytes:
    """A child key in the service's format (`ck-` and 32 hex digits) that no real child has."""
    return b"ck-" + hashlib.blake2b(f"bench-child-{i}".encode(), digest_size=16).hexdigest().encode()


async def write_changelog(settings: Settings, states: dict[str, bytes], children: int) -> tuple[int, int]:
    """One changelog record per child; returns (records, bytes).

    Written with normal batching, then one more record alone on each partition: on the
    embedded broker a partition's reported end is the last batch's first offset + 1, and a
    single-record batch at the end makes it exact, so recovery reads every record.
    """
    topic = await create_changelog(settings)
    real = list(states.items())
    values = [value for _, value in real]
    producer = bench_producer(settings.kafka_bootstrap)
    await producer.start()
    size = 0
    last_on: dict[int, tuple[bytes, bytes]] = {}
    written: dict[int, int] = {}
    try:
        pending: list[asyncio.Future[Any]] = []
        keys: list[tuple[bytes, bytes]] = []

        async def settle() -> None:
            for (key, value), meta in zip(keys, await asyncio.gather(*pending), strict=True):
                last_on[meta.partition] = (key, value)
                written[meta.partition] = written.get(meta.partition, 0) + 1
            pending.clear()
            keys.clear()

        for i in range(children):
            if i < len(real):
                key, value = real[i][0].encode(), real[i][1]
            else:
                key, value = synthetic_key(i), values[i % len(values)]
            size += len(key) + len(value)
            keys.append((key, value))
            pending.append(await producer.send(topic, key=key, value=value))
            if len(pending) >= 10_000:
                await settle()
        await settle()
        await producer.flush()
        for partition, (key, value) in sorted(last_on.items()):
            # The same child again (a table update changes nothing), alone in its batch.
            await (await producer.send(topic, key=key, value=value, partition=partition))
            written[partition] += 1
    finally:
        await producer.stop()
    await _check_ends(settings.kafka_bootstrap, topic, written)
    return sum(written.values()), size


async def _check_ends(bootstrap: str, topic: str, written: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in written])
    finally:
        await consumer.stop()
    short = {
        tp.partition: (end, written[tp.partition]) for tp, end in ends.items() if end != written[tp.partition]
    }
    if short:
        raise BenchError(f"changelog end offsets are not exact (partition: (end, written)): {short}")


def count_rocksdb_children(data_dir: Path) -> int | None:
    """Keys in the worker's table files (its offset bookkeeping aside); None if rocksdict can't open them."""
    try:
        from rocksdict import AccessType, Options, Rdict
    except ImportError:
        return None
    total = 0
    for path in sorted(data_dir.glob("v1/tables/*-children-*.db")):
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            keys = db.keys()  # iterating the Rdict itself fails in raw mode
            total += sum(1 for key in keys if not (isinstance(key, bytes) and key.startswith(b"__faust")))
        finally:
            db.close()
    return total


async def _empty_worker_rss(bootstrap: str, work: Path) -> float:
    settings = await create_topics(bootstrap, new_prefix("memory-empty"))
    env = service_env(bootstrap, settings.topic_prefix, work, embedded_profile=False)
    worker = worker_proc(env, work, "memory-empty").start()
    try:
        await asyncio.to_thread(wait_all_ready, [worker])
        await asyncio.sleep(2.0)
        return read_memory(worker.pid).rss_mib
    finally:
        worker.stop()


async def run_memory(
    bootstrap: str,
    work: Path,
    events: Sequence[ContactEvent],
    records: Sequence[Record],
    *,
    children: int = 1_000_000,
    sample: int = 5_000,
    live: int = 10_000,
) -> MemoryResult:
    """`events`/`records`: the run's contacts; the first `sample` give the states, the next `live`
    are processed live after recovery."""
    empty_rss = await _empty_worker_rss(bootstrap, work)
    states = child_states(events[:sample])
    settings = await create_topics(bootstrap, new_prefix("memory"))
    _, size = await write_changelog(settings, states, children)
    env = service_env(bootstrap, settings.topic_prefix, work, embedded_profile=False)
    worker = worker_proc(env, work, "memory-worker")
    started = time.perf_counter()
    worker.start()
    try:
        await asyncio.to_thread(wait_all_ready, [worker], max(300.0, children / 2000))
        recovery_s = time.perf_counter() - started
        recovery_cpu_s = cpu_seconds(worker.pid)
        ready = read_memory(worker.pid)
        counter = OutputCounter(bootstrap, settings.topic("cases"))
        await counter.start()
        try:
            batch = records[sample : sample + live]
            await produce(bootstrap, settings.topic("contacts"), batch)
            expected = [dict(headers)[H_CONTACT] for _, _, headers in batch]
            await counter.wait_for_keys(expected, max(300.0, len(batch) / 50), [worker])
        finally:
            await counter.stop()
        after = read_memory(worker.pid)
    finally:
        worker.stop()
    in_db = count_rocksdb_children(Path(worker.env["MASH_DATA_DIR"]))
    return MemoryResult(
        children=children,
        changelog_mib=size / 1024 / 1024,
        recovery_s=recovery_s,
        recovery_cpu_s=recovery_cpu_s,
        rss_ready_mib=ready.rss_mib,
        rss_after_live_mib=after.rss_mib,
        peak_mib=after.peak_mib,
        live_contacts=len(batch),
        empty_rss_mib=empty_rss,
        children_in_rocksdb=in_db,
    )
