"""What every measurement shares: processes, topics, producing, counting outputs, statistics."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr

from mash.adapters import follow
from mash.adapters.sealing import new_master_key
from mash.adapters.topics import ensure_topics
from mash.cli.embedded import free_port
from mash.config import EMBEDDED_FETCH_WAIT_MS, Settings

BENCH_SECRET = "bench-child-key-secret"  # noqa: S105 (a bench-only key for made-up children)
BENCH_MASTER_KEYS = new_master_key("mk-bench")  # made for the run, for made-up children

# Consumer-group timings of the embedded profile (as the integration tests use): the
# embedded broker makes a first group join wait for the whole rebalance timeout.
GROUP_TIMINGS = {
    "MASH_REBALANCE_TIMEOUT_S": "2",
    "MASH_SESSION_TIMEOUT_S": "10",
    "MASH_HEARTBEAT_INTERVAL_S": "0.5",
}

# The intake's per-agency rate limit, raised out of the way: the bench measures what the
# intake can do, not the limit (whose check still runs on every request). Its workload is a
# year of history, so the window a partner may date a contact back in is widened too.
NO_RATE_LIMIT = {
    "MASH_AGENCY_RATE_PER_S": "1000000",
    "MASH_AGENCY_RATE_BURST": "1000000",
    "MASH_MAX_BACKDATE_HOURS": "100000",
}

# A record to produce: key, value, headers.
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


class BenchError(RuntimeError):
    """A measurement could not be made (a process died, or nothing arrived in time)."""


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def new_prefix(name: str) -> str:
    """A topic prefix of its own for one measurement: its own topics, group and changelog."""
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"


def bench_settings(bootstrap: str, prefix: str, **overrides: Any) -> Settings:
    return Settings(
        mode="development",
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        child_key_secret=SecretStr(BENCH_SECRET),
        master_keys=SecretStr(BENCH_MASTER_KEYS),
        **overrides,
    )


async def create_topics(bootstrap: str, prefix: str) -> Settings:
    settings = bench_settings(bootstrap, prefix)
    await ensure_topics(settings)
    return settings


# The worker's two tables (mash.worker.faust_app): each child's state, by child key, on as many
# partitions as the resolved topic; the identities agent's rows, on one partition as its inputs.
CHILDREN_TABLE = "children"
IDENTITIES_TABLE = "identities"


def changelog_topic(settings: Settings, table: str = CHILDREN_TABLE) -> str:
    """faust's name for a worker table's changelog: `{app id}-{table name}-changelog`."""
    return f"{settings.app_id}-{settings.topic_prefix}-{table}-changelog"


async def create_changelog(settings: Settings, table: str = CHILDREN_TABLE) -> str:
    """Creates a worker table's changelog topic, compacted and with the table's partitions, as
    faust creates it; returns its name."""
    topic = changelog_topic(settings, table)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=1 if table == IDENTITIES_TABLE else settings.topic_partitions,
                    replication_factor=settings.topic_replication,
                    topic_configs={"cleanup.policy": "compact"},
                )
            ]
        )
    finally:
        await admin.close()
    return topic


def service_env(
    bootstrap: str, prefix: str, work: Path, *, embedded_profile: bool, **extra: str
) -> dict[str, str]:
    """The environment of a worker or intake process, as `tests/integration/conftest.py` builds it.

    `embedded_profile` is MASH_EMBEDDED_BROKER: true makes every producer send one record per
    batch (exact end offsets on the embedded broker); false is normal Kafka batching.
    """
    return {
        **os.environ,
        "MASH_MODE": "development",
        "MASH_KAFKA_BOOTSTRAP": bootstrap,
        "MASH_EMBEDDED_BROKER": "true" if embedded_profile else "false",
        "MASH_CHILD_KEY_SECRET": BENCH_SECRET,
        "MASH_MASTER_KEYS": BENCH_MASTER_KEYS,
        "MASH_TOPIC_PREFIX": prefix,
        "MASH_PRODUCE_TIMEOUT_S": "10",
        # The bench always runs on the embedded broker, which holds every fetch for its full wait:
        # every process waits as in the embedded profile, whichever producer batching it uses.
        "MASH_FETCH_MAX_WAIT_MS": str(EMBEDDED_FETCH_WAIT_MS),
        **GROUP_TIMINGS,
        **NO_RATE_LIMIT,
        **extra,
    }


@dataclass
class Proc:
    """One `python -m mash NAME` process (or `python -m MODULE`) with its log file and health URL."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    module: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            args = ["-m", self.module] if self.module else ["-m", "mash", self.name]
            self.process = subprocess.Popen([sys.executable, *args], env=self.env, stdout=out, stderr=out)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/ready", timeout=1.0) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(f"{self.name} exited:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def worker_proc(env: dict[str, str], work: Path, name: str, module: str | None = None) -> Proc:
    """A `mash worker`, or with `module` another faust worker (the faust floor) set up alike."""
    port = free_port()
    worker_env = {**env, "MASH_WORKER_PORT": str(port), "MASH_DATA_DIR": str(work / f"{name}-state")}
    return Proc("worker", worker_env, work / f"{name}.log", port, module=module)


