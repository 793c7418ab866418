"""What `mash simulate` accepts to simulate (mash/simulate/config.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from mash.simulate import SimulationConfig

SHORT = SimulationConfig(seed=3, children=200, days=45, start=date(2026, 3, 1), contacts_per_day=4)


def test_a_share_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="late_share"):
        replace(SHORT, late_share=1.5)
