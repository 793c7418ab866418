"""`mash dev`: the whole service on one machine, on the embedded broker.

A convenience over the parts: it starts the broker, then `mash worker`, `mash intake` and
`mash console` as child processes with the same settings, creates the demo agencies, posts
the demo contacts and supervises: a part that dies is restarted (and it says so), and Ctrl-C
or SIGTERM stops everything. The broker keeps nothing, so the worker's table state from an
earlier run is discarded first; if the broker itself dies it is restarted, empty, on the
same port, and the worker and console, whose state mirrored the old broker, are restarted
with it (the intake notices the fresh broker by itself: see mash/intake/guard.py).

The parts' settings go to `<state dir>/settings.json` while it runs (mash/cli/dev_settings.py),
so the other commands, run beside it, use the same broker and child-key secret.

Stopping: a signal, at any moment and however many, only requests the stop (see
`StopRequest`); every part and the broker are then stopped, and the settings file removed.
The broker and the parts die with the supervisor if it is killed outright (mash/cli/lifetime.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import IO

from mash.adapters.sealing import new_box_keys, new_master_key
from mash.cli.dev_settings import read_settings_file, remove_settings_file, write_settings_file
from mash.cli.embedded import EmbeddedBroker, free_port
from mash.cli.lifetime import StopRequest, die_with_parent
from mash.config import Settings
from mash.console.users import write_demo_users
from mash.intake.agencies import write_demo_agencies

PART_STOP_TIMEOUT_S = 15.0
OPENING_KEYS = ("MASH_MASTER_KEYS", "MASH_DEAD_LETTER_PRIVATE_KEY")
READY_TIMEOUT_S = 90.0


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
            [sys.executable, "-m", "mash", self.name],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            preexec_fn=die_with_parent(),
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

    def terminate(self) -> None:
        """Asks it to stop; `finish` waits for it."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def finish(self, timeout: float = PART_STOP_TIMEOUT_S) -> None:
        if self.process and self.process.poll() is None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()


def post_demo_contacts(intake_url: str, keys: dict[str, str], stop: StopRequest | None = None) -> list[str]:
    """Posts the shipped fictional contacts, dated today so their clocks are live."""
    text = resources.files("mash.demo").joinpath("contacts.jsonl").read_text(encoding="utf-8")
    today = datetime.now(UTC).replace(microsecond=0)
    ids: list[str] = []
    for line in text.splitlines():
        if stop is not None and stop.requested:
            break
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


def _wait_ready(url: str, timeout: float, stop: StopRequest) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.requested:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        stop.pause(0.3)
    return False


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) == 0


def _say(text: str) -> None:
    """Printed while stopping, when the terminal may already be gone: stopping goes on regardless."""
    with contextlib.suppress(OSError):
        print(text, flush=True)


def _refuse_to_clash(settings: Settings, state_dir: Path, broker_port: int) -> None:
    """Exits, before anything starts, if another `mash dev` (or anything) holds what this one needs."""
    found = read_settings_file(state_dir)
    if found is not None and found.running():
        sys.exit(
            f"a `mash dev` (process {found.pid}) is already running with state dir {state_dir}; "
            "stop it first, or give this one another --state-dir"
        )
    ports = [
        ("intake", settings.intake_host, settings.intake_port),
        ("worker", settings.worker_host, settings.worker_port),
        ("console", settings.console_host, settings.console_port),
    ]
    if broker_port:
        ports.append(("broker", "127.0.0.1", broker_port))
    for name, host, port in ports:
        if _port_taken(host, port):
            sys.exit(
                f"{host}:{port} is already in use (another `mash dev`?); "
                f"choose another with --{name}-port (and the other port options)"
            )


def _print_shown_once(title: str, path: Path, rows: Iterable[tuple[str, ...]]) -> None:
    """Demo agencies' keys or users' passwords, as written to `path`: they are shown only here."""
    print(f"{title} {path} (shown once):")
    for *names, secret in rows:
        print("  " + "".join(f"{name:<12} " for name in names) + secret)


