"""Chaos for the reliability and outage tests: killing processes at seeded random moments, and
the checks that nothing was lost or decided twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mash.worker.delivery import EXIT_RESTART
from tests.support.traffic import Published, console_client, decision_of

if TYPE_CHECKING:
    from tests.integration.conftest import Proc

CHAOS_ENV = {
    "MASH_SESSION_TIMEOUT_S": "6",
    "MASH_HEARTBEAT_INTERVAL_S": "0.5",
    "MASH_REBALANCE_TIMEOUT_S": "2",
    # The test's own client is one steady stream per agency; the limits are tested elsewhere.
    "MASH_AGENCY_RATE_PER_S": "1000",
    "MASH_AGENCY_RATE_BURST": "1000",
    # The traffic is months of simulated history, posted through the partner API as a partner's
    # backlog would be: the window a partner may date a contact back in is widened to a year.
    "MASH_MAX_BACKDATE_HOURS": "8760",
}


class Victim(Protocol):
    name: str

    def stop(self, sig: int = ...) -> None: ...

    def start(self) -> None: ...


@dataclass(eq=False)
class Chaos(threading.Thread):
    """SIGKILLs a random victim when the traffic reaches randomly chosen points, then restarts it."""

    rng: random.Random
    victims: Sequence[Victim]
    progress: Callable[[], int]
    total: int
    kills: int
    restart_after: tuple[float, float] = (0.3, 3.0)
    log: list[str] = field(default_factory=list)
    gave_up: threading.Event = field(default_factory=threading.Event)
    # Held from a kill until the restart, so the Supervisor never starts a victim meanwhile.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)
        # Moments between 5% and 85% of the traffic, so each kill lands with contacts flowing.
        self.moments = sorted(self.rng.sample(range(self.total // 20, self.total * 17 // 20), self.kills))
        # Random victims, but every process is killed at least once when there are kills enough.
        order = [k % len(self.victims) for k in range(self.kills)]
        self.rng.shuffle(order)
        self.plan = [
            (m, v, self.rng.uniform(*self.restart_after)) for m, v in zip(self.moments, order, strict=True)
        ]

    def run(self) -> None:
        for moment, index, pause in self.plan:
            while self.progress() < moment:
                if self.gave_up.wait(0.01):
                    return
            victim = self.victims[index]
            with self.lock:
                victim.stop(signal.SIGKILL)
                at = f"{self.progress()}/{self.total}"
                self.log.append(f"SIGKILL {victim.name}#{index} at {at}, back after {pause:.1f} s")
                time.sleep(pause)
                victim.start()


@dataclass(eq=False)
class Supervisor(threading.Thread):
    """Starts a worker again when it stops itself uncommitted (exit code `EXIT_RESTART`), as
    `mash dev`, systemd and Kubernetes do; SIGKILLed workers are the Chaos thread's to restart."""

    workers: Sequence[Proc]
    lock: threading.Lock
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        while True:
            time.sleep(0.2)
            with self.lock:
                for worker in self.workers:
                    if worker.process is not None and worker.process.poll() == EXIT_RESTART:
                        self.log.append(f"{worker.name} stopped uncommitted; started again")
                        worker.start()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Waits until every worker is ready, through any restart of its own meanwhile."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while True:
                try:
                    worker.wait_ready(max(1.0, deadline - time.monotonic()))
                    break
                except AssertionError as error:
                    if f"exited with {EXIT_RESTART}:" not in str(error) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)  # run() starts it again


def assert_exactly_once_effects(accepted: set[str], published: Published) -> tuple[int, int, int]:
    """Every accepted contact has a record and one decision; returns (lost, duplicated, extra)."""
    lost = accepted - published.copies.keys()
    extra = published.copies.keys() - accepted
    duplicated = {
        cid for cid, copies in published.copies.items() if len({decision_of(c) for c in copies}) > 1
    }
    assert not lost, f"{len(lost)} accepted contacts have no case record, e.g. {sorted(lost)[:3]}"
    assert not extra, f"{len(extra)} case records are for contacts nobody accepted"
    examples = {cid: [decision_of(c) for c in published.copies[cid]] for cid in sorted(duplicated)[:3]}
    assert not duplicated, f"{len(duplicated)} contacts were decided twice, differently, e.g. {examples}"
    return len(lost), len(duplicated), len(extra)


def assert_referrals_consistent(latest: dict[str, dict[str, Any]]) -> None:
    """Per child: only a decided contact is a referral or goes to social care, a referral opens its
    own case, and a linked contact names a case of the child's that was referred before it."""
    by_child: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in latest.values():
        by_child[record["child_key"]].append(record)
    for records in by_child.values():
        referred = {r["contact_id"]: r for r in records if r["referral"] == "referral"}
        for r in records:
            if r["referral"] == "referral":
                assert r["decided_at"] is not None, f"{r['contact_id']} is a referral nobody decided"
                assert r["case_id"] == r["contact_id"], f"{r['contact_id']}: a referral opens its own case"
            elif r["referral"] == "linked_to_open_case":
                case = referred.get(r["case_id"])
                if case is not None:  # else a case opened by a child protection plan
                    opened = datetime.fromisoformat(case["decided_at"])
                    linked_at = max(datetime.fromisoformat(r["received_at"]), opened)
                    assert opened <= linked_at, f"{r['contact_id']} is linked to a case not yet open"
            elif r["decided_at"] is not None:
                assert r["route"] != "social_care", f"{r['contact_id']} went to social care unreferred"


def console_view_counts(url: str, password: str) -> dict[str, Any]:
    client = console_client(url, "manager", password)
    try:
        answer: dict[str, Any] = client.get("/counts").json()
        return answer
    finally:
        client.close()


@dataclass
class DevPart:
    """One of `mash dev`'s child processes, found by its command line; `mash dev` itself restarts it."""

    dev: subprocess.Popen[bytes]
    name: str

    def pid(self) -> int | None:
        for pid, argv in children_of(self.dev.pid):
            if argv[1:4] == [b"-m", b"mash", self.name.encode()]:
                return pid
        return None

    def stop(self, sig: int = signal.SIGKILL) -> None:
        pid = self.pid()
        assert pid is not None, f"mash dev has no {self.name} process running"
        os.kill(pid, sig)

    def start(self) -> None:
        """Nothing to do: `mash dev` notices the death and restarts the part itself."""


def environ(part: DevPart) -> dict[str, str]:
    pid = part.pid()
    assert pid is not None, f"no {part.name} process"
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode(errors="replace").split("=", 1) for p in pairs if b"=" in p)


def wait_for_text(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while text not in (printed := path.read_text()):
        assert proc.poll() is None, printed
        assert time.monotonic() < deadline, f"no {text!r} after {timeout} s:\n{printed}"
        time.sleep(0.3)
    return printed


def children_of(parent: int) -> Iterator[tuple[int, list[bytes]]]:
    """(pid, argv) of every live process whose parent is `parent`, read from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent:
            yield int(entry.name), argv
