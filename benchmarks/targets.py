"""The targets printed beside the figures: the issue's, for a 2-core machine on the embedded broker.

A target is judged met or not for the reader; nothing turns a figure into a pass or a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Figures = dict[str, float | int | None]


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[Figures], bool | None]


def _at_most(key: str, ceiling: float) -> Callable[[Figures], bool | None]:
    def met(f: Figures) -> bool | None:
        value = f.get(key)
        return None if value is None else value <= ceiling

    return met


def _at_least(key: str, floor: float) -> Callable[[Figures], bool | None]:
    def met(f: Figures) -> bool | None:
        value = f.get(key)
        return None if value is None else value >= floor

    return met


def _below(key: str, ceiling: float) -> Callable[[Figures], bool | None]:
    def met(f: Figures) -> bool | None:
        value = f.get(key)
        return None if value is None else value < ceiling

    return met


def _all(*checks: Callable[[Figures], bool | None]) -> Callable[[Figures], bool | None]:
    def met(f: Figures) -> bool | None:
        results = [check(f) for check in checks]
        return None if any(r is None for r in results) else all(results)

    return met


TARGETS: dict[str, Target] = {
    "pipeline": Target(
        ">= 10,000/s and >= 25% of bare",
        _all(_at_least("pipeline_contacts_per_s", 10_000), _at_least("pipeline_ratio", 0.25)),
    ),
    "e2e": Target("p99 < 250 ms", _below("e2e_p99_ms", 250)),
    "burst": Target("< 5 s", _below("burst_1000_s", 5)),
    "intake": Target(
        ">= 1,500 req/s, p99 < 50 ms", _all(_at_least("intake_rps", 1500), _below("intake_p99_ms", 50))
    ),
    "rules": Target(">= 50,000/s", _at_least("rules_contacts_per_s", 50_000)),
    # Sealing a contact costs far less than the worker's step and the intake's HTTP round trip.
    "sealing": Target("<= 200 µs a contact", _at_most("sealing_us_per_contact", 200)),
    "memory": Target("< 1 GiB", _below("worker_rss_mib_1m_children", 1024)),
    # The console's promise (docs/console.md): changes reach an open browser "within a second".
    "console": Target("p99 < 1 s", _below("console_sse_p99_ms", 1000)),
}
