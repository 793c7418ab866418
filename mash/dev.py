"""`mash dev`: the whole service on one machine, on the embedded broker.

A convenience over the parts: it starts the broker, then `mash worker`, `mash intake` and
`mash console` as child processes with the same settings, creates the demo agencies, posts
the demo contacts and supervises: a part that dies is restarted (and it says so), and Ctrl-C
or SIGTERM stops everything. The broker keeps nothing, so the worker's table state from an
earlier run is discarded first; if the broker itself dies it is restarted, empty, on the
same port, and the worker and console, whose state mirrored the old broker, are restarted
with it (the intake notices the fresh broker by itself: see mash/intake/guard.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import IO

from mash.config import Settings
from mash.console.users import write_demo_users
from mash.embedded import EmbeddedBroker, free_port
from mash.intake.agencies import write_demo_agencies


@dataclass
class Part:
    name: str
    port: int
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    restarts: int = field(default=0)
    started_at: float = 0.0

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mash", self.name], env=self.env, stdout=self.log, stderr=self.log
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """At once: for a part whose state is being thrown away anyway."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.log:
            self.log.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def post_demo_contacts(intake_url: str, keys: dict[str, str]) -> list[str]:
    """Posts the shipped fictional contacts, dated today so their clocks are live."""
    text = resources.files("mash.demo").joinpath("contacts.jsonl").read_text(encoding="utf-8")
    today = datetime.now(UTC).replace(microsecond=0)
    ids: list[str] = []
    for line in text.splitlines():
        item = json.loads(line)
        if item.get("kind") != "contact":
            continue
        submission = item["submission"]
        submission["received_at"] = today.isoformat()
        request = urllib.request.Request(
            f"{intake_url}/v1/contacts",
            data=json.dumps(submission).encode(),
            headers={"Authorization": f"Bearer {keys[item['agency']]}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                ids.extend(json.loads(response.read())["contact_ids"])
        except urllib.error.HTTPError as exc:
            print(f"demo contact {submission['agency_reference']} refused: {exc.code} {exc.read().decode()}")
    return ids


def _wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) == 0


def _restart_broker(old: EmbeddedBroker) -> EmbeddedBroker:
    """The broker again on its port, retried while the port is still held by the dead one."""
    for _ in range(50):
        try:
            return EmbeddedBroker(old.host, old.port).start()
        except TimeoutError:
            time.sleep(0.2)
    return EmbeddedBroker(old.host, old.port).start()


def run_dev(settings: Settings, state_dir: Path, broker_port: int = 0, demo_data: bool = True) -> None:
    for host, port in (
        (settings.intake_host, settings.intake_port),
        (settings.worker_host, settings.worker_port),
    ):
        if _port_taken(host, port):
            sys.exit(
                f"{host}:{port} is already in use (another `mash dev`?); choose other ports with the options"
            )
    signal.signal(signal.SIGTERM, _raise_stop)
    state_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(settings.data_dir, ignore_errors=True)  # the new broker is empty: old table state is stale
    logs = state_dir / "logs"
    logs.mkdir(exist_ok=True)
    keys_file = state_dir / "demo-keys.json"
    keys = write_demo_agencies(settings.agencies_file, keys_file)
    users_file = state_dir / "demo-users.json"
    users = write_demo_users(settings.console_users_file, users_file)

    broker = EmbeddedBroker("127.0.0.1", broker_port or free_port()).start()
    env = {
        **os.environ,
        "MASH_MODE": "development",
        "MASH_KAFKA_BOOTSTRAP": broker.bootstrap,
        "MASH_EMBEDDED_BROKER": "true",
        "MASH_CHILD_KEY_SECRET": secrets.token_urlsafe(32),
        "MASH_AGENCIES_FILE": str(settings.agencies_file),
        "MASH_DATA_DIR": str(settings.data_dir),
        "MASH_TOPIC_PREFIX": settings.topic_prefix,
        "MASH_INTAKE_HOST": settings.intake_host,
        "MASH_INTAKE_PORT": str(settings.intake_port),
        "MASH_WORKER_HOST": settings.worker_host,
        "MASH_WORKER_PORT": str(settings.worker_port),
        "MASH_CONSOLE_HOST": settings.console_host,
        "MASH_CONSOLE_PORT": str(settings.console_port),
        "MASH_CONSOLE_USERS_FILE": str(settings.console_users_file),
        "MASH_CONSOLE_SESSION_SECRET": secrets.token_urlsafe(32),
        # Plain HTTP on loopback in development: a Secure cookie would never be sent back.
        "MASH_CONSOLE_SECURE_COOKIES": "false",
        "MASH_REBALANCE_TIMEOUT_S": "3",
        "MASH_SESSION_TIMEOUT_S": "10",
        "MASH_HEARTBEAT_INTERVAL_S": "1",
    }
    parts = [
        Part("worker", settings.worker_port, logs / "worker.log", env),
        Part("intake", settings.intake_port, logs / "intake.log", env),
        Part("console", settings.console_port, logs / "console.log", env),
    ]
    intake_url = f"http://{settings.intake_host}:{settings.intake_port}"
    worker_url = f"http://{settings.worker_host}:{settings.worker_port}"
    console_url = f"http://{settings.console_host}:{settings.console_port}"
    try:
        for part in parts:
            part.start()
        print(f"embedded broker   {broker.bootstrap} (in memory: stopping it discards every topic)")
        print(f"intake adapter    {intake_url}  (API docs {intake_url}/docs, metrics {intake_url}/metrics)")
        print(f"worker            {worker_url}  (metrics {worker_url}/metrics)")
        print(f"console           {console_url}  (metrics {console_url}/metrics)")
        print(f"logs              {logs}/")
        print(f"demo agency keys  written to {keys_file} (shown once):")
        for agency_id, key in keys.items():
            print(f"  {agency_id:<12} {key}")
        print(f"demo console users written to {users_file} (shown once):")
        for user, (role, password) in users.items():
            print(f"  {user:<12} {role:<12} {password}")
        urls = (intake_url, worker_url, console_url)
        if all(_wait_ready(f"{url}/health/ready", 90) for url in urls):
            print("ready")
            if demo_data:
                ids = post_demo_contacts(intake_url, keys)
                print(f"posted {len(ids)} demo contacts")
        else:
            print("not ready after 90 s: see the logs above", file=sys.stderr)
        print("Ctrl-C stops everything.")
        sys.stdout.flush()
        broker_restarts = 0
        while True:
            time.sleep(0.5)
            if broker.process is not None and broker.process.poll() is not None:
                broker_restarts += 1
                print(
                    f"broker exited (code {broker.process.returncode}); restarting it on the same port, "
                    f"empty: every topic and offset is gone (restart {broker_restarts})",
                    flush=True,
                )
                # Their state mirrors the old broker: the worker's tables, the console's view. They
                # go before the new broker starts on the same port: records still in the worker's
                # send buffer would land on it (a table changelog the new worker's recovery then
                # waited on for good, a case record for a contact the new broker never had).
                fresh = [part for part in parts if part.name in ("worker", "console")]
                for part in fresh:
                    part.kill()
                shutil.rmtree(settings.data_dir, ignore_errors=True)
                broker = _restart_broker(broker)
                for part in fresh:
                    print(f"{part.name} restarted, with fresh state, for the new broker", flush=True)
                    part.start()
            for part in parts:
                # A part that keeps dying waits longer each time, so a broken setting doesn't spin.
                if not part.alive() and time.monotonic() - part.started_at > min(30, 2**part.restarts):
                    code = part.process.returncode if part.process else None
                    part.restarts += 1
                    print(
                        f"{part.name} exited (code {code}); restarting it (restart {part.restarts})",
                        flush=True,
                    )
                    if part.log:
                        part.log.close()
                    part.start()
    except (KeyboardInterrupt, _Stop):
        print("stopping", flush=True)
    finally:
        for part in reversed(parts):
            part.stop()
        broker.stop()
        print("stopped", flush=True)
