"""The two checks of the figures (issue #3, "How it will be checked"), through the real pipeline:

- replaying the same `mash simulate` file (contacts, people's decisions and the case system's
  outcomes) into two fresh services gives identical reports, and replaying it again changes
  nothing;
- on a large synthetic history (thousands of children over two years) `mash report` agrees
  exactly with an independent count from the file (tests/support/independent_figures.py).
  tests/unit/support/test_independent_figures.py checks the same property without Kafka.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from mash.cli.embedded import EmbeddedBroker
from tests.integration.conftest import Service, make_service
from tests.support.independent_figures import COUNTED, history_from_lines, report_figures
from tests.support.reliability_figures import record_figures

SEED = 20_260_303
# `mash simulate` starts on 1 April 2024 with --out: two whole statutory years.
TWO_YEARS = ("2024-04-01", "2026-03-31")


def run_mash(service: Service, *args: str, timeout: float = 240) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mash", *args],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"mash {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done.stdout


def simulate(service: Service, path: Path, children: int, seed: int) -> list[dict[str, Any]]:
    out = run_mash(
        service,
        "simulate",
        "--seed",
        str(seed),
        "--children",
        str(children),
        "--days",
        "730",
        "--out",
        str(path),
    )
    assert out.startswith("wrote "), out
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def replay(service: Service, path: Path, counts: tuple[int, int, int]) -> float:
    """Replays `path` into the service; returns the seconds it took (writing and processing)."""
    started = time.monotonic()
    out = run_mash(service, "replay", str(path), "--quiet", timeout=280)
    seconds = time.monotonic() - started
    found = re.search(
        r"replayed (\d+) contacts and (\d+) outcomes .*, with (\d+) decisions; (\d+) bad lines skipped", out
    )
    assert found, out
    assert tuple(map(int, found.groups())) == (*counts, 0), out
    return seconds


def report(service: Service, start: str, end: str, fmt: str = "json") -> str:
    return run_mash(service, "report", "--from", start, "--to", end, "--format", fmt, timeout=120)


def counts_of(lines: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Contacts (one per child named), outcomes and decisions in a file."""
    contacts = sum(len(line["submission"]["children"]) for line in lines if line["kind"] == "contact")
    kinds = Counter(line["kind"] for line in lines)
    return contacts, kinds["outcome"], kinds["decision"]


@contextmanager
def workers(broker: EmbeddedBroker, tmp: Path, names: list[str]) -> Iterator[list[Service]]:
    """Fresh services (their own topics, consumer group and table), each with a running worker.

    `mash replay` writes straight to the input topics, so no intake is needed.
    """
    services = []
    for name in names:
        (tmp / name).mkdir()
        services.append(make_service(broker.bootstrap, tmp / name))
    try:
        for service in services:
            service.worker.start()
        for service in services:
            service.worker.wait_ready(90)
        yield services
    finally:
        for service in services:
            service.worker.stop()
            shutil.rmtree(service.tmp / "worker-state", ignore_errors=True)


