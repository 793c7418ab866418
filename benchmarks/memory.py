"""Worker memory with 1,000,000 children in its tables.

Pushing a million contacts through the pipeline would take far longer than a bench run
on the embedded broker, so the worker's two tables are filled the way a restarted worker
fills them: from their changelog topics. Before the worker starts, the bench writes

- the children table's changelog: one record per child, keyed by child key, to the partition
  the resolved topic would put that child on; each value a real `ChildState` (JSON);
- the identities table's changelog (one partition): one row per contact of those children
  (`mash.domain.identities`), so the identities agent knows every child the children table
  holds, as it would after those contacts.

Both come from the worker's own steps over the run's first simulated contacts
(`worker_tables`): the identities agent's, which finds each contact's child and sends it an
update, then the children agent's on each update. The first children are exactly the
simulated children with their states and rows; the rest have keys of their own and reuse
those states round-robin, with copies of the rows of the child whose state they reuse (under
contact ids and identifiers of their own, so no two children join), so value sizes follow the
simulation. The worker then recovers both tables into RocksDB, as after a restart, and is
measured when ready. Then it processes further simulated contacts live (some about children
already in its tables, whose recovered states it reads and extends), and is measured again:
its identities agent loads its whole index into memory at the first of them. After it stops,
the bench counts the children in its RocksDB files.

The comparison, same broker, same run: a worker with empty tables, ready and idle.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.processes import BenchError, cpu_seconds, read_memory, wait_all_ready, worker_proc
from benchmarks.records import OutputCounter, Record, bench_producer, produce
from benchmarks.settings import (
    CHILDREN_TABLE,
    IDENTITIES_TABLE,
    create_changelog,
    create_topics,
    new_prefix,
    service_env,
)
from mash.config import Settings
from mash.domain.child import ChildState, apply_update
from mash.domain.contact import ContactEvent
from mash.domain.identities import SIGHTING, Identities, SightingRow
from mash.domain.persons import sighting
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ContactEntry
from mash.views.ledger import H_CONTACT


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
    identity_rows: int = 0  # rows written to the identities table's changelog

    @property
    def rss_mib(self) -> float:
        """The figure reported: resident memory once it has also processed contacts live."""
        return max(self.rss_ready_mib, self.rss_after_live_mib)


@dataclass
class WorkerTables:
    """The worker's two tables after some contacts: each child's state (JSON) by child key, and
    the identities agent's rows of each child's contacts, by child key."""

    children: dict[str, bytes]
    rows: dict[str, list[SightingRow]]


def worker_tables(events: Sequence[ContactEvent]) -> WorkerTables:
    """The tables after `events`, in event-time order, by the worker's own steps: the identities
    agent's (`Identities.sighting`, as `identities_agent.step` takes a contact) and the children
    agent's on each update it sends (`apply_update`, which `apply_stored` runs)."""
    ruleset = load_ruleset()
    history = RulesetHistory.of(ruleset)
    identities = Identities()
    states: dict[str, ChildState] = {}
    for event in sorted(events, key=lambda e: (e.received_at, e.contact_id)):
        entry = ContactEntry.of(event, ruleset.version)
        effects = identities.sighting(sighting(event.contact_id, event.received_at, event.identifiers), entry)
        for update in effects.updates:
            key = update.child_key
            states[key] = apply_update(states.get(key, ChildState()), update, history).state
    rows: dict[str, list[SightingRow]] = defaultdict(list)
    for sid in identities.rows:
        rows[identities.index.child_of[sid]].append(identities.row(sid))
    return WorkerTables(
        children={key: state.model_dump_json().encode() for key, state in states.items()}, rows=dict(rows)
    )


def child_states(events: Sequence[ContactEvent]) -> dict[str, bytes]:
    """Each child's table value after its contacts, by the worker's own steps, in event-time order."""
    return worker_tables(events).children


def synthetic_key(i: int) -> bytes:
    """A child key in the service's format (`ck-` and 32 hex digits) that no real child has: the
    key the worker gives a child whose earliest contact is `synthetic_contact(i)`."""
    return b"ck-" + hashlib.blake2b(synthetic_contact(i).encode(), digest_size=16).hexdigest().encode()


