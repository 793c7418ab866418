"""Pipeline throughput: contacts/s through whole workers, against the bare aiokafka floor.

Every run here shares one embedded broker and the same contact records (sealed, keyed by
contact id, as the intake writes them), each on topics of its own. A run starts its consumer
process(es), waits until they are ready (group joined, tables recovered), then writes the
contacts and times from the first write to the moment the output topic holds a record for
every contact (counted by distinct contact id as records arrive). Writing is inside the timed
span for every run alike.

The contacts topic has one partition, as every input topic: a worker's identities agent reads
it and sends each child's updates to the resolved topic, whose partitions its children agent
(or, with two workers, both workers' children agents) reads; the case records come from there.

The workers run with MASH_EMBEDDED_BROKER=false: normal Kafka producer batching, as on a
real cluster. The embedded profile (one record per producer batch, which this broker needs
for exact end offsets) is measured too, on fewer contacts, and labelled as such.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.faust_floor import TABLE_ENV
from benchmarks.processes import (
    BenchError,
    CpuMeter,
    Proc,
    log_warnings,
    read_memory,
    wait_all_ready,
    worker_proc,
)
from benchmarks.profiling import Hot, hot_functions, start_profiler, stop_profiler
from benchmarks.records import OutputCounter, Record, produce
from benchmarks.settings import create_changelog, create_topics, new_prefix, service_env
from mash.views.ledger import H_CONTACT


@dataclass
class Throughput:
    label: str
    contacts: int
    seconds: float
    produce_seconds: float
    worker_rss_mib: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    log_warnings: dict[str, int] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.contacts / self.seconds if self.seconds > 0 else 0.0

    @property
    def worker_cpu_ms(self) -> float | None:
        """CPU per contact of the run's first worker process (`worker-0`, as `run_workers` names it)."""
        seconds = self.cpu_seconds.get("worker-0")
        return None if seconds is None else seconds * 1000 / self.contacts


@dataclass
class PipelineResult:
    bare: Throughput
    one: Throughput
    bare_after: Throughput | None = None
    recorded: Throughput | None = None
    floor: Throughput | None = None
    agent: Throughput | None = None
    batch_loop: Throughput | None = None
    two: Throughput | None = None
    batch1: Throughput | None = None
    profile: list[Hot] = field(default_factory=list)
    profile_note: str = ""

    @property
    def bare_per_s(self) -> float:
        """The floor: the mean of the bare runs just before and just after the one-worker run,
        so load that comes and goes on a shared machine weighs on both sides of the ratio."""
        runs = [t.per_s for t in (self.bare, self.bare_after) if t is not None]
        return sum(runs) / len(runs)

    @property
    def ratio(self) -> float:
        return self.one.per_s / self.bare_per_s if self.bare_per_s else 0.0

    @property
    def step_cpu_ms(self) -> float | None:
        """What the domain step costs in the worker: its CPU per contact, less the recorded run's."""
        whole = self.one.worker_cpu_ms
        without = self.recorded.worker_cpu_ms if self.recorded else None
        return None if whole is None or without is None else whole - without

    @property
    def scaling(self) -> float | None:
        return self.two.per_s / self.one.per_s if self.two and self.one.per_s else None


@dataclass(frozen=True)
class StandIn:
    """A faust process run in the worker's place, to measure what one part of the worker costs."""

    name: str  # of its topics and log
    label: str  # in the table
    module: str  # run as `python -m MODULE`
    env: dict[str, str] = field(default_factory=dict)


RECORDED_STEP = StandIn(
    "recorded-step", "1 worker, children's domain step recorded", "benchmarks.recorded_step"
)
FAUST_FLOOR = StandIn("faust-floor", "faust floor", "benchmarks.faust_floor", {TABLE_ENV: "1"})
FAUST_AGENT = StandIn("faust-agent", "faust agent, no table", "benchmarks.faust_floor", {TABLE_ENV: "0"})


