"""`python -m benchmarks --json`: every figure by its key, the required keys always there."""

from __future__ import annotations

import orjson
import pytest

from benchmarks.results import REQUIRED_KEYS, Results, to_json
from benchmarks.targets import TARGETS
from tests.unit.benchmarks.examples import console_result, full_results, replay_result


def test_json_has_every_required_key_even_when_nothing_ran() -> None:
    document = orjson.loads(to_json(Results(command="python -m benchmarks --only rules", contacts=0)))
    for key in REQUIRED_KEYS:
        assert key in document
        assert document[key] is None


def test_json_carries_every_figure_of_a_full_run() -> None:
    document = orjson.loads(to_json(full_results()))
    assert {key: document[key] for key in REQUIRED_KEYS} == {
        "pipeline_contacts_per_s": 10_000.0,
        "bare_aiokafka_per_s": 40_000.0,
        "pipeline_ratio": 0.25,
        "two_workers_contacts_per_s": pytest.approx(16_666.7),
        "e2e_p50_ms": 40.0,
        "e2e_p99_ms": 180.0,
        "burst_1000_s": 3.2,
        "intake_rps": 1600.0,
        "intake_p99_ms": 60.0,
        "rules_contacts_per_s": 60_000.0,
        "worker_rss_mib_1m_children": 720.0,
    }
    assert document["two_workers_scaling"] == pytest.approx(1.667)
    assert document["recorded_step_per_s"] == 12_500.0
    # 9 s of worker CPU over 100,000 contacts, 6 s with the step recorded: 0.03 ms per contact.
    assert document["domain_step_worker_cpu_ms"] == pytest.approx(0.03)
    assert document["faust_floor_per_s"] == 20_000.0
    assert document["faust_agent_no_table_per_s"] == 25_000.0
    assert document["batch_loop_domain_step_per_s"] == 50_000.0
    assert document["pipeline_profile"].endswith("(MASH_EMBEDDED_BROKER=false)")
    assert document["command"] == "python -m benchmarks --json bench.json"
    assert document["machine"]["cpus"] == 2
    assert set(document["targets"]) == set(TARGETS)


def test_replay_and_console_figures_are_optional_json_keys() -> None:
    document = orjson.loads(
        to_json(
            Results(
                command="python -m benchmarks --only replay,console",
                contacts=0,
                replay=replay_result(),
                console=console_result(),
            )
        )
    )
    assert all(document[key] is None for key in REQUIRED_KEYS)
    assert document["replay_contacts_per_s"] == 500.0
    assert document["replay_write_only_contacts_per_s"] == 7_500.0
    assert (document["replay_contacts"], document["replay_outcomes"]) == (30_000, 6_000)
    assert document["replay_last_case_s"] == 59.8
    assert (document["console_sse_p50_ms"], document["console_sse_p99_ms"]) == (140.0, 280.0)
    assert document["console_cases_topic_p99_ms"] == 20.0
    assert document["console_queue_page_p99_ms"] == 5.0
    assert document["console_queue_page_p99_ms_10k"] == 180.0
    assert document["console_case_page_p99_ms_10k"] == 17.0
    assert document["console_sse_p99_ms_10k"] == 1_200.0
    assert (document["console_open_cases"], document["console_contacts"]) == (10_540, 500)
    assert "replay_contacts_per_s" not in orjson.loads(to_json(Results(command="x", contacts=0)))
