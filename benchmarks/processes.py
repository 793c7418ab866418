"""The processes a measurement starts (`python -m mash worker`, `... intake`), and what they use.

Each runs as `mash dev` runs it, logs to a file of its own, and is ready when its
/health/ready says so; its CPU time and memory are read from /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from mash.cli.embedded import free_port


class BenchError(RuntimeError):
    """A measurement could not be made (a process died, or nothing arrived in time)."""


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
