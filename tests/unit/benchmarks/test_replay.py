"""The `mash replay` measurement: its rates, and the summary it reads from the command."""

from __future__ import annotations

import pytest

from benchmarks.processes import BenchError
from benchmarks.replay import ReplayResult, summary_of
from tests.unit.benchmarks.examples import replay_result


def test_replay_rates_are_contacts_per_second() -> None:
    replay = replay_result()
    assert replay.per_s == 500.0
    assert replay.write_only_per_s == 7_500.0
    assert ReplayResult(1, 1, 10, 0, 0.0, 0.0, 0.0, 0.0).per_s == 0.0


def test_replay_summary_is_read_from_the_commands_last_line() -> None:
    output = "replayed 30000 contacts and 6000 outcomes in 58.5 s (513 contacts/s); 0 bad lines skipped\n"
    assert summary_of(output) == (30_000, 6_000, 58.5)
    with pytest.raises(BenchError, match="no summary"):
        summary_of("Traceback ...")