def test_replaying_the_same_file_into_two_fresh_services_gives_identical_reports(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    periods = [TWO_YEARS, ("2025-06-15", "2026-01-14")]  # and one that cuts through the second year
    with workers(broker, tmp_path, ["first", "second"]) as (first, second):
        history = tmp_path / "history.jsonl"
        lines = simulate(first, history, children=300, seed=SEED)
        counts = counts_of(lines)
        contacts, outcomes, decisions = counts
        seconds = [replay(service, history, counts) for service in (first, second)]

        assert first.topic("cases") != second.topic("cases"), "two services, two sets of topics"
        keys = [(start, end, fmt) for start, end in periods for fmt in ("json", "csv")]
        ours = {key: report(first, *key) for key in keys}
        theirs = {key: report(second, *key) for key in keys}
        for key, text in ours.items():
            assert text == theirs[key], f"the reports for {key} differ between the two services"

        whole = json.loads(ours[(*TWO_YEARS, "json")])
        assert whole["contacts"] == contacts, "every contact in the file is in the two years"
        assert whole["referrals"] > 0
        assert whole["re_referrals"] > 0
        assert whole["linked_to_open_case"] > 0
        assert whole["awaiting_decision"] < whole["contacts"] - whole["decided_by_service"]
        csv_rows = ours[(*TWO_YEARS, "csv")].splitlines()
        assert csv_rows[1].startswith(f"{TWO_YEARS[0]}..{TWO_YEARS[1]},{contacts},{whole['referrals']},")
        assert len(csv_rows) == 1 + 1 + 24, "a header, the whole period, then one row a month"

        # The same file again into the first: every event is already there, so nothing changes.
        seconds.append(replay(first, history, counts))
        for (start, end, fmt), text in ours.items():
            assert report(first, start, end, fmt) == text, f"replaying again changed the {fmt} report"

    record_figures(
        "replay one file into two fresh services",
        children=300,
        contacts=contacts,
        outcomes=outcomes,
        decisions=decisions,
        referrals=whole["referrals"],
        re_referrals=whole["re_referrals"],
        reports_compared=len(ours),
        replay_seconds=[round(s, 1) for s in seconds],
    )


LARGE_CHILDREN = 5000  # docs/figures.md: about 10,000 contacts about 4,000 children


def test_report_agrees_exactly_with_an_independent_count_over_two_years_of_thousands_of_children(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    periods = [
        TWO_YEARS,
        ("2024-04-01", "2025-03-31"),  # the first statutory year: no earlier year to re-refer from
        ("2025-06-15", "2026-01-14"),  # cuts through the second year, mid-month to mid-month
        ("2025-11-01", "2025-11-30"),  # a single month
        ("2024-02-29", "2024-04-01"),  # starts before the history: one day of it
    ]
    with workers(broker, tmp_path, ["large"]) as (service,):
        history = tmp_path / "history.jsonl"
        lines = simulate(service, history, children=LARGE_CHILDREN, seed=SEED + 1)
        counts = counts_of(lines)
        contacts, outcomes, decisions = counts
        by_hand = history_from_lines(lines)
        assert len(by_hand.contacts) == contacts
        assert by_hand.decisions == decisions
        assert by_hand.children >= 2000, "thousands of children"
        # Two events of one kind about one child at one instant would make their order, so the
        # figures, arbitrary.
        assert by_hand.same_instant == 0
        seconds = replay(service, history, counts)
        reports = {period: json.loads(report(service, *period)) for period in periods}
        now = datetime.now(UTC)  # every due time in the file is long past: the same for both

    meetings = Counter(
        line["decision"]["meeting_id"][4:]
        for line in lines
        if line["kind"] == "decision" and "meeting_id" in line["decision"]
    )
    for (start, end), reported in reports.items():
        expected = report_figures(
            by_hand.contacts, by_hand.plans, date.fromisoformat(start), date.fromisoformat(end), now
        )
        imm = reported.pop("imm")
        wrong = {k for k in reported.keys() | expected.keys() if reported.get(k) != expected.get(k)}
        assert not wrong, f"{start}..{end}: `mash report` and the independent count differ on {sorted(wrong)}"
        assert reported == expected
        # A replay has no agendas or meeting records (those are the console's), but the meetings'
        # outcomes are decisions in the file: counted by meeting date.
        assert imm["meetings"] == imm["meetings_recorded"] == imm["cases_discussed"] == 0
        assert imm["contact_to_decision_hours"]["count"] == sum(
            n for day, n in meetings.items() if start <= day <= end
        )

    whole = reports[TWO_YEARS]
    # Non-trivial: every figure has something to agree on.
    assert whole["contacts"] == contacts
    for key in COUNTED:
        assert whole[key] > 0, key
    assert reports[("2024-04-01", "2025-03-31")]["re_referrals"] < whole["re_referrals"]
    assert reports[("2024-02-29", "2024-04-01")]["contacts"] == sum(
        c.day.isoformat() == "2024-04-01" for c in by_hand.contacts
    )
    record_figures(
        "mash report against an independent count",
        children=by_hand.children,
        simulated_children=LARGE_CHILDREN,
        contacts=contacts,
        outcomes=outcomes,
        decisions=decisions,
        referrals=whole["referrals"],
        conversion_rate=whole["conversion_rate"],
        re_referrals=whole["re_referrals"],
        awaiting_decision=whole["awaiting_decision"],
        decided_within_target_rate=whole["decided_within_target_rate"],
        plans=whole["cp_plans_started"],
        second_plan_children=whole["cp_plan_children_second_or_subsequent"],
        periods=len(periods),
        replay_seconds=round(seconds, 1),
        contacts_per_s=round(contacts / seconds),
    )
