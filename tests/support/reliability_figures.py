"""The figures the reliability, outage, fuzz, access and privacy tests report.

Each test records its figures here; they are printed as the test runs, collected into
tests/output/reliability-figures.json, and summarised at the end of the pytest run (the
"Measured" section of docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parents[1] / "output" / "reliability-figures.json"
RECORDED: list[dict[str, Any]] = []


def record_figures(test: str, **figures: Any) -> None:
    entry = {"test": test, **figures}
    RECORDED.append(entry)
    print(f"FIGURES {test}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    existing: list[dict[str, Any]] = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else []
    existing = [e for e in existing if e.get("test") != test]
    OUTPUT.write_text(json.dumps([*existing, entry], indent=2) + "\n")
