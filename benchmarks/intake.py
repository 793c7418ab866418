"""Intake throughput: requests/s and latency of `POST /v1/contacts` on one intake process.

A load generator in the bench keeps N keep-alive connections busy, each posting valid
simulated submissions (siblings included, each with a reference of its own, so every one
is validated, split and written to Kafka with acks=all) back to back for a fixed time.
The first second or two are a warm-up and are not counted. No worker runs: the intake
answers 202 once Kafka has the contacts.

The comparison, on the same process in the same run with the same generator: `GET
/health/live`, which is the web stack alone (uvicorn, FastAPI, the middleware), no
validation and no Kafka. The CPU each process used says whether the generator kept up.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from benchmarks.http import Connection, HttpError
from benchmarks.processes import CpuMeter, intake_proc, wait_all_ready
from benchmarks.settings import create_topics, new_prefix, service_env
from benchmarks.stats import percentile
from benchmarks.workload import templates
from mash.intake.agencies import write_demo_agencies


@dataclass
class Load:
    label: str
    connections: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50) if self.latencies_ms else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99) if self.latencies_ms else 0.0


@dataclass
class IntakeResult:
    post: Load
    live: Load

    @property
    def ratio(self) -> float:
        return self.post.rps / self.live.rps if self.live.rps else 0.0


# method, path, headers, body
Request = tuple[str, str, dict[str, str], bytes]
RequestSource = Callable[[], Request]


async def run_load(
    port: int,
    next_request: RequestSource,
    label: str,
    *,
    connections: int,
    seconds: float,
    warmup_s: float,
    pids: dict[str, int],
) -> Load:
    """`connections` loops, each sending back to back; counts requests started after the warm-up
    and answered before the end."""
    load = Load(label, connections, seconds)
    begin = time.perf_counter()
    measure_from = begin + warmup_s
    end = measure_from + seconds
    meter: list[CpuMeter] = []

    async def client() -> None:
        connection = Connection("127.0.0.1", port)
        try:
            while (sent := time.perf_counter()) < end:
                if sent >= measure_from and not meter:
                    meter.append(CpuMeter({**pids, "load generator": os.getpid()}))
                method, path, headers, body = next_request()
                try:
                    response = await connection.request(method, path, headers, body)
                except (HttpError, ConnectionError, OSError, asyncio.IncompleteReadError):
                    load.errors += sent >= measure_from
                    continue
                done = time.perf_counter()
                if sent >= measure_from and done <= end:
                    load.statuses[response.status] += 1
                    load.latencies_ms.append((done - sent) * 1000)
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    if meter:
        load.cpu_seconds = meter[0].used()
    return load


def contact_posts(keys: dict[str, str], run_id: str) -> RequestSource:
    """Valid submissions, each with a fresh reference (so none is an idempotent replay)."""
    bodies = templates(2000)
    headers = {
        agency: {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        for agency, key in keys.items()
    }
    counter = itertools.count()

    def next_request() -> Request:
        i = next(counter)
        agency, body = bodies[i % len(bodies)]
        fresh = {**body, "agency_reference": f"LOAD-{run_id}-{i:08d}"}
        return "POST", "/v1/contacts", headers[agency], orjson.dumps(fresh)

    return next_request


def health_gets() -> RequestSource:
    request: Request = ("GET", "/health/live", {}, b"")
    return lambda: request


async def run_intake(
    bootstrap: str, work: Path, *, connections: int = 32, seconds: float = 10.0, warmup_s: float = 2.0
) -> IntakeResult:
    settings = await create_topics(bootstrap, new_prefix("intake"))
    keys = write_demo_agencies(work / "intake-agencies.json", work / "intake-keys.json")
    env = service_env(bootstrap, settings.topic_prefix, work, embedded_profile=False)
    intake = intake_proc(env, work, work / "intake-agencies.json").start()
    try:
        await asyncio.to_thread(wait_all_ready, [intake])
        pids = {"intake": intake.pid}
        live = await run_load(
            intake.port,
            health_gets(),
            "GET /health/live",
            connections=connections,
            seconds=seconds / 2,
            warmup_s=1.0,
            pids=pids,
        )
        post = await run_load(
            intake.port,
            contact_posts(keys, uuid.uuid4().hex[:8]),
            "POST /v1/contacts",
            connections=connections,
            seconds=seconds,
            warmup_s=warmup_s,
            pids=pids,
        )
    finally:
        intake.stop()
    return IntakeResult(post=post, live=live)
