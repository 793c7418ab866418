"""Replay throughput: `mash replay FILE` through the whole pipeline, in contacts per second.

A seeded `mash simulate` file (a council's front door over two years: contacts, people's
decisions and the case system's outcomes) is replayed by the real command, `python -m mash replay --quiet
FILE`, against one worker process on topics of its own. The figure is the file's contacts
over the command's wall time, from its start until it returns, which it does once the
worker's group has committed every event it wrote.

The command runs with MASH_EMBEDDED_BROKER=true (one record per producer batch), so the end
offsets it waits for are exact on this broker (with batching they can be a batch short and
the command would return early); the worker batches as on real Kafka, as in the pipeline
runs. A follower of the cases topic notes when the last contact's case record arrived: the
check that "processed" meant processed.

The comparison: the same file's records, validated and split beforehand by the command's
own functions, written alone (no worker, no validation in the timed span) by a producer set
up as the command's: the write-only rate. When the pipeline measurement ran in the same
run, the table shows the bare aiokafka loop figure too.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from benchmarks.processes import BenchError, CpuMeter, wait_all_ready, worker_proc
from benchmarks.records import OutputCounter
from benchmarks.settings import create_topics, new_prefix, service_env
from mash.adapters.keyring import Keyring
from mash.cli.replay import LineReader, numbered_lines
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.intake.agencies import AgencyFile, write_demo_agencies
from mash.simulate import SimulationConfig, write_jsonl

SIMULATED_DAYS = 730
SUMMARY = re.compile(r"replayed (\d+) contacts and (\d+) outcomes in ([\d.]+) s")


@dataclass
class ReplayResult:
    children: int  # the simulation's pool of children (`mash simulate --children`)
    lines: int
    contacts: int
    outcomes: int
    seconds: float  # the command's wall time, start to return
    command_seconds: float  # as the command reports it (from its producer's start)
    last_case_s: float  # from the command's start to the last contact's case record
    write_only_seconds: float
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.contacts / self.seconds if self.seconds > 0 else 0.0

    @property
    def write_only_per_s(self) -> float:
        """Contacts per second when the file's records (outcomes included) are only written."""
        return self.contacts / self.write_only_seconds if self.write_only_seconds > 0 else 0.0


def summary_of(output: str) -> tuple[int, int, float]:
    """Contacts, outcomes and seconds from the command's last line."""
    found = SUMMARY.search(output)
    if found is None:
        raise BenchError(f"mash replay printed no summary: {output[-500:]!r}")
    return int(found[1]), int(found[2]), float(found[3])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _write_only(bootstrap: str, path: Path, agencies_file: Path) -> float:
    """Seconds to write the file's records to fresh topics with the command's producer settings."""
    settings = await create_topics(bootstrap, new_prefix("replay-write"))
    agencies = {a.id: a for a in AgencyFile.model_validate_json(agencies_file.read_bytes()).agencies}
    rulesets = RulesetHistory.of(load_ruleset(settings.ruleset_file))
    reader = LineReader(
        agencies, rulesets, settings.secret(), settings, datetime.now(UTC), Keyring(settings.master())
    )
    records = []
    for _, line in numbered_lines(path):
        # A bad line is skipped, as the command skips it.
        with contextlib.suppress(ValueError):
            records += reader.records(line)[1]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1)
    await producer.start()
    try:
        started = time.perf_counter()
        pending: list[asyncio.Future[Any]] = []
        for topic, key, value, headers in records:
            pending.append(await producer.send(topic, key=key, value=value, headers=headers))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def run_replay(
    bootstrap: str, work: Path, broker_pids: dict[str, int], *, children: int, seed: int = 1
) -> ReplayResult:
    path = work / f"simulate-seed{seed}-children{children}.jsonl"
    config = SimulationConfig(seed=seed, children=children, days=SIMULATED_DAYS)
    lines = await asyncio.to_thread(write_jsonl, config, path)
    agencies_file = work / "replay-agencies.json"
    write_demo_agencies(agencies_file, work / "replay-keys.json")
    settings = await create_topics(bootstrap, new_prefix("replay"))
    env = service_env(
        bootstrap, settings.topic_prefix, work, embedded_profile=False, MASH_AGENCIES_FILE=str(agencies_file)
    )
    worker = worker_proc(env, work, "replay-worker").start()
    counter = OutputCounter(bootstrap, settings.topic("cases"))
    log_path = work / "replay-command.log"
    try:
        await asyncio.to_thread(wait_all_ready, [worker])
        await counter.start()
        cpu = CpuMeter({"worker": worker.pid, **broker_pids})
        cpu_before = _children_cpu()
        started = time.perf_counter()
        with log_path.open("ab") as log:
            command = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "mash",
                "replay",
                "--quiet",
                str(path),
                env={**env, "MASH_EMBEDDED_BROKER": "true"},
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
            stdout = asyncio.create_task(command.communicate())
            while not stdout.done():
                await asyncio.wait({stdout}, timeout=1.0)
                if not worker.alive():
                    command.kill()
                    raise BenchError(f"the worker exited during the replay:\n{worker.log_tail()}")
                if time.perf_counter() - started > 3600:
                    command.kill()
                    raise BenchError("mash replay did not return within an hour")
        seconds = time.perf_counter() - started
        used = cpu.used() | {"mash replay": _children_cpu() - cpu_before}
        output = stdout.result()[0].decode(errors="replace")
        if command.returncode != 0:
            raise BenchError(f"mash replay exited {command.returncode}: {output[-500:]}")
        contacts, outcomes, command_seconds = summary_of(output)
        last = await counter.wait_for(contacts, 300, [worker])
    finally:
        await counter.stop()
        worker.stop()
    write_only = await _write_only(bootstrap, path, agencies_file)
    return ReplayResult(
        children=children,
        lines=lines,
        contacts=contacts,
        outcomes=outcomes,
        seconds=seconds,
        command_seconds=command_seconds,
        last_case_s=last - started,
        write_only_seconds=write_only,
        cpu_seconds=used,
    )
