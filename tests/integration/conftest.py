"""Integration fixtures: one embedded broker per session, real processes per test.

Each test gets its own topic prefix (so its own topics, consumer group and changelog),
and the worker and intake run as real `python -m mash ...` processes talking to the
broker over loopback, exactly as `mash dev` runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mash.adapters.topics import ensure_topics
from mash.cli.embedded import EmbeddedBroker, free_port
from mash.config import Settings
from mash.intake.agencies import write_demo_agencies
from tests.support.keys import DEAD_LETTER_PUBLIC_KEY, MASTER_KEYS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@dataclass
class Proc:
    name: str
    url: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        path = self.log_path.with_name(f"{self.log_path.stem}-{len(self.logs)}.log")
        self.logs.append(path)
        with path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mash", self.name], env=self.env, stderr=out, stdout=out
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready after {timeout} s:\n{self.log_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())


@dataclass
class Service:
    """One isolated deployment of the service on the shared broker."""

    settings: Settings
    env: dict[str, str]
    keys: dict[str, str]
    tmp: Path
    intake: Proc
    worker: Proc

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def auth(self, agency: str = "police") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[agency]}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.intake.url, timeout=10.0)

    def worker_metrics(self) -> str:
        return httpx.get(f"{self.worker.url}/metrics", timeout=5.0).text


def make_service(broker_bootstrap: str, tmp: Path, **extra_env: str) -> Service:
    prefix = "t" + uuid.uuid4().hex[:10]
    keys = write_demo_agencies(tmp / "agencies.json", tmp / "demo-keys.json")
    intake_port, worker_port = free_port(), free_port()
    env = {
        **os.environ,
        "MASH_MODE": "development",
        "MASH_KAFKA_BOOTSTRAP": broker_bootstrap,
        "MASH_EMBEDDED_BROKER": "true",
        "MASH_CHILD_KEY_SECRET": "integration-test-secret",
        "MASH_TOPIC_PREFIX": prefix,
        "MASH_AGENCIES_FILE": str(tmp / "agencies.json"),
        "MASH_DATA_DIR": str(tmp / "worker-state"),
        "MASH_INTAKE_PORT": str(intake_port),
        "MASH_WORKER_PORT": str(worker_port),
        "MASH_REBALANCE_TIMEOUT_S": "2",
        "MASH_SESSION_TIMEOUT_S": "10",
        "MASH_HEARTBEAT_INTERVAL_S": "0.5",
        "MASH_PRODUCE_TIMEOUT_S": "3",
        "MASH_DEAD_LETTER_PUBLIC_KEY": DEAD_LETTER_PUBLIC_KEY,
        "MASH_MASTER_KEYS": MASTER_KEYS,
        **extra_env,
    }
    settings = Settings(
        mode="development",
        kafka_bootstrap=broker_bootstrap,
        topic_prefix=prefix,
        child_key_secret="integration-test-secret",  # type: ignore[arg-type]
        master_keys=MASTER_KEYS,  # type: ignore[arg-type]
    )
    asyncio.run(ensure_topics(settings))
    return Service(
        settings=settings,
        env=env,
        keys=keys,
        tmp=tmp,
        intake=Proc("intake", f"http://127.0.0.1:{intake_port}", tmp / "intake.log", env),
        worker=Proc("worker", f"http://127.0.0.1:{worker_port}", tmp / "worker.log", env),
    )


@pytest.fixture
def intake_only(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Service]:
    """The intake adapter alone: for request validation, which must never reach a worker."""
    service = make_service(broker.bootstrap, tmp_path)
    service.intake.start()
    try:
        service.intake.wait_ready()
        yield service
    finally:
        service.intake.stop()


@contextlib.contextmanager
def serving(svc: Service) -> Iterator[Service]:
    """The service's intake and worker running, until the block ends."""
    svc.worker.start()
    svc.intake.start()
    try:
        svc.intake.wait_ready()
        svc.worker.wait_ready()
        yield svc
    finally:
        svc.intake.stop()
        svc.worker.stop()
        shutil.rmtree(svc.tmp / "worker-state", ignore_errors=True)


@pytest.fixture
def service(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Service]:
    """Intake and one worker."""
    with serving(make_service(broker.bootstrap, tmp_path)) as svc:
        yield svc


# --- helpers for the reliability, access and privacy tests (added; the fixtures above are unchanged) ---


def add_worker(service: Service, index: int) -> Proc:
    """Another worker in the same consumer group: its own table state directory and web port."""
    port = free_port()
    env = {
        **service.env,
        "MASH_DATA_DIR": str(service.tmp / f"worker-state-{index}"),
        "MASH_WORKER_PORT": str(port),
    }
    return Proc("worker", f"http://127.0.0.1:{port}", service.tmp / f"worker{index}.log", env)


@dataclass
class ConsoleProc:
    proc: Proc
    users: dict[str, tuple[str, str]]

    @property
    def url(self) -> str:
        return self.proc.url

    def password(self, username: str) -> str:
        return self.users[username][1]


def make_console(service: Service) -> ConsoleProc:
    """The console as `mash console` runs it, on the service's topics, with the demo users."""
    from mash.console.users import write_demo_users

    users = write_demo_users(service.tmp / "users.json", service.tmp / "demo-users.json")
    port = free_port()
    env = {
        **service.env,
        "MASH_CONSOLE_PORT": str(port),
        "MASH_CONSOLE_USERS_FILE": str(service.tmp / "users.json"),
        "MASH_CONSOLE_SESSION_SECRET": "integration-console-secret",
        "MASH_CONSOLE_SECURE_COOKIES": "false",  # plain HTTP on loopback
    }
    return ConsoleProc(Proc("console", f"http://127.0.0.1:{port}", service.tmp / "console.log", env), users)


@contextmanager
def running_console(service: Service) -> Iterator[ConsoleProc]:
    """`make_console`, started and ready; stopped on the way out."""
    console = make_console(service)
    console.proc.start()
    try:
        console.proc.wait_ready()
        yield console
    finally:
        console.proc.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The reliability figures (contacts sent, kills, lost, duplicated, fuzz cases, 5xx), at the end."""
    from tests.support.reliability_figures import RECORDED

    if not RECORDED:
        return
    terminalreporter.section("reliability figures")
    for entry in RECORDED:
        figures = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "test")
        terminalreporter.write_line(f"{entry['test']}: {figures}")
