"""The table `python -m benchmarks` prints, each figure beside its comparison and target, and the
notes that say how each was measured."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.console import ConsoleResult
from benchmarks.intake import IntakeResult
from benchmarks.latency import LatencyResult, Spread
from benchmarks.machine import describe_machine
from benchmarks.memory import MemoryResult
from benchmarks.pipeline import PipelineResult, Throughput
from benchmarks.replay import SIMULATED_DAYS, ReplayResult
from benchmarks.results import BATCH1_PROFILE, PIPELINE_PROFILE, Results, figures
from benchmarks.rules import RulesResult
from benchmarks.targets import TARGETS

# Each target's text, and whether this run met it (None: not measured).
Judged = dict[str, tuple[str, bool | None]]


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
    judged = {name: (t.text, t.met(f)) for name, t in TARGETS.items()}
    out: list[Row] = []
    if results.pipeline is not None:
        out += _pipeline_rows(results.pipeline, judged)
    if results.latency is not None:
        out += _latency_rows(results.latency, judged)
    if results.intake is not None:
        out += _intake_rows(results.intake, judged)
    if results.rules is not None:
        out += _rules_rows(results.rules, judged)
    if results.memory is not None:
        out += _memory_rows(results.memory, judged)
    if results.replay is not None:
        out += _replay_rows(results.replay, results.pipeline)
    if results.console is not None:
        out += _console_rows(results.console, judged)
    return out


def _pipeline_rows(p: PipelineResult, judged: Judged) -> list[Row]:
    out: list[Row] = []
    out.append(
        Row(
            f"pipeline, 1 worker ({_n(p.one.contacts)} contacts; producer batching)",
            f"{_n(p.one.per_s)} contacts/s",
            f"bare aiokafka loop {_n(p.bare_per_s)}/s; ratio {p.ratio:.1%}",
            *judged["pipeline"],
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
                f"faust agent, no table: 2 agents, each a parse, 1 send per contact ({_n(p.agent.contacts)})",
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
    return out


def _latency_rows(lat: LatencyResult, judged: Judged) -> list[Row]:
    out: list[Row] = []
    s, hop = lat.steady, lat.kafka_hop
    out.append(
        Row(
            f"end-to-end, 202 to case, steady {lat.rate_per_s:.0f}/s ({_n(s.count)} contacts)",
            f"p50 {_ms(s.p50_ms)}, p99 {_ms(s.p99_ms)}, max {_ms(s.max_ms)}",
            f"one Kafka hop: p50 {_ms(hop.p50_ms)}, p99 {_ms(hop.p99_ms)}",
            *judged["e2e"],
        )
    )
    out.append(
        Row(
            f"burst: {_n(lat.burst_contacts)} posted at once ({lat.burst_connections} connections)",
            f"last routed after {lat.burst_s:.2f} s",
            f"all accepted (202) after {lat.burst_accepted_s:.2f} s",
            *judged["burst"],
        )
    )
    return out


def _intake_rows(i: IntakeResult, judged: Judged) -> list[Row]:
    out: list[Row] = []
    out.append(
        Row(
            f"intake POST /v1/contacts, 1 process ({i.post.connections} connections)",
            f"{_n(i.post.rps)} req/s, p50 {_ms(i.post.p50_ms)}, p99 {_ms(i.post.p99_ms)}",
            f"GET /health/live same process: {_n(i.live.rps)} req/s; ratio {i.ratio:.0%}",
            *judged["intake"],
        )
    )
    return out


def _rules_rows(r: RulesResult, judged: Judged) -> list[Row]:
    out: list[Row] = []
    out.append(
        Row(
            "ruleset core: screen(), in-process, 1 core",
            f"{_n(r.screen_per_s)} contacts/s",
            f"apply() (whole step): {_n(r.apply_per_s)}/s; orjson parse: {_n(r.json_per_s)}/s",
            *judged["rules"],
        )
    )
    out.append(
        Row(
            "a contact written, sealed vs in clear, 1 core",
            f"{_n(r.write_sealed_per_s)} contacts/s sealed",
            f"in clear {_n(r.write_plain_per_s)}/s: sealing adds {r.sealing_us:.1f} µs a contact",
            *judged["sealing"],
        )
    )
    return out


def _memory_rows(m: MemoryResult, judged: Judged) -> list[Row]:
    out: list[Row] = []
    out.append(
        Row(
            f"worker RSS, {_n(m.children)} children in table",
            f"{_n(m.rss_mib)} MiB (peak {_n(m.peak_mib)} MiB)",
            f"empty table: {_n(m.empty_rss_mib)} MiB",
            *judged["memory"],
        )
    )
    return out


def _replay_rows(rp: ReplayResult, pipeline: PipelineResult | None) -> list[Row]:
    out: list[Row] = []
    compared = f"write-only, same records: {_n(rp.write_only_per_s)}/s"
    if p := pipeline:
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
    return out


def _console_rows(c: ConsoleResult, judged: Judged) -> list[Row]:
    out: list[Row] = []
    out.append(
        Row(
            f"console: 202 to case in open live stream, steady {c.rate_per_s:.0f}/s ({_n(c.sse.count)})",
            _spread(c.sse),
            f"202 to case record on the topic: {_spread(c.cases_topic)}",
            *judged["console"],
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


def _pipeline_notes(p: PipelineResult) -> list[str]:
    out = [f"pipeline runs: {PIPELINE_PROFILE}; bench producer batched alike"]
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
    return out


def _replay_note(rp: ReplayResult) -> str:
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(rp.cpu_seconds.items()))
    return (
        f"replay: `mash replay --quiet FILE` on `mash simulate --seed 1 --children {rp.children} "
        f"--days {SIMULATED_DAYS}` ({_n(rp.lines)} lines); the command with MASH_EMBEDDED_BROKER=true "
        "(one record per batch, so the end offsets it waits for are exact), the worker with "
        f"{PIPELINE_PROFILE}; returned after {rp.seconds:.1f} s ({rp.command_seconds:.1f} s by its own "
        f"count), last case record {rp.last_case_s:.1f} s after its start; CPU s: {cpu}"
    )


def notes(results: Results) -> list[str]:
    """What the table needs said beside it: profiles, sizes, where the CPU went."""
    out = [f"command: {results.command}", f"machine: {describe_machine(results.machine)}"]
    if results.pipeline is not None:
        out += _pipeline_notes(results.pipeline)
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
    if results.replay is not None:
        out.append(_replay_note(results.replay))
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
