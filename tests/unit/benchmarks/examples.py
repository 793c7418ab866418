"""Results of a made-up run, as the figures, table and notes tests read them."""

from __future__ import annotations

from collections import Counter

from benchmarks.console import ConsoleResult
from benchmarks.intake import IntakeResult, Load
from benchmarks.latency import LatencyResult, Spread
from benchmarks.memory import MemoryResult
from benchmarks.pipeline import PipelineResult, Throughput
from benchmarks.replay import ReplayResult
from benchmarks.results import Results
from benchmarks.rules import RulesResult


def full_results() -> Results:
    pipeline = PipelineResult(
        bare=Throughput("bare aiokafka loop", 100_000, 2.5, 1.0, [40.0], {"bare": 2.0}),
        one=Throughput("1 worker", 100_000, 10.0, 1.0, [120.0], {"worker-0": 9.0, "broker": 3.0}),
        two=Throughput("2 workers", 100_000, 6.0, 1.0, [110.0, 110.0]),
        batch1=Throughput("1 worker, batch size 1", 10_000, 2.0, 1.0),
        recorded=Throughput("1 worker, domain step recorded", 100_000, 8.0, 1.0, [], {"worker-0": 6.0}),
        floor=Throughput("faust floor", 100_000, 5.0, 1.0),
        agent=Throughput("faust agent, no table", 100_000, 4.0, 1.0),
        batch_loop=Throughput("batch loop, domain step", 100_000, 2.0, 1.0),
    )
    latency = LatencyResult(
        rate_per_s=50.0,
        steady=Spread(1000, 40.0, 180.0, 220.0),
        kafka_hop=Spread(1000, 1.5, 4.0, 6.0),
        burst_contacts=1000,
        burst_connections=100,
        burst_s=3.2,
        burst_accepted_s=1.1,
    )
    intake = IntakeResult(
        post=Load("POST /v1/contacts", 32, 10.0, [10.0] * 98 + [60.0, 60.0], Counter({202: 16_000})),
        live=Load("GET /health/live", 32, 5.0, [2.0], Counter({200: 20_000})),
    )
    rules = RulesResult(
        screen_per_s=60_000.0,
        screened=180_000,
        apply_per_s=6_000.0,
        applied=20_000,
        json_per_s=5e5,
        write_plain_per_s=50_000.0,
        write_sealed_per_s=10_000.0,
    )
    memory = MemoryResult(
        children=1_000_000,
        changelog_mib=480.0,
        recovery_s=200.0,
        recovery_cpu_s=150.0,
        rss_ready_mib=700.0,
        rss_after_live_mib=720.0,
        peak_mib=730.0,
        live_contacts=2000,
        empty_rss_mib=90.0,
        children_in_rocksdb=1_001_500,
    )
    return Results(
        command="python -m benchmarks --json bench.json",
        contacts=100_000,
        pipeline=pipeline,
        latency=latency,
        intake=intake,
        rules=rules,
        memory=memory,
        seconds=600.0,
        machine={"cpus": 2, "cpu_model": "Test CPU", "memory_gib": 24, "python": "3.11", "kernel": "6"},
    )


def replay_result() -> ReplayResult:
    return ReplayResult(
        children=15_000,
        lines=33_000,
        contacts=30_000,
        outcomes=6_000,
        seconds=60.0,
        command_seconds=58.5,
        last_case_s=59.8,
        write_only_seconds=4.0,
        cpu_seconds={"worker": 50.0, "broker": 30.0, "mash replay": 9.0},
    )


def console_result() -> ConsoleResult:
    return ConsoleResult(
        rate_per_s=20.0,
        sse=Spread(500, 140.0, 280.0, 300.0),
        cases_topic=Spread(500, 12.0, 20.0, 25.0),
        cases_before=40,
        queue_page=Spread(40, 3.0, 5.0, 6.0),
        case_page=Spread(40, 1.0, 2.0, 3.0),
        open_cases=10_540,
        load_s=30.0,
        queue_page_10k=Spread(40, 30.0, 180.0, 250.0),
        case_page_10k=Spread(40, 5.0, 17.0, 20.0),
        sse_10k=Spread(100, 150.0, 1_200.0, 1_300.0),
        cases_topic_10k=Spread(100, 14.0, 28.0, 29.0),
        reconnects=0,
    )
