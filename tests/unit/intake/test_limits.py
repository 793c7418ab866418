"""The per-agency token bucket: bursts up to the limit, then the rate, each agency on its own."""

from __future__ import annotations

import pytest

from mash.intake.limits import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_refused_with_the_wait_until_a_token_is_back() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert [limiter.take("police", rate=2.0, burst=3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("police", rate=2.0, burst=3)
    assert wait == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("police", rate=2.0, burst=3) == 0.0
    assert limiter.take("police", rate=2.0, burst=3) > 0


def test_the_sustained_rate_is_the_refill_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    allowed = 0
    for _ in range(1000):  # 10 seconds at 100 attempts a second
        clock.now += 0.01
        allowed += limiter.take("school", rate=5.0, burst=10) == 0.0
    assert 10 + 49 <= allowed <= 10 + 50


def test_agencies_have_separate_buckets() -> None:
    limiter = RateLimiter(Clock())
    for _ in range(5):
        assert limiter.take("police", rate=1.0, burst=5) == 0.0
    assert limiter.take("police", rate=1.0, burst=5) > 0
    assert limiter.take("school", rate=1.0, burst=5) == 0.0


def test_tokens_never_exceed_the_burst_however_long_the_agency_was_quiet() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    limiter.take("health", rate=10.0, burst=2)
    clock.now += 3600
    assert [limiter.take("health", rate=10.0, burst=2) for _ in range(3)][2] > 0


def test_a_lowered_limit_applies_at_once() -> None:
    limiter = RateLimiter(Clock())
    limiter.take("police", rate=100.0, burst=100)
    assert limiter.take("police", rate=1.0, burst=1) == 0.0  # capped at the new burst: one token
    assert limiter.take("police", rate=1.0, burst=1) == pytest.approx(1.0)


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter().take("police", rate=0.0, burst=1)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (30.0, "30")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header
