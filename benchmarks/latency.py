"""End-to-end latency: from the intake's 202 to the case record on the case-state topic.

An intake and one worker run as processes (normal producer batching, as on a real cluster).
Submissions naming one child each are posted at a steady rate; a consumer in the bench
follows the cases topic and notes when each contact's case first arrives. The latency of a
contact is that moment minus the moment its 202 was read (one clock, one process). Then a
burst: 1,000 submissions posted at once over a pool of connections, timed from the first
request to the last case.

The comparison is the floor of one Kafka hop on the same broker in the same run: a record
produced (acks=all) at the same rate, from its acknowledgement to its arrival at the same
kind of consumer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from benchmarks.http import Pool
from benchmarks.processes import BenchError, Proc, intake_proc, wait_all_ready, worker_proc
from benchmarks.records import OutputCounter, bench_producer
from benchmarks.settings import create_topics, new_prefix, service_env
from benchmarks.stats import percentile
from benchmarks.workload import Submission, one_child_bodies
from mash.intake.agencies import write_demo_agencies

# How often the bench's own consumers ask the broker for new records: the figure includes it.
FOLLOW_WAIT_MS = 5


@dataclass(frozen=True)
class Spread:
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        if not seconds:
            raise BenchError("no latencies measured")
        ms = [s * 1000 for s in seconds]
        return cls(len(ms), percentile(ms, 50), percentile(ms, 99), max(ms))


@dataclass
class LatencyResult:
    rate_per_s: float
    steady: Spread
    kafka_hop: Spread
    burst_contacts: int
    burst_connections: int
    burst_s: float
    burst_accepted_s: float


async def _post(pool: Pool, keys: dict[str, str], submission: Submission) -> tuple[list[str], float]:
    agency, body = submission
    headers = {"Authorization": f"Bearer {keys[agency]}", "Content-Type": "application/json"}
    response = await pool.request("POST", "/v1/contacts", headers, orjson.dumps(body))
    at = time.perf_counter()
    if response.status != 202:
        raise BenchError(f"POST /v1/contacts answered {response.status}: {response.body[:300]!r}")
    ids: list[str] = orjson.loads(response.body)["contact_ids"]
    return ids, at


def _ids(accepted: list[tuple[list[str], float]]) -> list[bytes]:
    return [cid.encode() for ids, _ in accepted for cid in ids]


async def post_steadily(
    pool: Pool, keys: dict[str, str], bodies: list[Submission], rate: float
) -> list[tuple[list[str], float]]:
    """Posts at `rate` per second, each on time however long the last one takes."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[tuple[list[str], float]]] = []
    next_at = loop.time()
    for submission in bodies:
        delay = next_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        next_at += 1 / rate
        tasks.append(asyncio.create_task(_post(pool, keys, submission)))
    return await asyncio.gather(*tasks)


async def _kafka_hop(bootstrap: str, topic: str, count: int, rate: float) -> Spread:
    """One Kafka hop at `rate`: acknowledgement of a produce to arrival at a following consumer."""
    counter = OutputCounter(bootstrap, topic, fetch_wait_ms=FOLLOW_WAIT_MS)
    await counter.start()
    producer = bench_producer(bootstrap, batched=False)
    await producer.start()
    acked: dict[bytes, float] = {}
    try:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        for i in range(count):
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += 1 / rate
            key = f"hop-{i}".encode()
            await (await producer.send(topic, key=key, value=b"{}"))
            acked[key] = time.perf_counter()
        await counter.wait_for_keys(acked, 60)
        return Spread.of([counter.first_seen[k] - at for k, at in acked.items()])
    finally:
        await producer.stop()
        await counter.stop()


async def run_latency(
    bootstrap: str, work: Path, *, rate: float = 50.0, seconds: float = 20.0, burst: int = 1000
) -> LatencyResult:
    settings = await create_topics(bootstrap, new_prefix("latency"))
    keys = write_demo_agencies(work / "latency-agencies.json", work / "latency-keys.json")
    env = service_env(bootstrap, settings.topic_prefix, work, embedded_profile=False)
    worker = worker_proc(env, work, "latency-worker")
    intake = intake_proc(env, work, work / "latency-agencies.json")
    procs: list[Proc] = [worker.start(), intake.start()]
    warmup = int(rate * 2)
    steady_count = int(rate * seconds)
    bodies = one_child_bodies(warmup + steady_count + burst, uuid.uuid4().hex[:8])
    counter = OutputCounter(bootstrap, settings.topic("cases"), fetch_wait_ms=FOLLOW_WAIT_MS)
    pool = Pool("127.0.0.1", intake.port, 100)
    try:
        await asyncio.to_thread(wait_all_ready, procs)
        await counter.start()
        # Warm-up: the first requests open connections and fill caches; not counted.
        warm = await post_steadily(pool, keys, bodies[:warmup], rate)
        await counter.wait_for_keys(_ids(warm), 60, procs)
        accepted = await post_steadily(pool, keys, bodies[warmup : warmup + steady_count], rate)
        await counter.wait_for_keys(_ids(accepted), 120, procs)
        steady = Spread.of([counter.first_seen[cid.encode()] - at for ids, at in accepted for cid in ids])

        started = time.perf_counter()
        posted = await asyncio.gather(*(_post(pool, keys, b) for b in bodies[warmup + steady_count :]))
        burst_accepted = max(at for _, at in posted) - started
        last = await counter.wait_for_keys(_ids(posted), 120, procs)
        burst_s = last - started
    finally:
        await pool.close()
        await counter.stop()
        for proc in procs:
            proc.stop()
    hop_settings = await create_topics(bootstrap, new_prefix("hop"))
    hop = await _kafka_hop(bootstrap, hop_settings.topic("contacts"), steady_count, rate)
    return LatencyResult(
        rate_per_s=rate,
        steady=steady,
        kafka_hop=hop,
        burst_contacts=burst,
        burst_connections=100,
        burst_s=burst_s,
        burst_accepted_s=burst_accepted,
    )
