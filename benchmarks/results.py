"""The bench's results and their figures by JSON key: what `python -m benchmarks --json` writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from benchmarks.console import ConsoleResult
from benchmarks.intake import IntakeResult
from benchmarks.latency import LatencyResult
from benchmarks.memory import MemoryResult
from benchmarks.pipeline import PipelineResult
from benchmarks.profiling import Hot
from benchmarks.replay import ReplayResult
from benchmarks.rules import RulesResult
from benchmarks.targets import TARGETS, Figures

# The keys `python -m benchmarks --json` always writes (null when that measurement did not run).
REQUIRED_KEYS = (
    "pipeline_contacts_per_s",
    "bare_aiokafka_per_s",
    "pipeline_ratio",
    "two_workers_contacts_per_s",
    "e2e_p50_ms",
    "e2e_p99_ms",
    "burst_1000_s",
    "intake_rps",
    "intake_p99_ms",
    "rules_contacts_per_s",
    "worker_rss_mib_1m_children",
)

PIPELINE_PROFILE = "producer batching as on real Kafka (MASH_EMBEDDED_BROKER=false)"
BATCH1_PROFILE = "embedded profile: one record per producer batch (MASH_EMBEDDED_BROKER=true)"


@dataclass
class Results:
    command: str
    contacts: int
    pipeline: PipelineResult | None = None
    latency: LatencyResult | None = None
    intake: IntakeResult | None = None
    rules: RulesResult | None = None
    memory: MemoryResult | None = None
    replay: ReplayResult | None = None
    console: ConsoleResult | None = None
    seconds: float = 0.0
    machine: dict[str, Any] = field(default_factory=dict)


def figures(results: Results) -> Figures:
    """Every figure by its JSON key; None for a measurement that did not run."""
    f: Figures = dict.fromkeys(REQUIRED_KEYS)
    if results.pipeline is not None:
        f.update(_pipeline_figures(results.pipeline))
    if results.latency is not None:
        f.update(_latency_figures(results.latency))
    if results.intake is not None:
        f.update(_intake_figures(results.intake))
    if results.rules is not None:
        f.update(_rules_figures(results.rules))
    if results.memory is not None:
        f.update(_memory_figures(results.memory))
    if results.replay is not None:
        f.update(_replay_figures(results.replay))
    if results.console is not None:
        f.update(_console_figures(results.console))
    return f


def _pipeline_figures(p: PipelineResult) -> Figures:
    f: Figures = {}
    f["pipeline_contacts_per_s"] = round(p.one.per_s, 1)
    f["bare_aiokafka_per_s"] = round(p.bare_per_s, 1)
    f["bare_before_per_s"] = round(p.bare.per_s, 1)
    if p.bare_after is not None:
        f["bare_after_per_s"] = round(p.bare_after.per_s, 1)
    f["pipeline_ratio"] = round(p.ratio, 4)
    f["pipeline_contacts"] = p.one.contacts
    if p.recorded is not None:
        f["recorded_step_per_s"] = round(p.recorded.per_s, 1)
        if (step_ms := p.step_cpu_ms) is not None:
            f["domain_step_worker_cpu_ms"] = round(step_ms, 4)
    if p.floor is not None:
        f["faust_floor_per_s"] = round(p.floor.per_s, 1)
    if p.agent is not None:
        f["faust_agent_no_table_per_s"] = round(p.agent.per_s, 1)
    if p.batch_loop is not None:
        f["batch_loop_domain_step_per_s"] = round(p.batch_loop.per_s, 1)
    if p.two is not None:
        f["two_workers_contacts_per_s"] = round(p.two.per_s, 1)
        f["two_workers_scaling"] = round(p.scaling or 0.0, 3)
    if p.batch1 is not None:
        f["pipeline_batch1_contacts_per_s"] = round(p.batch1.per_s, 1)
        f["pipeline_batch1_contacts"] = p.batch1.contacts
    return f


def _latency_figures(lat: LatencyResult) -> Figures:
    f: Figures = {}
    f["e2e_p50_ms"] = round(lat.steady.p50_ms, 1)
    f["e2e_p99_ms"] = round(lat.steady.p99_ms, 1)
    f["e2e_max_ms"] = round(lat.steady.max_ms, 1)
    f["e2e_rate_per_s"] = lat.rate_per_s
    f["e2e_contacts"] = lat.steady.count
    f["kafka_hop_p50_ms"] = round(lat.kafka_hop.p50_ms, 2)
    f["kafka_hop_p99_ms"] = round(lat.kafka_hop.p99_ms, 2)
    f["burst_1000_s"] = round(lat.burst_s, 3)
    f["burst_accepted_s"] = round(lat.burst_accepted_s, 3)
    return f


def _intake_figures(i: IntakeResult) -> Figures:
    f: Figures = {}
    f["intake_rps"] = round(i.post.rps, 1)
    f["intake_p50_ms"] = round(i.post.p50_ms, 2)
    f["intake_p99_ms"] = round(i.post.p99_ms, 2)
    f["intake_connections"] = i.post.connections
    f["intake_errors"] = i.post.errors + sum(n for s, n in i.post.statuses.items() if s >= 300)
    f["intake_health_rps"] = round(i.live.rps, 1)
    return f


def _rules_figures(r: RulesResult) -> Figures:
    f: Figures = {}
    f["rules_contacts_per_s"] = round(r.screen_per_s, 1)
    f["apply_contacts_per_s"] = round(r.apply_per_s, 1)
    f["json_parse_per_s"] = round(r.json_per_s, 1)
    f["contact_write_plain_per_s"] = round(r.write_plain_per_s, 1)
    f["contact_write_sealed_per_s"] = round(r.write_sealed_per_s, 1)
    f["sealing_us_per_contact"] = round(r.sealing_us, 1)
    return f


def _memory_figures(m: MemoryResult) -> Figures:
    f: Figures = {}
    f["worker_rss_mib_1m_children"] = round(m.rss_mib, 1)
    f["worker_rss_mib_empty"] = round(m.empty_rss_mib, 1)
    f["worker_peak_rss_mib"] = round(m.peak_mib, 1)
    f["memory_children"] = m.children
    f["children_in_rocksdb"] = m.children_in_rocksdb
    f["memory_identity_rows"] = m.identity_rows
    f["table_recovery_s"] = round(m.recovery_s, 1)
    return f


def _replay_figures(rp: ReplayResult) -> Figures:
    f: Figures = {}
    f["replay_contacts_per_s"] = round(rp.per_s, 1)
    f["replay_contacts"] = rp.contacts
    f["replay_outcomes"] = rp.outcomes
    f["replay_seconds"] = round(rp.seconds, 1)
    f["replay_command_seconds"] = round(rp.command_seconds, 1)
    f["replay_last_case_s"] = round(rp.last_case_s, 1)
    f["replay_write_only_contacts_per_s"] = round(rp.write_only_per_s, 1)
    return f


def _console_figures(c: ConsoleResult) -> Figures:
    f: Figures = {}
    names = ("console_sse", "console_cases_topic", "console_queue_page", "console_case_page")
    runs = (
        ("", (c.sse, c.cases_topic, c.queue_page, c.case_page)),
        ("_10k", (c.sse_10k, c.cases_topic_10k, c.queue_page_10k, c.case_page_10k)),
    )
    for suffix, spreads in runs:
        for name, spread in zip(names, spreads, strict=True):
            f[f"{name}_p50_ms{suffix}"] = round(spread.p50_ms, 1)
            f[f"{name}_p99_ms{suffix}"] = round(spread.p99_ms, 1)
            f[f"{name}_max_ms{suffix}"] = round(spread.max_ms, 1)
    f["console_contacts"] = c.sse.count
    f["console_rate_per_s"] = c.rate_per_s
    f["console_cases_before"] = c.cases_before
    f["console_open_cases"] = c.open_cases
    f["console_load_s"] = round(c.load_s, 1)
    f["console_further_contacts"] = c.sse_10k.count
    f["console_stream_reconnects"] = c.reconnects
    return f


def to_json(results: Results, hot: list[Hot] | None = None) -> bytes:
    document: dict[str, Any] = {
        **figures(results),
        "contacts": results.contacts,
        "pipeline_profile": PIPELINE_PROFILE,
        "batch1_profile": BATCH1_PROFILE,
        "targets": {name: t.text for name, t in TARGETS.items()},
        "command": results.command,
        "machine": results.machine,
        "seconds": round(results.seconds, 1),
    }
    if hot:
        document["worker_profile_top_own"] = [
            {
                "function": h.function,
                "own_share": round(h.own_share, 4),
                "total_share": round(h.total_share, 4),
            }
            for h in hot
        ]
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)
