"""The printed table: each figure beside its comparison, and the notes on how it was measured."""

from __future__ import annotations

from benchmarks.results import Results
from benchmarks.table import Row, format_table, notes, rows
from tests.unit.benchmarks.examples import console_result, full_results, replay_result


def test_rows_name_each_measurement_with_its_comparison() -> None:
    table = rows(full_results())
    assert table[0].measurement.startswith("pipeline, 1 worker")
    assert table[0].comparison == "bare aiokafka loop 40,000/s; ratio 25.0%"
    assert "producer batching" in table[0].measurement
    assert any("batch size 1" in row.measurement for row in table)
    assert any(row.comparison.startswith("scaling x1.67") for row in table)
    assert any(row.comparison.startswith("one Kafka hop") for row in table)
    assert any(row.measurement.startswith("worker RSS, 1,000,000 children") for row in table)
    recorded = next(row for row in table if "domain step recorded" in row.measurement)
    assert recorded.comparison == "x1.25 of 1 worker; the step costs 0.03 ms of worker CPU per contact, 33%"
    floor = next(row for row in table if row.measurement.startswith("faust floor"))
    assert floor.comparison == "ratio 50.0% of bare; 1 worker is 50% of it"
    agent = next(row for row in table if row.measurement.startswith("faust agent, no table"))
    assert agent.comparison == "ratio 62.5% of bare"
    batch = next(row for row in table if row.measurement.startswith("aiokafka batch loop"))
    assert batch.comparison == "ratio 125.0% of bare; x5.00 of 1 worker"
    sealing = next(row for row in table if row.measurement.startswith("a contact written, sealed"))
    assert (sealing.result, sealing.comparison) == (
        "10,000 contacts/s sealed",
        "in clear 50,000/s: sealing adds 80.0 µs a contact",
    )
    assert len(table) == 13


def test_rows_leave_out_what_did_not_run() -> None:
    results = Results(command="python -m benchmarks --only rules", contacts=0, rules=full_results().rules)
    table = rows(results)
    assert [row.measurement for row in table] == [
        "ruleset core: screen(), in-process, 1 core",
        "a contact written, sealed vs in clear, 1 core",
    ]


def test_table_is_markdown_with_aligned_columns() -> None:
    table = format_table(
        [
            Row("pipeline", "10 contacts/s", "bare 40/s", ">= 10,000/s", False),
            Row("rules", "1/s", "x", "", None),
        ]
    )
    lines = table.splitlines()
    assert lines[0].startswith("| measurement")
    assert set(lines[1]) <= {"|", "-"}
    assert len({len(line) for line in lines}) == 1
    assert lines[2].rstrip().endswith("| no  |")
    assert lines[3].rstrip().endswith("|     |")


def test_notes_say_which_producer_profile_was_measured() -> None:
    text = "\n".join(notes(full_results()))
    assert "MASH_EMBEDDED_BROKER=false" in text
    assert "MASH_EMBEDDED_BROKER=true" in text
    assert "2 cores (Test CPU)" in text
    assert "command: python -m benchmarks --json bench.json" in text


def test_replay_row_compares_with_the_bare_loop_when_the_pipeline_ran() -> None:
    alone = rows(Results(command="x", contacts=0, replay=replay_result()))
    assert [row.measurement for row in alone] == [
        "mash replay FILE, 1 worker (30,000 contacts, 6,000 outcomes)"
    ]
    assert alone[0].result == "500 contacts/s"
    assert alone[0].comparison == "write-only, same records: 7,500/s"
    both = rows(Results(command="x", contacts=0, pipeline=full_results().pipeline, replay=replay_result()))
    assert both[-1].comparison == "bare aiokafka loop 40,000/s, ratio 1.2%; write-only, same records: 7,500/s"


def test_console_rows_put_each_figure_beside_its_comparison() -> None:
    table = rows(Results(command="x", contacts=0, console=console_result()))
    assert len(table) == 4
    sse, queue, case, sse_10k = table
    assert sse.result == "p50 140 ms, p99 280 ms, max 300 ms"
    assert sse.comparison.startswith("202 to case record on the topic: p50 12.0 ms")
    assert (sse.target, sse.met) == ("p99 < 1 s", True)
    assert queue.measurement == "console queue page (first 100), 10,540 open cases"
    assert queue.comparison == "40 cases: p50 3.0 ms, p99 5.0 ms, max 6.0 ms"
    assert case.result.startswith("p50 5.0 ms, p99 17.0 ms")
    assert "10,540 open cases" in sse_10k.measurement
    assert sse_10k.result == "p50 150 ms, p99 1,200 ms, max 1,300 ms"


def test_notes_say_how_replay_and_console_were_measured() -> None:
    text = "\n".join(
        notes(Results(command="x", contacts=0, replay=replay_result(), console=console_result()))
    )
    assert "mash simulate --seed 1 --children 15000 --days 730" in text
    assert "MASH_EMBEDDED_BROKER=true" in text
    assert "last case record 59.8 s" in text
    assert "10,540 open cases" in text
    assert "stream reconnects: 0" in text
