"""`mash dev` (what `make run` starts) brings the whole service up, serves the commands run
beside it, and stops cleanly, at any moment, leaving nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mash.cli.embedded import free_port
from tests.integration.test_pipeline import wait_screened
from tests.support.builders import child, submission
from tests.support.chaos import wait_for_text

PARTS = ("intake", "worker", "console", "broker")


def test_mash_dev_runs_the_service_with_demo_agencies_and_stops_on_sigterm(tmp_path: Path) -> None:
    intake_port, worker_port, console_port = free_port(), free_port(), free_port()
    out = (tmp_path / "dev.out").open("wb")
    dev = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mash",
            "dev",
            "--intake-port",
            str(intake_port),
            "--worker-port",
            str(worker_port),
            "--console-port",
            str(console_port),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while "posted" not in (tmp_path / "dev.out").read_text() and time.monotonic() < deadline:
            assert dev.poll() is None, (tmp_path / "dev.out").read_text()
            time.sleep(0.5)
        printed = (tmp_path / "dev.out").read_text()
        assert "posted 8 demo contacts" in printed, printed
        keys = json.loads((tmp_path / "state" / "demo-keys.json").read_text())
        assert set(keys) == {"police", "school", "health", "early-help", "case-system"}
        assert keys["police"] in printed  # shown once, at start
        auth = {"Authorization": f"Bearer {keys['police']}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{intake_port}", timeout=10) as client:
            [urgent] = client.post(
                "/v1/contacts", json=submission("disclosure_of_abuse"), headers=auth
            ).json()["contact_ids"]
            # Another child, with no history: information only, which the service closes itself.
            other = submission("no_unmet_needs", children=[child("Newly", "Known", dob="2012-05-05")])
            [info] = client.post("/v1/contacts", json=other, headers=auth).json()["contact_ids"]
            red = wait_screened(client, urgent, auth)
            blue = wait_screened(client, info, auth)
        assert (red["status"], red["rag"]) == ("awaiting_decision", "red")  # for a coordinator to decide
        assert (blue["status"], blue["level"], blue["route"]) == ("closed", 1, "universal")
        assert httpx.get(f"http://127.0.0.1:{worker_port}/metrics").status_code == 200
    finally:
        dev.send_signal(signal.SIGTERM)
        code = dev.wait(timeout=60)
        out.close()
    assert code == 0
    assert "stopped" in (tmp_path / "dev.out").read_text()
    for port in (intake_port, worker_port):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
            raise AssertionError(f"something still answers on port {port} after mash dev stopped")
        except httpx.ConnectError:
            pass


# --- the commands run beside it, and stopping at any moment --------------------------------


def clean_env() -> dict[str, str]:
    """A new terminal's: no MASH_* settings at all."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MASH_")} | {"PYTHONUNBUFFERED": "1"}


@dataclass
class Dev:
    """A `mash dev` started as a terminal starts `make run`: in a process group of its own."""

    process: subprocess.Popen[bytes]
    out_path: Path
    state_dir: Path
    ports: dict[str, int]

    def printed(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_for_text(self.out_path, "\nready\n", self.process, timeout=120)

    def signal(self, sig: int, *, several: bool) -> None:
        """One signal to the supervisor; or, several, as `make run` interrupted at a terminal gets
        them: one to the whole group, the same again from make, and one more from the user."""
        with contextlib.suppress(ProcessLookupError):
            if not several:
                self.process.send_signal(sig)
                return
            os.killpg(self.process.pid, sig)
            self.process.send_signal(sig)
            time.sleep(0.1)
            self.process.send_signal(sig)

    def leftovers(self) -> list[str]:
        """Live processes of this `mash dev`: the supervisor (its state dir on its command
        line), the broker (its port on its command line), the parts (the state dir in their
        environment, in the file paths it gave them)."""
        marks = [str(self.state_dir.absolute()).encode(), f"tcp://127.0.0.1:{self.ports['broker']}".encode()]
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # dead, waiting for its parent to collect it
                cmdline = (entry / "cmdline").read_bytes()
                environ = (entry / "environ").read_bytes()
            except (OSError, IndexError):
                continue
            if any(mark in cmdline or mark in environ for mark in marks):
                argv = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {argv}")
        return found

    def listening(self) -> list[str]:
        return [name for name, port in self.ports.items() if port_answers(port)]


def start_dev(tmp_path: Path, *, in_folder: bool = False) -> Dev:
    """`mash dev --no-demo-data` on free ports; `in_folder`: run in tmp_path with the default
    state dir (`.mash`), as `make run` is, rather than with --state-dir."""
    ports = {name: free_port() for name in PARTS}
    args = [sys.executable, "-m", "mash", "dev", "--no-demo-data"]
    args += [f"--{name}-port={port}" for name, port in ports.items()]
    state_dir = tmp_path / ".mash" if in_folder else tmp_path / "state"
    if not in_folder:
        args.append(f"--state-dir={state_dir}")
    out_path = tmp_path / "dev.out"
    with out_path.open("wb") as out:
        process = subprocess.Popen(
            args,
            cwd=tmp_path if in_folder else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            start_new_session=True,
        )
    return Dev(process, out_path, state_dir, ports)


def port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str, dev: Dev) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {what} after {timeout} s:\n{dev.printed()}"
        time.sleep(0.05)


