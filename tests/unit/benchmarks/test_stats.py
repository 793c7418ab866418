"""Percentiles, and the spreads and rates every figure is given in."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.intake import Load
from benchmarks.latency import Spread
from benchmarks.pipeline import Throughput
from benchmarks.stats import percentile


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 50) == 30.0
    assert percentile(values, 100) == 50.0
    assert percentile(values, 25) == 20.0
    assert percentile(values, 90) == pytest.approx(46.0)
    assert percentile([1.0, 2.0], 50) == 1.5


def test_percentile_ignores_input_order_and_handles_one_value() -> None:
    assert percentile([50.0, 10.0, 40.0, 20.0, 30.0], 50) == 30.0
    assert percentile([7.0], 99) == 7.0


def test_p99_of_a_hundred_values_is_near_the_top() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 99) == pytest.approx(99.01)


@pytest.mark.parametrize("p", [-1, 101])
def test_percentile_refuses_a_p_outside_0_to_100(p: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], p)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_spread_is_in_milliseconds() -> None:
    spread = Spread.of([0.010, 0.020, 0.030])
    assert spread.count == 3
    assert spread.p50_ms == pytest.approx(20.0)
    assert spread.max_ms == pytest.approx(30.0)


def test_throughput_and_load_rates() -> None:
    assert Throughput("x", 1000, 2.0, 0.5).per_s == 500.0
    assert Throughput("x", 1000, 0.0, 0.0).per_s == 0.0
    load = Load("POST", 4, 2.0, latencies_ms=[1.0, 2.0, 3.0], statuses=Counter({202: 3, 503: 1}))
    assert load.ok == 3
    assert load.rps == 1.5
    assert load.p50_ms == 2.0