def intake_proc(env: dict[str, str], work: Path, agencies_file: Path) -> Proc:
    port = free_port()
    intake_env = {**env, "MASH_INTAKE_PORT": str(port), "MASH_AGENCIES_FILE": str(agencies_file)}
    return Proc("intake", intake_env, work / "intake.log", port)


def wait_all_ready(procs: Iterable[Proc], timeout: float = 120.0, settle_s: float = 1.0) -> None:
    """Until every process is ready, and still all ready after `settle_s` (a late join rebalances)."""
    procs = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            proc.wait_ready(max(1.0, deadline - time.monotonic()))
        time.sleep(settle_s)
        if all(proc.ready() for proc in procs):
            return
        if time.monotonic() > deadline:
            raise BenchError("processes did not settle into a ready group")


def log_warnings(path: Path) -> Counter[str]:
    """Warnings and errors in a process's JSON log, counted by event (what a slow run complained of)."""
    found: Counter[str] = Counter()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        start = line.find("{")
        if start < 0:
            continue
        try:
            entry = orjson.loads(line[start:])
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
            found[str(entry.get("event"))[:100]] += 1
    return found


@dataclass(frozen=True)
class Memory:
    rss_kib: int
    peak_kib: int

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


def read_memory(pid: int) -> Memory:
    """VmRSS and VmHWM (peak resident) of a process, from /proc/PID/status."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(rest.split()[0])
    return Memory(rss_kib=fields["VmRSS"], peak_kib=fields["VmHWM"])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis don't.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by some processes between `__init__` and `used()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def used(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}


def bench_producer(bootstrap: str, *, batched: bool = True) -> AIOKafkaProducer:
    """The bench's own producer of inputs: normal batching unless told otherwise."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5 if batched else 0,
        max_batch_size=256 * 1024 if batched else 1,
        max_request_size=4 * 1024 * 1024,
    )


async def produce(bootstrap: str, topic: str, records: Sequence[Record]) -> None:
    """Writes the records (keyed, so each lands on its key's partition) and waits for every ack."""
    producer = bench_producer(bootstrap)
    await producer.start()
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value, headers in records:
            pending.append(await producer.send(topic, key=key, value=value, headers=headers))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    try:
        return await follow.partitions_of(consumer, topic)
    except RuntimeError as exc:
        raise BenchError(str(exc)) from None


@dataclass
class OutputCounter:
    """Reads a topic from the beginning (no group) and notes when each key first arrives.

    Case records are keyed by contact id, and so are the bare loop's outputs: counting
    distinct keys counts contacts handled, however often a record is republished.
    """

    bootstrap: str
    topic: str
    fetch_wait_ms: int = 50
    first_seen: dict[bytes, float] = field(default_factory=dict)
    records: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"count-{self.topic}")
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._task.result()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=self.fetch_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(self.topic, p) for p in sorted(await partitions_of(consumer, self.topic))
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            self._ready.set()
            gaps = follow.Gaps()  # the bench always runs on the embedded broker: see `Gaps`
            while True:
                batches = await consumer.getmany(timeout_ms=self.fetch_wait_ms, max_records=10_000)
                now = time.perf_counter()
                for tp, batch in batches.items():
                    for record in batch:
                        if (again := gaps.read_again_from(tp, record.offset)) is not None:
                            consumer.seek(tp, again)
                            break
                        self.records += 1
                        if record.key is not None and record.key not in self.first_seen:
                            self.first_seen[record.key] = now
                if batches:
                    self._arrived.set()
        finally:
            await consumer.stop()

    async def wait_for(self, count: int, timeout: float, alive: Sequence[Proc] = ()) -> float:
        """Waits until `count` distinct keys have arrived; returns when the last of them arrived."""
        await self._wait(lambda: len(self.first_seen) >= count, timeout, alive, f"{count} keys")
        return max(self.first_seen.values())

    async def wait_for_keys(self, keys: Iterable[bytes], timeout: float, alive: Sequence[Proc] = ()) -> float:
        """Waits until every one of `keys` has arrived; returns when the last of them arrived."""
        wanted = set(keys)

        def done() -> bool:
            # The subset test walks every wanted key: only worth it once enough keys are there.
            return len(self.first_seen) >= len(wanted) and wanted.issubset(self.first_seen)

        try:
            await self._wait(done, timeout, alive, f"{len(wanted)} given keys")
        except BenchError as exc:
            missing = sorted(wanted.difference(self.first_seen))
            raise BenchError(f"{exc}; missing: {b', '.join(missing[:10]).decode()}") from None
        return max(self.first_seen[k] for k in wanted)

    async def _wait(self, done: Callable[[], bool], timeout: float, alive: Sequence[Proc], what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self._task is not None and self._task.done():
                self._task.result()
                raise BenchError(f"the counter of {self.topic} stopped")
            for proc in alive:
                if not proc.alive():
                    raise BenchError(f"{proc.name} exited during the measurement:\n{proc.log_tail()}")
            if time.monotonic() > deadline:
                there = len(self.first_seen)
                raise BenchError(f"{what} not all on {self.topic} after {timeout:.0f} s ({there} keys there)")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=0.5)