def _timeout(contacts: int) -> float:
    # Generous: even 200 contacts/s finishes. A stuck run fails rather than hangs.
    return max(120.0, contacts / 200)


@dataclass(frozen=True)
class Timed:
    seconds: float
    produce_seconds: float
    cpu_seconds: dict[str, float]


async def _timed(
    bootstrap: str,
    topic: str,
    output: str,
    records: Sequence[Record],
    alive: Sequence[Proc],
    pids: dict[str, int],
) -> Timed:
    """Writes `records` to `topic` and waits for an output per record; notes the CPU each process used."""
    counter = OutputCounter(bootstrap, output)
    await counter.start()
    try:
        cpu = CpuMeter({**pids, "bench": os.getpid()})
        started = time.perf_counter()
        await produce(bootstrap, topic, records)
        produced = time.perf_counter() - started
        expected = [dict(headers)[H_CONTACT] for _, _, headers in records]
        last = await counter.wait_for_keys(expected, _timeout(len(records)), alive)
        return Timed(last - started, produced, cpu.used())
    finally:
        await counter.stop()


async def run_bare(
    bootstrap: str,
    records: Sequence[Record],
    work: Path,
    broker_pids: dict[str, int],
    label: str = "bare aiokafka loop",
    domain_step: bool = False,
) -> Throughput:
    """The bare loop (`benchmarks.bare`); with `domain_step`, running the worker's domain step."""
    name = "batch-loop" if domain_step else "bare"
    settings = await create_topics(bootstrap, new_prefix(name))
    ready = work / f"{settings.topic_prefix}.ready"
    log_path = work / f"{settings.topic_prefix}.log"
    state = ["--state-topic", await create_changelog(settings)] if domain_step else []
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.bare",
                bootstrap,
                settings.topic("contacts"),
                settings.topic("cases"),
                f"{settings.topic_prefix}-bare",
                str(ready),
                *state,
            ],
            stdout=log,
            stderr=log,
        )
    proc = Proc(name, {}, log_path, 0, process)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the bare loop did not start:\n{proc.log_tail()}")
            await asyncio.sleep(0.1)
        timed = await _timed(
            bootstrap,
            settings.topic("contacts"),
            settings.topic("cases"),
            records,
            [proc],
            {name: process.pid, **broker_pids},
        )
        rss = [read_memory(process.pid).rss_mib]
        return Throughput(label, len(records), timed.seconds, timed.produce_seconds, rss, timed.cpu_seconds)
    finally:
        proc.stop()


async def run_workers(
    bootstrap: str,
    records: Sequence[Record],
    work: Path,
    broker_pids: dict[str, int],
    *,
    workers: int = 1,
    embedded_profile: bool = False,
    profile_raw: Path | None = None,
    stand_in: StandIn | None = None,
) -> tuple[Throughput, str]:
    """`workers` worker processes in one group (or one process of `stand_in`); returns the
    throughput and py-spy's raw output."""
    if stand_in is not None:
        name = stand_in.name
    else:
        name = f"pipeline-{workers}w" + ("-batch1" if embedded_profile else "")
    settings = await create_topics(bootstrap, new_prefix(name))
    env = service_env(bootstrap, settings.topic_prefix, work, embedded_profile=embedded_profile)
    module = stand_in.module if stand_in else None
    env.update(stand_in.env if stand_in else {})
    procs = [worker_proc(env, work, f"{name}-{i}", module) for i in range(workers)]
    for proc in procs:
        proc.start()
    profiler = None
    collapsed = ""
    throughput: Throughput | None = None
    try:
        await asyncio.to_thread(wait_all_ready, procs)
        if profile_raw is not None:
            profiler = start_profiler(procs[0].pid, profile_raw)
        pids = {f"worker-{i}": p.pid for i, p in enumerate(procs)}
        if profiler is not None:
            pids["py-spy"] = profiler.pid
        timed = await _timed(
            bootstrap, settings.topic("contacts"), settings.topic("cases"), records, procs, pids | broker_pids
        )
        rss = [read_memory(p.pid).rss_mib for p in procs]
        if profiler is not None:
            problem = stop_profiler(profiler)
            profiler = None
            if profile_raw is None or not profile_raw.exists():
                raise BenchError(f"py-spy wrote no profile: {problem[-500:]}")
            collapsed = profile_raw.read_text(errors="replace")
        label = f"{workers} worker" + ("s" if workers > 1 else "")
        if stand_in is not None:
            label = stand_in.label
        else:
            label += ", batch size 1" if embedded_profile else ""
        throughput = Throughput(
            label, len(records), timed.seconds, timed.produce_seconds, rss, timed.cpu_seconds
        )
        return throughput, collapsed
    finally:
        stop_profiler(profiler)
        for proc in procs:
            proc.stop()
        if throughput is not None:
            warnings = sum((log_warnings(proc.log_path) for proc in procs), Counter[str]())
            throughput.log_warnings = dict(warnings.most_common(5))


