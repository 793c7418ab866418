"""`python -m benchmarks --quick` (what `make bench` runs, at smoke sizes) measures everything and says so.

The figures themselves are never judged here: timing does not decide a test. What is checked is
that the one command runs every measurement to the end on its own embedded broker, that every
contact it sends comes out as a case record, and that the table and the JSON carry what the
performance page (docs/performance.md) describes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.results import REQUIRED_KEYS

# The rows with a target, as the table names them; each is judged met or not.
TARGET_ROWS = (
    "pipeline, 1 worker (",
    "end-to-end, 202 to case",
    "burst: 1,000 posted at once",
    "intake POST /v1/contacts",
    "ruleset core",
    "worker RSS",
)

OTHER_ROWS = (
    "pipeline, 2 workers in one group",
    "faust floor",
    "faust agent, no table",
    "aiokafka batch loop",
    "domain step recorded",
    "batch size 1",
    "mash replay FILE",
    "console: 202 to case in open live stream",
    "console queue page",
    "console case page",
)


def table_rows(printed: str) -> dict[str, list[str]]:
    """The Markdown table's rows by their first cell, each as its cells."""
    rows: dict[str, list[str]] = {}
    for line in printed.splitlines():
        if line.startswith("|") and not line.startswith("|-"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


@pytest.mark.timeout(900)
def test_quick_bench_runs_every_measurement_and_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=840,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = table_rows(done.stdout)
    assert rows["measurement"][-2:] == ["target", "met"], rows.get("measurement")

    def row(label: str) -> list[str]:
        found = [cells for name, cells in rows.items() if label in name]
        assert len(found) == 1, f"{label!r}: {len(found)} rows in\n{done.stdout}"
        return found[0]

    for name in TARGET_ROWS:
        assert row(name)[-1] in {"yes", "no"}, row(name)
    for name in OTHER_ROWS:
        assert row(name)[1], row(name)  # a result, even where there is no target

    figures = json.loads(out.read_text())
    for key in REQUIRED_KEYS:  # each one a figure, now that every measurement ran
        assert isinstance(figures[key], int | float), (key, figures[key])
        assert figures[key] > 0, (key, figures[key])
    # The bench fails unless each pipeline's every contact came out as a case record: these are
    # the counts it sent.
    assert figures["pipeline_contacts"] == figures["contacts"] == 5000
    assert figures["replay_contacts"] > 0
    assert figures["replay_outcomes"] > 0
    assert figures["intake_errors"] == 0
    assert figures["children_in_rocksdb"] >= figures["memory_children"]
    assert figures["command"] == f"python -m benchmarks --quick --json {out}"
    assert figures["machine"]["cpus"] == os.cpu_count()
    assert set(figures["targets"]) >= {"pipeline", "e2e", "burst", "intake", "rules", "memory"}