def synthetic_contact(i: int, k: int = 0) -> str:
    """The id of synthetic child `i`'s `k`-th contact (in event time)."""
    return f"bench-child-{i}" if k == 0 else f"bench-child-{i}-{k}"


def _token(token: str | None, i: int) -> str | None:
    """An identifier of synthetic child `i` made from a real child's: no other child has it."""
    if token is None:
        return None
    return "id-" + hashlib.blake2b(f"{token}/{i}".encode(), digest_size=16).hexdigest()


def synthetic_rows(rows: Sequence[SightingRow], i: int) -> list[SightingRow]:
    """A real child's rows as synthetic child `i`'s: its contacts under ids of their own, the
    earliest first (so the child's key is `synthetic_key(i)`), its NHS number and its names with
    the date of birth no other child's, its date of birth kept; about that child, and sent to it."""
    out: list[SightingRow] = []
    key = synthetic_key(i).decode()
    for k, row in enumerate(sorted(rows, key=lambda r: r.as_sighting().order())):
        _, name_dob, dob, nhs = row.sighting
        new_id = synthetic_contact(i, k)
        out.append(
            row.model_copy(
                update={
                    "sighting": (new_id, _token(name_dob, i), dob, _token(nhs, i)),
                    "entry": row.entry.model_copy(update={"id": new_id}),
                    "sent_to": [key],
                    "child": key,
                }
            )
        )
    return out


def _children_records(tables: WorkerTables, children: int) -> Iterator[tuple[bytes, bytes]]:
    real = list(tables.children.items())
    for i in range(children):
        if i < len(real):
            yield real[i][0].encode(), real[i][1]
        else:
            yield synthetic_key(i), real[i % len(real)][1]


def _identity_records(tables: WorkerTables, children: int) -> Iterator[tuple[bytes, bytes]]:
    real = list(tables.children)
    for i in range(children):
        rows = tables.rows[real[i % len(real)]]
        for row in rows if i < len(real) else synthetic_rows(rows, i):
            yield f"{SIGHTING}{row.sighting[0]}".encode(), row.model_dump_json().encode()


async def write_changelog(
    settings: Settings, tables: WorkerTables, children: int, table: str = CHILDREN_TABLE
) -> tuple[int, int]:
    """The changelog of one of the worker's tables for `children` children; returns the records
    (one per key) and their bytes.

    Written with normal batching, then one more record alone on each partition: on the
    embedded broker a partition's reported end is the last batch's first offset + 1, and a
    single-record batch at the end makes it exact, so recovery reads every record.
    """
    topic = await create_changelog(settings, table)
    if table == IDENTITIES_TABLE:
        records: Iterable[tuple[bytes, bytes]] = _identity_records(tables, children)
    else:
        records = _children_records(tables, children)
    producer = bench_producer(settings.kafka_bootstrap)
    await producer.start()
    size = count = 0
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

        for key, value in records:
            size += len(key) + len(value)
            count += 1
            keys.append((key, value))
            pending.append(await producer.send(topic, key=key, value=value))
            if len(pending) >= 10_000:
                await settle()
        await settle()
        await producer.flush()
        for partition, (key, value) in sorted(last_on.items()):
            # The same key again (a table update changes nothing), alone in its batch.
            await (await producer.send(topic, key=key, value=value, partition=partition))
            written[partition] += 1
    finally:
        await producer.stop()
    await _check_ends(settings.kafka_bootstrap, topic, written)
    return count, size


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
    tables = worker_tables(events[:sample])
    settings = await create_topics(bootstrap, new_prefix("memory"))
    _, size = await write_changelog(settings, tables, children)
    rows, rows_size = await write_changelog(settings, tables, children, IDENTITIES_TABLE)
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
        changelog_mib=(size + rows_size) / 1024 / 1024,
        recovery_s=recovery_s,
        recovery_cpu_s=recovery_cpu_s,
        rss_ready_mib=ready.rss_mib,
        rss_after_live_mib=after.rss_mib,
        peak_mib=after.peak_mib,
        live_contacts=len(batch),
        empty_rss_mib=empty_rss,
        children_in_rocksdb=in_db,
        identity_rows=rows,
    )
