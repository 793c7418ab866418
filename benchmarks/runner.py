"""Runs the selected measurements in turn, prints the table and writes the JSON.

The order keeps the measurements from disturbing one another: the in-process ruleset
core first, then the pipeline runs (bare loop, one worker, two workers, batch size 1) on
one broker, then latency and intake on a second, then memory on a third, so the million
table records of the memory run sit in a broker of their own; then `mash replay` and the
console, each on a broker of its own too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.machine import machine
from benchmarks.profiling import format_hot
from benchmarks.results import Results, to_json
from benchmarks.table import format_table, notes, rows
from benchmarks.workload import Workload
from mash.cli.embedded import EmbeddedBroker

if TYPE_CHECKING:
    from benchmarks.console import ConsoleResult
    from benchmarks.memory import MemoryResult
    from benchmarks.pipeline import PipelineResult
    from benchmarks.replay import ReplayResult

MEASUREMENTS = ("pipeline", "two-workers", "latency", "intake", "rules", "memory", "replay", "console")
DEFAULT_CONTACTS = 100_000
QUICK_CONTACTS = 5_000

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    contacts: int
    batch1_contacts: int
    latency_seconds: float
    intake_seconds: float
    memory_children: int
    memory_sample: int
    memory_live: int
    replay_children: int  # `mash simulate --children`: about two contacts per child over two years
    console_contacts: int
    console_open_cases: int
    console_further: int

    @classmethod
    def of(cls, contacts: int | None, quick: bool) -> Sizes:
        n = contacts or (QUICK_CONTACTS if quick else DEFAULT_CONTACTS)
        sample = min(5_000, n // 2)
        return cls(
            contacts=n,
            batch1_contacts=max(1, min(2_000 if quick else 10_000, n // 10)),
            latency_seconds=5.0 if quick else 20.0,
            intake_seconds=3.0 if quick else 10.0,
            memory_children=50_000 if quick else 1_000_000,
            memory_sample=sample,
            memory_live=min(1_000 if quick else 2_000, n - sample),
            replay_children=1_500 if quick else 15_000,
            console_contacts=200 if quick else 500,
            console_open_cases=2_000 if quick else 10_000,
            console_further=50 if quick else 100,
        )


@dataclass(frozen=True)
class BenchOptions:
    contacts: int | None = None
    quick: bool = False
    only: tuple[str, ...] = ()
    json_path: Path | None = None
    profile_dir: Path | None = None
    keep: bool = False
    command: str = "python -m benchmarks"


def selection(only: Iterable[str]) -> tuple[str, ...]:
    """The measurements asked for (comma-separated or repeated), in run order; all if none."""
    names = [name.strip() for item in only for name in item.split(",") if name.strip()]
    unknown = sorted(set(names) - set(MEASUREMENTS))
    if unknown:
        raise ValueError(
            f"unknown measurement(s): {', '.join(unknown)}; choose from {', '.join(MEASUREMENTS)}"
        )
    return tuple(m for m in MEASUREMENTS if m in names) if names else MEASUREMENTS


def _pid(broker: EmbeddedBroker) -> dict[str, int]:
    return {"broker": broker.process.pid} if broker.process else {}


async def _measure(options: BenchOptions, chosen: tuple[str, ...], work: Path, echo: Echo) -> Results:
    sizes = Sizes.of(options.contacts, options.quick)
    results = Results(command=options.command, contacts=sizes.contacts, machine=machine())
    results.machine["load_average_start"] = [round(x, 2) for x in os.getloadavg()]
    workload: Workload | None = None
    if {"pipeline", "two-workers", "rules", "memory"} & set(chosen):
        echo(f"generating {sizes.contacts:,} simulated contacts ...")
        began = time.perf_counter()
        workload = await asyncio.to_thread(Workload.make, sizes.contacts)
        echo(f"  {workload.children:,} children, {time.perf_counter() - began:.0f} s")
    if "rules" in chosen and workload is not None:
        from benchmarks.rules import run_rules

        echo("ruleset core (in-process) ...")
        results.rules = run_rules(
            workload.events, workload.records, min_seconds=1.0 if options.quick else 3.0
        )
    if {"pipeline", "two-workers"} & set(chosen) and workload is not None:
        results.pipeline = await _pipeline(options, sizes, chosen, workload, work, echo)
    if {"latency", "intake"} & set(chosen):
        await _latency_and_intake(sizes, chosen, work, echo, results)
    if "memory" in chosen and workload is not None:
        results.memory = await _memory(sizes, workload, work, echo)
    if "replay" in chosen:
        results.replay = await _replay(sizes, work, echo)
    if "console" in chosen:
        results.console = await _console(sizes, work, echo)
    return results


async def _pipeline(
    options: BenchOptions, sizes: Sizes, chosen: tuple[str, ...], workload: Workload, work: Path, echo: Echo
) -> PipelineResult:
    from benchmarks.pipeline import run_pipeline

    echo(
        f"pipeline: bare loop, 1 worker{', 2 workers' if 'two-workers' in chosen else ''}, "
        f"batch size 1 ({sizes.contacts:,} contacts) ..."
    )
    with EmbeddedBroker() as broker:
        return await run_pipeline(
            broker.bootstrap,
            workload.records,
            work,
            _pid(broker),
            two_workers="two-workers" in chosen,
            batch1_contacts=sizes.batch1_contacts,
            profile_dir=options.profile_dir,
            say=echo,
        )


async def _latency_and_intake(
    sizes: Sizes, chosen: tuple[str, ...], work: Path, echo: Echo, results: Results
) -> None:
    """Both on one broker of their own."""
    with EmbeddedBroker() as broker:
        if "latency" in chosen:
            from benchmarks.latency import run_latency

            echo(f"end-to-end latency ({sizes.latency_seconds:.0f} s at 50/s, then a burst of 1,000) ...")
            results.latency = await run_latency(broker.bootstrap, work, seconds=sizes.latency_seconds)
        if "intake" in chosen:
            from benchmarks.intake import run_intake

            echo(f"intake load ({sizes.intake_seconds:.0f} s) ...")
            results.intake = await run_intake(broker.bootstrap, work, seconds=sizes.intake_seconds)


async def _memory(sizes: Sizes, workload: Workload, work: Path, echo: Echo) -> MemoryResult:
    from benchmarks.memory import run_memory

    echo(f"memory ({sizes.memory_children:,} children) ...")
    with EmbeddedBroker() as broker:
        return await run_memory(
            broker.bootstrap,
            work,
            workload.events,
            workload.records,
            children=sizes.memory_children,
            sample=sizes.memory_sample,
            live=sizes.memory_live,
        )


async def _replay(sizes: Sizes, work: Path, echo: Echo) -> ReplayResult:
    from benchmarks.replay import run_replay

    echo(f"mash replay of a simulated file ({sizes.replay_children:,} children over two years) ...")
    with EmbeddedBroker() as broker:
        return await run_replay(broker.bootstrap, work, _pid(broker), children=sizes.replay_children)


async def _console(sizes: Sizes, work: Path, echo: Echo) -> ConsoleResult:
    from benchmarks.console import run_console

    echo(
        f"console: {sizes.console_contacts} contacts at 20/s to the live stream, then "
        f"{sizes.console_open_cases:,} open cases ..."
    )
    with EmbeddedBroker() as broker:
        return await run_console(
            broker.bootstrap,
            work,
            contacts=sizes.console_contacts,
            open_cases=sizes.console_open_cases,
            further=sizes.console_further,
        )


def run(options: BenchOptions, echo: Echo = print, progress: Echo | None = None) -> Results:
    """Runs the bench; prints the table and notes with `echo`, progress with `progress`."""
    chosen = selection(options.only)
    say = progress or (lambda text: print(text, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="mash-bench-"))
    began = time.perf_counter()
    try:
        results = asyncio.run(_measure(options, chosen, work, say))
    except BaseException:
        say(f"the bench stopped; process logs are kept in {work}")
        raise
    results.seconds = time.perf_counter() - began
    results.machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)
    echo(format_table(rows(results)))
    echo("")
    for line in notes(results):
        echo(f"- {line}")
    hot = results.pipeline.profile if results.pipeline else []
    if results.pipeline and results.pipeline.profile_note:
        echo("")
        echo(f"worker profile, one-worker pipeline run ({results.pipeline.profile_note}):")
        echo(format_hot(hot))
    if options.json_path is not None:
        options.json_path.write_bytes(to_json(results, hot))
        say(f"wrote {options.json_path}")
    return results