def at_once(dev: Dev) -> None:
    pass


def once_it_makes_its_state_dir(dev: Dev) -> None:
    """Loaded, listening for signals, and about to write the demo files and start the broker."""
    wait_until(dev.state_dir.exists, 60, "making its state dir", dev)


def once_the_broker_answers(dev: Dev) -> None:
    wait_until(lambda: port_answers(dev.ports["broker"]), 60, "the broker answering", dev)


def once_the_intake_answers(dev: Dev) -> None:
    def answers() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{dev.ports['intake']}/health/live", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    wait_until(answers, 60, "the intake answering", dev)


def once_ready(dev: Dev) -> None:
    dev.wait_ready()


@pytest.mark.parametrize(
    ("moment", "sig", "several"),
    [
        pytest.param(at_once, signal.SIGINT, True, id="at-once-SIGINT-several"),
        pytest.param(at_once, signal.SIGTERM, False, id="at-once-SIGTERM"),
        pytest.param(once_it_makes_its_state_dir, signal.SIGTERM, True, id="state-dir-SIGTERM-several"),
        pytest.param(once_the_broker_answers, signal.SIGTERM, True, id="broker-answers-SIGTERM-several"),
        # The reported case: `make run` sent SIGTERM by group as soon as the intake answered.
        pytest.param(once_the_intake_answers, signal.SIGTERM, True, id="intake-answers-SIGTERM-several"),
        pytest.param(once_the_intake_answers, signal.SIGINT, False, id="intake-answers-SIGINT"),
        pytest.param(once_ready, signal.SIGINT, True, id="ready-SIGINT-several"),
    ],
)
def test_mash_dev_stopped_at_any_moment_by_any_number_of_signals_stops_everything_quietly(
    tmp_path: Path, moment: Callable[[Dev], None], sig: int, several: bool
) -> None:
    dev = start_dev(tmp_path)
    try:
        moment(dev)
        dev.signal(sig, several=several)
        code = dev.process.wait(timeout=40)
    finally:
        if dev.process.poll() is None:
            os.killpg(dev.process.pid, signal.SIGKILL)
    printed = dev.printed()
    assert "Traceback" not in printed, printed
    # Stopped before it had loaded, it simply ends by the signal: nothing had started.
    assert code == 0 or (moment is at_once and code in (-sig, 128 + sig)), (code, printed)
    assert dev.leftovers() == []
    assert dev.listening() == []
    assert not (dev.state_dir / "settings.json").exists(), "a stopped stack's settings file is left"


def test_a_mash_dev_killed_outright_takes_its_broker_and_parts_with_it(tmp_path: Path) -> None:
    dev = start_dev(tmp_path)
    try:
        once_the_intake_answers(dev)
        assert len(dev.leftovers()) >= 4  # itself, the broker, the parts: the check sees them
        dev.process.kill()
        dev.process.wait(timeout=10)
        # The kernel ends them as their parent dies; a few moments to finish dying.
        wait_until(lambda: dev.leftovers() == [] and dev.listening() == [], 10, "all gone", dev)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.process.pid, signal.SIGKILL)
    # Its settings file stays behind, but no command takes it for a running stack.
    assert (dev.state_dir / "settings.json").exists()
    report = subprocess.run(
        [sys.executable, "-m", "mash", "report", "--year", "2025", f"--state-dir={dev.state_dir}"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 2, report
    assert f"process {dev.process.pid}) is no longer running" in report.stderr
    assert "make run" in report.stderr


def test_commands_in_a_second_terminal_use_the_running_mash_dev_with_no_settings_given(
    tmp_path: Path,
) -> None:
    """The README's next steps, in a fresh terminal in the same folder: no MASH_* variable set."""
    dev = start_dev(tmp_path, in_folder=True)

    def mash(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mash", *args],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"mash {' '.join(args)}: {done.stderr}"
        return done.stdout

    try:
        dev.wait_ready()
        settings_file = dev.state_dir / "settings.json"
        assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600  # it holds the child-key secret

        mash("simulate", "--children", "300", "--days", "120", "--out", "h.jsonl")  # from 1 April 2024
        lines = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
        contacts = sum(len(line["submission"]["children"]) for line in lines if line["kind"] == "contact")
        assert f"replayed {contacts} contacts" in mash("replay", "h.jsonl", "--quiet")
        report = json.loads(mash("report", "--year", "2024"))
        assert (report["from"], report["to"], report["contacts"]) == ("2024-04-01", "2025-03-31", contacts)
        assert mash("imm", "freeze").startswith("imm-")
        assert "nothing (all present)" in mash("topics")
        posted = mash("simulate", "--post", "--children", "50", "--days", "1", "--contacts-per-day", "4")
        # No URL and no keys: the running stack's intake and demo keys.
        assert re.match(rf"posted \d+ lines to http://127.0.0.1:{dev.ports['intake']} ", posted), posted
    finally:
        dev.signal(signal.SIGTERM, several=False)
        code = dev.process.wait(timeout=40)
    assert code == 0, dev.printed()
    assert not settings_file.exists()
    assert dev.leftovers() == []
