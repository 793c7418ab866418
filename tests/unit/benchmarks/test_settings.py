"""The settings and topics a measurement's processes run with."""

from __future__ import annotations

from benchmarks.settings import BENCH_SECRET, IDENTITIES_TABLE, bench_settings, changelog_topic
from mash.adapters.ruleset_registry import Registry
from mash.domain.ruleset import load_ruleset
from mash.worker.faust_app import create_app


async def test_changelog_topics_are_the_ones_faust_uses_for_the_workers_tables() -> None:
    settings = bench_settings("127.0.0.1:1", "unitbench", store="memory://")
    registry = Registry(settings)
    registry.add(load_ruleset())
    app = create_app(settings, load_ruleset(), registry)
    children = app.tables[f"{settings.topic_prefix}-children"]
    identities = app.tables[f"{settings.topic_prefix}-identities"]
    assert changelog_topic(settings) == children.changelog_topic.get_topic_name()
    assert changelog_topic(settings, IDENTITIES_TABLE) == identities.changelog_topic.get_topic_name()
    assert settings.secret() == BENCH_SECRET.encode()