class DevStack:
    """The broker and the parts of one `mash dev`, started, supervised and stopped."""

    def __init__(self, settings: Settings, state_dir: Path, broker_port: int, stop: StopRequest) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.stop = stop
        self.pid = os.getpid()
        # Made before it starts, so that stopping finds its process from the moment there is one.
        self.broker = EmbeddedBroker("127.0.0.1", broker_port or free_port())
        self.parts: list[Part] = []
        self.logs = state_dir / "logs"

    def run(self, demo_data: bool) -> None:
        """Starts everything, then supervises it until a stop is requested."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # The new broker is empty: table state from an earlier run is stale.
        shutil.rmtree(self.settings.data_dir, ignore_errors=True)
        self.logs.mkdir(exist_ok=True)
        keys_file = self.state_dir / "demo-keys.json"
        keys = write_demo_agencies(self.settings.agencies_file, keys_file)
        users_file = self.state_dir / "demo-users.json"
        users = write_demo_users(self.settings.console_users_file, users_file)
        if self.stop.requested:
            return
        self.broker.start()
        if self.stop.requested:
            return
        settings_file = self._start_parts()
        self._print_where(settings_file)
        _print_shown_once("demo agency keys  written to", keys_file, keys.items())
        _print_shown_once(
            "demo console users written to", users_file, ((u, role, pw) for u, (role, pw) in users.items())
        )
        sys.stdout.flush()
        ready = all(
            _wait_ready(f"{url}/health/ready", READY_TIMEOUT_S, self.stop)
            for url in (self.intake_url, self.worker_url, self.console_url)
        )
        if self.stop.requested:
            return
        if ready:
            print("ready", flush=True)
            if demo_data:
                ids = post_demo_contacts(self.intake_url, keys, self.stop)
                print(f"posted {len(ids)} demo contacts")
        else:
            print(f"not ready after {READY_TIMEOUT_S:.0f} s: see the logs above", file=sys.stderr)
        print("Ctrl-C stops everything.", flush=True)
        self._supervise()

    def _start_parts(self) -> Path:
        """Starts the worker, intake and console; returns the settings file commands beside it read."""
        env = self._parts_env()
        settings_file = write_settings_file(self.state_dir, env, self.pid)
        # The worker never opens personal details: it is given neither key that opens them.
        unopening = {k: v for k, v in env.items() if k not in OPENING_KEYS}
        self.parts = [
            Part("worker", self.settings.worker_port, self.logs / "worker.log", unopening),
            Part("intake", self.settings.intake_port, self.logs / "intake.log", env),
            Part("console", self.settings.console_port, self.logs / "console.log", env),
        ]
        for part in self.parts:
            part.start()
        return settings_file

    def _print_where(self, settings_file: Path) -> None:
        print(f"embedded broker   {self.broker.bootstrap} (in memory: stopping it discards every topic)")
        intake = self.intake_url
        print(f"intake adapter    {intake}  (API docs {intake}/docs, metrics {intake}/metrics)")
        print(f"worker            {self.worker_url}  (metrics {self.worker_url}/metrics)")
        print(f"console           {self.console_url}  (metrics {self.console_url}/metrics)")
        print(f"logs              {self.logs}/")
        print(f"settings          {settings_file} (what mash replay, report, imm freeze... run here use)")

    def shutdown(self) -> None:
        """Every part, then the broker they need while they stop, then the settings file."""
        for part in self.parts:
            part.terminate()  # all at once: they stop side by side
        for part in reversed(self.parts):
            part.finish()
        self.broker.stop()
        remove_settings_file(self.state_dir, self.pid)

    @property
    def intake_url(self) -> str:
        return f"http://{self.settings.intake_host}:{self.settings.intake_port}"

    @property
    def worker_url(self) -> str:
        return f"http://{self.settings.worker_host}:{self.settings.worker_port}"

    @property
    def console_url(self) -> str:
        return f"http://{self.settings.console_host}:{self.settings.console_port}"

    def _parts_env(self) -> dict[str, str]:
        settings = self.settings
        dead_letter_private, dead_letter_public = new_box_keys()
        return {
            **os.environ,
            "MASH_MODE": "development",
            "MASH_KAFKA_BOOTSTRAP": self.broker.bootstrap,
            "MASH_EMBEDDED_BROKER": "true",
            "MASH_CHILD_KEY_SECRET": secrets.token_urlsafe(32),
            # Keys made for this run (production takes them from its secret store): the master key
            # that wraps children's data keys, and the operators' pair for dead letters.
            "MASH_MASTER_KEYS": new_master_key("mk-dev"),
            "MASH_DEAD_LETTER_PUBLIC_KEY": dead_letter_public,
            "MASH_DEAD_LETTER_PRIVATE_KEY": dead_letter_private,
            # Absolute: the settings file serves commands run from other folders too.
            "MASH_AGENCIES_FILE": str(settings.agencies_file.absolute()),
            "MASH_DATA_DIR": str(settings.data_dir.absolute()),
            "MASH_TOPIC_PREFIX": settings.topic_prefix,
            "MASH_INTAKE_HOST": settings.intake_host,
            "MASH_INTAKE_PORT": str(settings.intake_port),
            "MASH_WORKER_HOST": settings.worker_host,
            "MASH_WORKER_PORT": str(settings.worker_port),
            "MASH_CONSOLE_HOST": settings.console_host,
            "MASH_CONSOLE_PORT": str(settings.console_port),
            "MASH_CONSOLE_USERS_FILE": str(settings.console_users_file.absolute()),
            "MASH_CONSOLE_SESSION_SECRET": secrets.token_urlsafe(32),
            # Plain HTTP on loopback in development: a Secure cookie would never be sent back.
            "MASH_CONSOLE_SECURE_COOKIES": "false",
            "MASH_REBALANCE_TIMEOUT_S": "3",
            "MASH_SESSION_TIMEOUT_S": "10",
            "MASH_HEARTBEAT_INTERVAL_S": "1",
        }

    def _supervise(self) -> None:
        broker_restarts = 0
        while not self.stop.pause(0.5):
            if self.broker.process is not None and self.broker.process.poll() is not None:
                broker_restarts += 1
                print(
                    f"broker exited (code {self.broker.process.returncode}); restarting it on the same "
                    f"port, empty: every topic and offset is gone (restart {broker_restarts})",
                    flush=True,
                )
                if not self._restart_broker_and_its_readers():
                    return
            self._restart_dead_parts()

    def _restart_broker_and_its_readers(self) -> bool:
        """False if a stop was requested meanwhile."""
        # Their state mirrors the old broker: the worker's tables, the console's view. They
        # go before the new broker starts on the same port: records still in the worker's
        # send buffer would land on it (a table changelog the new worker's recovery then
        # waited on for good, a case record for a contact the new broker never had).
        fresh = [part for part in self.parts if part.name in ("worker", "console")]
        for part in fresh:
            part.kill()
        shutil.rmtree(self.settings.data_dir, ignore_errors=True)
        if not self._restart_broker():
            return False
        for part in fresh:
            print(f"{part.name} restarted, with fresh state, for the new broker", flush=True)
            part.start()
        return True

    def _restart_broker(self) -> bool:
        """The broker again on its port, retried while the port is still held by the dead one."""
        host, port = self.broker.host, self.broker.port
        for attempt in range(51):
            if self.stop.requested:
                return False
            self.broker = EmbeddedBroker(host, port)
            try:
                self.broker.start()
                return True
            except TimeoutError:
                if attempt == 50:
                    raise
                time.sleep(0.2)
        return False

    def _restart_dead_parts(self) -> None:
        for part in self.parts:
            if self.stop.requested:
                return
            # A part that keeps dying waits longer each time, so a broken setting doesn't spin.
            if not part.alive() and time.monotonic() - part.started_at > min(30, 2**part.restarts):
                code = part.process.returncode if part.process else None
                part.restarts += 1
                print(f"{part.name} exited (code {code}); restarting it (restart {part.restarts})")
                sys.stdout.flush()
                if part.log:
                    part.log.close()
                part.start()


def run_dev(
    settings: Settings,
    state_dir: Path,
    broker_port: int = 0,
    demo_data: bool = True,
    stop: StopRequest | None = None,
) -> None:
    """Runs until SIGINT or SIGTERM, then stops everything it started and returns.

    `stop` is best installed by the caller before its slow imports, so that a signal at any
    moment is a request to stop; otherwise it is installed here.
    """
    stop = stop or StopRequest.installed()
    _refuse_to_clash(settings, state_dir, broker_port)
    stack = DevStack(settings, state_dir, broker_port, stop)
    try:
        stack.run(demo_data)
    finally:
        if stop.requested:
            _say("stopping")
        stack.shutdown()
        stop.ignore_from_now()
        _say("stopped")
