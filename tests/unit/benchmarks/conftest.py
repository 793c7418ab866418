"""The simulated contacts the bench's input builders are tested on."""

from __future__ import annotations

import pytest

from benchmarks.workload import Workload


@pytest.fixture(scope="module")
def workload() -> Workload:
    return Workload.make(300)
