"""The measurements a run makes, in their order, and their sizes."""

from __future__ import annotations

import pytest

from benchmarks.runner import MEASUREMENTS, Sizes, selection


def test_selection_defaults_to_everything_in_run_order() -> None:
    assert selection(()) == MEASUREMENTS
    assert selection(("memory,rules", "pipeline")) == ("pipeline", "rules", "memory")


def test_selection_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown measurement"):
        selection(("pipline",))


def test_sizes_of_a_full_and_a_quick_run() -> None:
    full = Sizes.of(None, quick=False)
    assert (full.contacts, full.memory_children, full.latency_seconds) == (100_000, 1_000_000, 20.0)
    quick = Sizes.of(None, quick=True)
    assert quick.contacts < full.contacts
    assert quick.memory_children < full.memory_children
    assert Sizes.of(20_000, quick=True).contacts == 20_000
    assert quick.memory_sample + quick.memory_live <= quick.contacts


def test_selection_takes_replay_andconsole_result() -> None:
    assert selection(("console,replay",)) == ("replay", "console")
    quick, full = Sizes.of(None, quick=True), Sizes.of(None, quick=False)
    assert full.console_contacts >= 500
    assert full.console_open_cases == 10_000
    assert quick.replay_children < full.replay_children
