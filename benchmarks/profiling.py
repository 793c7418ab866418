"""Sampling a worker with py-spy while a measurement runs, and the top functions by own time.

py-spy is optional (`pip install py-spy`); without it the bench runs and says it did not profile.
It samples from outside the process (`--nonblocking`: the worker is never paused), so the
figures it profiles are not slowed by it beyond the CPU the sampler itself takes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hot:
    """One function: samples where it was the innermost frame (own) and anywhere on the stack."""

    function: str
    own: int
    total: int
    own_share: float
    total_share: float


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profiler(pid: int, raw_out: Path, rate: int = 100) -> subprocess.Popen[bytes] | None:
    """Starts py-spy recording collapsed stacks of `pid` into `raw_out`; None if py-spy is missing."""
    binary = py_spy()
    if binary is None:
        return None
    raw_out.parent.mkdir(parents=True, exist_ok=True)
    options = ["--format", "raw", "--rate", str(rate), "--nonblocking", "--output", str(raw_out)]
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_profiler(process: subprocess.Popen[bytes] | None) -> str:
    """Stops py-spy so it writes its file; returns what it said on stderr (empty if fine)."""
    if process is None:
        return ""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err.decode(errors="replace")


def _frame_name(frame: str) -> str:
    """`func (path/to/module.py:123)` -> `func (module.py)`: one row per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:]) if path else "?"
    return f"{name} ({short})"


def hot_functions(collapsed: str, top: int = 10) -> list[Hot]:
    """The `top` functions by own samples, from py-spy's raw (collapsed stack) output.

    Each line is `frame;frame;...;innermost COUNT`, outermost first.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f]
        # py-spy may put the process or thread name first: it has no "(file)" part.
        frames = [f for f in frames if not f.endswith("(?)")] or frames
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count
    if samples == 0:
        return []
    return [
        Hot(function=name, own=n, total=total[name], own_share=n / samples, total_share=total[name] / samples)
        for name, n in own.most_common(top)
    ]


def format_hot(hot: list[Hot]) -> str:
    if not hot:
        return "(no samples)"
    width = max(len(h.function) for h in hot)
    lines = [f"{'function':<{width}}  {'own':>6}  {'total':>6}"]
    for h in hot:
        lines.append(f"{h.function:<{width}}  {h.own_share:>6.1%}  {h.total_share:>6.1%}")
    return "\n".join(lines)
