"""Per-agency rate limits: a token bucket for each agency.

Each agency may make `burst` requests at once and then `rate` a second: a request takes a
token, tokens come back at `rate` a second up to `burst`. A request with no token left is
refused with 429 and told how long until one is back (Retry-After), so one partner's
runaway script cannot crowd out the others. Buckets are kept per authenticated agency id
only, so their number is bounded by the agencies file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

RATE_LIMITED = Counter(
    "mash_intake_rate_limited_total",
    "Requests refused with 429 because an agency was over its rate limit",
    ["agency"],
)


@dataclass
class _Bucket:
    rate: float
    burst: int
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, agency_id: str, rate: float, burst: int) -> float:
        """Takes a token for the agency: 0.0 if allowed, else the seconds until a token is back.

        `rate` and `burst` may change between calls (the agencies file was edited): the
        bucket keeps its tokens, capped at the new burst.
        """
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        now = self._clock()
        bucket = self._buckets.get(agency_id)
        if bucket is None:
            bucket = self._buckets[agency_id] = _Bucket(rate, burst, float(burst), now)
        bucket.rate, bucket.burst = rate, burst
        bucket.tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


def retry_after_header(wait_s: float) -> str:
    """Whole seconds, rounded up, at least 1: what HTTP's Retry-After can say."""
    return str(max(1, math.ceil(wait_s)))
