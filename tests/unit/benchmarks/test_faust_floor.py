"""The faust floor: a faust worker that does only what every contact must cost."""

from __future__ import annotations

from benchmarks.faust_floor import create_floor_app
from benchmarks.settings import bench_settings


def test_the_faust_floor_has_the_workers_two_hops_and_table_partitions() -> None:
    settings = bench_settings("127.0.0.1:1", "unitbench", store="memory://", topic_partitions=4)
    app = create_floor_app(settings, with_table=True)
    sources = {name: agent.channel.get_topic_name() for name, agent in app.agents.items()}
    assert sorted(sources.values()) == sorted([settings.topic("contacts"), settings.topic("resolved")])
    partitions = sorted(table.partitions for table in app.tables.values())
    assert partitions == [1, 4]