async def run_pipeline(
    bootstrap: str,
    records: Sequence[Record],
    work: Path,
    broker_pids: dict[str, int],
    *,
    two_workers: bool = True,
    batch1_contacts: int = 0,
    profile_dir: Path | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> PipelineResult:
    """Bare loop, one worker, bare loop again, the worker with its domain step recorded, the faust
    floor with and without its table, the bare loop running the domain step, then (if asked)
    two workers and batch size 1."""
    bare = await run_bare(bootstrap, records, work, broker_pids)
    say(f"  {bare.label}: {bare.per_s:,.0f}/s")
    raw = profile_dir / "worker-pipeline.raw" if profile_dir else None
    one, collapsed = await run_workers(bootstrap, records, work, broker_pids, profile_raw=raw)
    say(f"  {one.label}: {one.per_s:,.0f}/s")
    bare_after = await run_bare(bootstrap, records, work, broker_pids, "bare aiokafka loop (after)")
    say(f"  {bare_after.label}: {bare_after.per_s:,.0f}/s")
    recorded, _ = await run_workers(bootstrap, records, work, broker_pids, stand_in=RECORDED_STEP)
    say(f"  {recorded.label}: {recorded.per_s:,.0f}/s")
    floor, _ = await run_workers(bootstrap, records, work, broker_pids, stand_in=FAUST_FLOOR)
    say(f"  {floor.label}: {floor.per_s:,.0f}/s")
    agent, _ = await run_workers(bootstrap, records, work, broker_pids, stand_in=FAUST_AGENT)
    say(f"  {agent.label}: {agent.per_s:,.0f}/s")
    batch_loop = await run_bare(
        bootstrap, records, work, broker_pids, "batch loop, domain step", domain_step=True
    )
    say(f"  {batch_loop.label}: {batch_loop.per_s:,.0f}/s")
    result = PipelineResult(
        bare=bare,
        one=one,
        bare_after=bare_after,
        recorded=recorded,
        floor=floor,
        agent=agent,
        batch_loop=batch_loop,
    )
    if profile_dir is not None:
        if collapsed:
            result.profile = hot_functions(collapsed, top=15)
            result.profile_note = f"py-spy samples of the one-worker run: {raw}"
        else:
            result.profile_note = "not profiled: py-spy is not installed (pip install py-spy)"
    if two_workers:
        result.two, _ = await run_workers(bootstrap, records, work, broker_pids, workers=2)
        say(f"  {result.two.label}: {result.two.per_s:,.0f}/s")
    if batch1_contacts:
        result.batch1, _ = await run_workers(
            bootstrap, records[:batch1_contacts], work, broker_pids, embedded_profile=True
        )
        say(f"  {result.batch1.label}: {result.batch1.per_s:,.0f}/s")
    return result
