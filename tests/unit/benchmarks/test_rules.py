"""The in-process measurement of the ruleset core: its inputs."""

from __future__ import annotations

from benchmarks.rules import screen_inputs
from benchmarks.workload import Workload
from mash.domain.ruleset import load_ruleset


def test_screen_inputs_carry_each_childs_earlier_contacts(workload: Workload) -> None:
    inputs = screen_inputs(workload.events, load_ruleset())
    assert len(inputs) == len(workload.events)
    repeats = len(workload.events) - workload.children
    assert sum(1 for _, known, _ in inputs if known.earlier_contacts) == repeats
