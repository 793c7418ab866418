"""The targets printed beside the figures, judged for the reader and never for a test."""

from __future__ import annotations

from benchmarks.results import REQUIRED_KEYS, figures
from benchmarks.targets import TARGETS
from tests.unit.benchmarks.examples import full_results


def test_targets_are_judged_for_the_reader() -> None:
    f = figures(full_results())
    met = {name: target.met(f) for name, target in TARGETS.items()}
    # p99 of the intake is 60 ms: over the 50 ms target although the rate is met.
    assert met == {
        "pipeline": True,
        "e2e": True,
        "burst": True,
        "intake": False,
        "rules": True,
        "sealing": True,  # 80 µs a contact
        "memory": True,
        "console": None,  # did not run
    }
    assert all(t.met(dict.fromkeys(REQUIRED_KEYS)) is None for t in TARGETS.values())
