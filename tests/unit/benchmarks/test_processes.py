"""The processes a measurement starts: their logs, CPU time and memory."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from benchmarks.processes import Memory, cpu_seconds, log_warnings, read_memory


def test_log_warnings_are_counted_by_event(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(
        "\n".join(
            [
                '\x1b[?25l{"event": "producer buffer full size 101", "level": "warning"}',
                '{"event": "producer buffer full size 101", "level": "warning"}',
                '{"event": "worker started", "level": "info"}',
                '{"event": "agent crashed", "level": "error"}',
                "a line that is not JSON {",
            ]
        )
    )
    assert log_warnings(log) == Counter({"producer buffer full size 101": 2, "agent crashed": 1})
    assert log_warnings(tmp_path / "missing.log") == Counter()


def test_memory_and_cpu_of_this_process_are_read_from_proc() -> None:
    memory = read_memory(os.getpid())
    assert isinstance(memory, Memory)
    assert 0 < memory.rss_kib <= memory.peak_kib
    assert cpu_seconds(os.getpid()) > 0
