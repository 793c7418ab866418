"""The ruleset registry as a reader of `mash.rulesets.v1` keeps it."""

from __future__ import annotations

from mash.adapters.ruleset_registry import Registry, encode
from mash.config import Settings
from mash.domain.ruleset import Ruleset, load_ruleset
from tests.support.memory_kafka import MemoryRecord

DEFAULT = load_ruleset()


def record(ruleset: Ruleset, offset: int) -> MemoryRecord:
    key, value = encode(ruleset)
    return MemoryRecord("mash.rulesets.v1", 0, offset, 0, key, value, ())


def test_a_reader_keeps_the_first_copy_of_a_version_and_goes_on_past_a_conflicting_one() -> None:
    registry = Registry(Settings(mode="development"))
    edited = Ruleset.model_validate({**DEFAULT.model_dump(), "name": "edited without a new version"})
    later = Ruleset.model_validate({**DEFAULT.model_dump(), "version": "2027.1"})

    for offset, ruleset in enumerate((DEFAULT, edited, later)):
        registry.follower.on_record(record(ruleset, offset))

    assert registry.history is not None
    assert [r.name for r in registry.history.versions] == [DEFAULT.name, DEFAULT.name]
    assert [r.version for r in registry.history.versions] == ["2026.2", "2027.1"]
