"""Metrics, alerts and health endpoints against the real thing.

The real Prometheus (Debian's `prometheus` package) scrapes a real worker, intake adapter and
console on the embedded broker, with the real alert rules: every target is up, every metric
the dashboards and alert rules name is in what it scraped, every metric it scraped is in the
metrics catalogue (docs/operations/metrics.md), the rules evaluate without errors, and a dead
letter written while it watches fires MashDeadLettersArriving. Readiness is checked from a
process's first answer.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mash.adapters.topics import partitions
from mash.cli.embedded import EmbeddedBroker, free_port
from tests.integration.conftest import ConsoleProc, Service, make_service, running_console
from tests.support.builders import submission
from tests.support.kafka_topics import write_topic
from tests.support.people import case_record, decide

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
CATALOGUE_FILES = (ROOT / "docs" / "operations" / "metrics.md",)
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
METRIC_NAME = re.compile(r"\bmash_[a-z0-9_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum", "_created")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None, reason="needs Debian's prometheus package: make system-deps"
)


# ---------------------------------------------------------------- helpers


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what} not within {timeout} s (last: {last!r})")


def base_name(name: str) -> str:
    """A scraped series name as the catalogue names it: histograms and counters by their family."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def family_names(names: set[str]) -> set[str]:
    """Every name a series could have been listed under: mash_x_total's family is mash_x."""
    out = set()
    for name in names:
        out.add(name)
        out.add(base_name(name))
        if name.endswith("_total"):
            out.add(name[: -len("_total")])
    return out


def dashboard_exprs() -> list[str]:
    exprs = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
            exprs.extend(target["expr"] for target in panel.get("targets", []))
    return exprs


def alert_exprs() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def named_metrics(exprs: list[str]) -> set[str]:
    """The metric names PromQL expressions use (a crude scan: mash_ names, histogram parts folded)."""
    names = set()
    for expr in exprs:
        for name in METRIC_NAME.findall(expr):
            names.add(name[: -len("_bucket")] if name.endswith("_bucket") else name)
    return names


def catalogue_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in CATALOGUE_FILES if p.exists())


def catalogued_metrics() -> set[str]:
    """Metric names in the catalogue table: the first cell of each row, in backticks."""
    return set(re.findall(r"^\|\s*`(mash_[a-z0-9_]+)`", catalogue_text(), flags=re.MULTILINE))


def scraped_names(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("mash_")}


@pytest.fixture
def console(service: Service) -> Iterator[ConsoleProc]:
    with running_console(service) as running:
        yield running


class Prometheus:
    def __init__(self, tmp: Path, targets: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "prometheus.yml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(ALERTS)],
                    "scrape_configs": [
                        {
                            "job_name": job,
                            "metrics_path": "/metrics",
                            "static_configs": [{"targets": [target]}],
                        }
                        for job, target in targets.items()
                    ],
                }
            ),
            encoding="utf-8",
        )
        self.log_path = tmp / "prometheus.log"
        self.storage = tmp / "prometheus-data"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert PROMETHEUS is not None
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=log,
            )
        wait_for(
            "prometheus ready", lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200, 20
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def api(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5).json()
        assert answer["status"] == "success", answer
        return answer["data"]

    def names(self) -> set[str]:
        return set(self.api("label/__name__/values"))


# ---------------------------------------------------------------- health endpoints


def test_worker_is_ready_only_once_it_has_joined_its_group_and_recovered_its_tables(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    service = make_service(broker.bootstrap, tmp_path)
    worker = service.worker
    worker.start()
    answers: list[int] = []
    not_ready_metrics = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert worker.process is not None
            assert worker.process.poll() is None, worker.log_text()[-3000:]
            try:
                status = httpx.get(f"{worker.url}/health/ready", timeout=1).status_code
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            answers.append(status)
            if status == 503 and not not_ready_metrics:
                assert httpx.get(f"{worker.url}/health/live", timeout=1).status_code == 200
                not_ready_metrics = httpx.get(f"{worker.url}/metrics", timeout=2).text
            if status == 200:
                break
            time.sleep(0.05)
        ready_metrics = httpx.get(f"{worker.url}/metrics", timeout=2).text
    finally:
        worker.stop()
    assert answers[-1:] == [200], answers
    assert answers[0] == 503, "the worker answered ready before joining its group"
    assert set(answers[:-1]) == {503}, answers
    # Not ready: no rebalance has completed, so no partitions and no recovered tables.
    assert "mash_worker_ready 0.0" in not_ready_metrics
    # Ready: it has taken part in a rebalance (joined the group) and says so in its metrics too.
    assert "mash_worker_ready 1.0" in ready_metrics
    rebalances = re.search(r"^mash_worker_rebalances_total (\S+)$", ready_metrics, flags=re.MULTILINE)
    assert rebalances is not None
    assert float(rebalances.group(1)) >= 1


def test_intake_is_ready_only_once_kafka_answers_and_its_ledger_is_read(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # Against a port where no broker listens, the intake adapter never becomes ready.
    (tmp_path / "nowhere").mkdir()
    nowhere = make_service(
        broker.bootstrap, tmp_path / "nowhere", MASH_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}"
    )
    nowhere.intake.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert nowhere.intake.process is not None
            assert nowhere.intake.process.poll() is None
            # Connection refused means it is still waiting for Kafka before serving: not ready either.
            with contextlib.suppress(httpx.TransportError):
                assert httpx.get(f"{nowhere.intake.url}/health/ready", timeout=1).status_code == 503
            time.sleep(0.2)
    finally:
        # Still inside its start-up wait for Kafka, uvicorn does not act on SIGTERM yet: kill it.
        if nowhere.intake.process is not None:
            nowhere.intake.process.kill()
            nowhere.intake.process.wait()
    assert "intake_waiting_for_kafka" in nowhere.intake.log_text()

    # With the broker there, every answer before the first 200 is a 503, and after it the
    # adapter accepts contacts: it has read its ledger and its producer is connected.
    (tmp_path / "there").mkdir()
    service = make_service(broker.bootstrap, tmp_path / "there")
    service.intake.start()
    answers: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and answers[-1:] != [200]:
            try:
                answers.append(httpx.get(f"{service.intake.url}/health/ready", timeout=1).status_code)
            except httpx.TransportError:
                time.sleep(0.05)
        assert answers[-1:] == [200], answers
        assert set(answers[:-1]) <= {503}, answers
        with service.client() as client:
            accepted = client.post("/v1/contacts", json=submission("young_carer"), headers=service.auth())
        assert accepted.status_code == 202, accepted.text
    finally:
        service.intake.stop()


# ---------------------------------------------------------------- Prometheus


@needs_prometheus
def test_prometheus_scrapes_every_process_and_finds_every_metric_the_dashboards_and_alerts_use(
    service: Service, console: ConsoleProc, tmp_path: Path
) -> None:
    # Three contacts about the same (default) child: a coordinator decides the first a referral,
    # the next ones are linked to that open case, so every statutory-figures family has a series.
    # One refused.
    with service.client() as client:
        first = client.post("/v1/contacts", json=submission("disclosure_of_abuse"), headers=service.auth())
        assert first.status_code == 202, first.text
        decide(service, first.json()["contact_ids"][0])
        case_record(service, first.json()["contact_ids"][0], until=lambda r: r["referral"] == "referral")
        for code in ("young_carer", "no_unmet_needs"):
            answer = client.post("/v1/contacts", json=submission(code), headers=service.auth())
            assert answer.status_code == 202, answer.text
        assert (
            client.post("/v1/contacts", json=submission("not_a_code"), headers=service.auth()).status_code
            == 422
        )

    wait_for("three contacts screened", lambda: screened_total(service) >= 3, 20)

    targets = {
        "mash-worker": service.worker.url.removeprefix("http://"),
        "mash-intake": service.intake.url.removeprefix("http://"),
    }
    targets["mash-console"] = console.url.removeprefix("http://")
    prometheus = Prometheus(tmp_path, targets)
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(prometheus.config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    prometheus.start()
    try:

        def all_up() -> bool:
            active = prometheus.api("targets")["activeTargets"]
            return len(active) == len(targets) and all(t["health"] == "up" for t in active)

        wait_for("every target up", all_up, 15)
        active = {t["labels"]["job"]: t for t in prometheus.api("targets")["activeTargets"]}
        assert set(active) == set(targets)
        assert all(t["health"] == "up" and not t["lastError"] for t in active.values()), active

        # A dead letter written while Prometheus watches: the series was at zero before it.
        write_topic(service.bootstrap, service.topic("contacts"), [(b"ck-x", b"{not json")])

        def dead_letter_alert() -> list[dict[str, Any]]:
            alerts = prometheus.api("alerts")["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "MashDeadLettersArriving"]

        [alert] = wait_for("MashDeadLettersArriving firing", dead_letter_alert, 20)
        assert alert["state"] == "firing"
        assert alert["labels"]["reason"] == "malformed_json"
        assert alert["labels"]["topic"] == service.topic("contacts")

        wanted = named_metrics(dashboard_exprs() + alert_exprs())
        missing = wait_for(
            "every metric the dashboards and alerts use",
            lambda: not (wanted - family_names(prometheus.names())) or None,
            10,
        )
        assert missing is True
        names = {n for n in prometheus.names() if n.startswith("mash_")}

        # The rules evaluate on real data without errors.
        for group in prometheus.api("rules")["groups"]:
            for rule in group["rules"]:
                assert rule["health"] == "ok", rule
    finally:
        prometheus.stop()
    assert prometheus.process is not None
    assert prometheus.process.returncode is not None, "prometheus was stopped"

    # Every metric Prometheus scraped is in the catalogue, and the catalogue names no metric
    # that no process exports (a labelled counter shows in /metrics from its first event).
    catalogue = catalogued_metrics()
    assert catalogue, "no metrics catalogue in docs/operations/metrics.md"
    uncatalogued = {n for n in names if not family_names({n}) & family_names(catalogue)}
    assert not uncatalogued, f"scraped but not in the catalogue: {sorted(uncatalogued)}"
    exported = scraped_names(service.worker_metrics()) | scraped_names(
        httpx.get(f"{service.intake.url}/metrics").text
    )
    help_lines = (
        httpx.get(f"{service.worker.url}/metrics").text + httpx.get(f"{service.intake.url}/metrics").text
    )
    console_text = httpx.get(f"{console.url}/metrics").text
    exported |= scraped_names(console_text)
    help_lines += console_text
    declared = set(re.findall(r"^# TYPE (mash_[a-z0-9_]+) ", help_lines, flags=re.MULTILINE))
    unknown = {m for m in catalogue if not family_names({m}) & family_names(exported | declared)}
    assert not unknown, f"in the catalogue but exported by no process: {sorted(unknown)}"


def screened_total(service: Service) -> float:
    text = service.worker_metrics()
    found = re.findall(r"^mash_contacts_screened_total\{[^}]*\} (\S+)$", text, flags=re.MULTILINE)
    return sum(float(v) for v in found)


def test_no_metric_label_holds_an_id_a_key_or_anything_unbounded(service: Service) -> None:
    with service.client() as client:
        body = client.post("/v1/contacts", json=submission("young_carer"), headers=service.auth()).json()
    [contact_id] = body["contact_ids"]
    wait_for("the contact screened", lambda: screened_total(service) >= 1, 20)
    # every label a worker or intake metric may carry: each from a fixed list or the configuration
    bounded = {
        *("topic", "reason", "level", "route", "agent"),  # worker
        *("source", "type", "endpoint", "status", "agency"),  # intake (agency: an id from the agencies file)
        *("version", "outcome"),  # the ruleset in force, its reloads
        "le",  # histogram buckets
    }
    for text in (service.worker_metrics(), httpx.get(f"{service.intake.url}/metrics").text):
        assert contact_id not in text
        samples = "\n".join(line for line in text.splitlines() if line.startswith("mash_"))
        labels = set(re.findall(r'(\w+)="[^"]*"', samples))
        assert labels <= bounded, labels - bounded
        topics = set(re.findall(r'topic="([^"]*)"', samples))
        assert all(t.startswith(service.settings.topic_prefix) for t in topics), topics


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None if it isn't there."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        found_name, _, label_text = series.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if found_name == name and found == labels:
            return float(value)
    return None


def test_pipeline_metrics_count_what_really_flowed(service: Service) -> None:
    contacts, cases, dlq = (service.topic(name) for name in ("contacts", "cases", "dlq"))
    with service.client() as client:
        for code in ("disclosure_of_abuse", "young_carer", "no_unmet_needs"):
            assert (
                client.post("/v1/contacts", json=submission(code), headers=service.auth()).status_code == 202
            )
    write_topic(service.bootstrap, contacts, [(b"ck-x", b"[1, 2, 3]")])

    resolved = service.topic("resolved")
    expected: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
        # Four records in: the identities agent takes each, dead-letters the bad one and sends
        # the children agent an update for each of the three contacts.
        ("mash_worker_messages_consumed_total", (("topic", contacts),)): 4,
        ("mash_worker_event_processing_seconds_count", (("topic", contacts),)): 4,
        ("mash_events_processed_total", (("agent", "identities"),)): 4,
        ("mash_worker_messages_produced_total", (("topic", resolved),)): 3,
        ("mash_worker_messages_consumed_total", (("topic", resolved),)): 3,
        ("mash_worker_event_processing_seconds_count", (("topic", resolved),)): 3,
        ("mash_events_processed_total", (("agent", "children"),)): 3,
        ("mash_worker_messages_produced_total", (("topic", cases),)): 3,
        ("mash_worker_messages_produced_total", (("topic", dlq),)): 1,
        ("mash_dead_letters_total", (("reason", "not_an_object"), ("topic", contacts))): 1,
        ("mash_dead_letters_total", (("reason", "malformed_json"), ("topic", contacts))): 0,
        ("mash_worker_send_errors_total", (("topic", cases),)): 0,
        ("mash_worker_ready", ()): 1,
    }
    # One worker in the group holds every partition: the inputs have one each, the resolved topic
    # as many as the child table. The lag (computed every 5 s from the committed offsets) is 0
    # once the records are processed and committed.
    for name in ("contacts", "outcomes", "decisions", "identities", "resolved"):
        topic = service.topic(name)
        expected["mash_worker_assigned_partitions", (("topic", topic),)] = float(
            partitions(service.settings, name)
        )
        expected["mash_worker_consumer_lag_messages", (("topic", topic),)] = 0
    observed: dict[tuple[str, tuple[tuple[str, str], ...]], float | None] = {}

    def settled() -> str | None:
        text = service.worker_metrics()
        observed.update({key: sample(text, key[0], **dict(key[1])) for key in expected})
        return text if observed == expected else None

    try:
        text = wait_for("the worker's metrics to show what flowed", settled, 30)
    except AssertionError:
        assert observed == expected
        raise
    rebalances = sample(text, "mash_worker_rebalances_total")
    assert rebalances is not None
    assert rebalances >= 1
    # the worker serves only its own metrics: no intake or console series, and vice versa
    assert "mash_intake_requests_total{" not in text
    intake_text = httpx.get(f"{service.intake.url}/metrics").text
    assert "mash_worker_" not in intake_text
    assert "mash_dead_letters_total" not in intake_text


def test_lag_is_end_offset_minus_committed_offset_summed_by_topic() -> None:
    from mash.worker.pipeline_metrics import lag_by_topic

    class TP(tuple[str, int]):
        @property
        def topic(self) -> str:
            return self[0]

    a0, a1, b0 = TP(("a", 0)), TP(("a", 1)), TP(("b", 0))
    ends = {a0: 10, a1: 7, b0: 5}
    committed: dict[TP, int | None] = {a0: 4, a1: None, b0: 5}
    firsts: dict[TP, int | None] = {a1: 2}
    # a0: 10-4; a1 never committed: every record from its first offset (7-2); b0: caught up
    assert lag_by_topic([a0, a1, b0], ends, committed, firsts) == {"a": 11, "b": 0}
    # a partition whose end is unknown yet is left out rather than guessed
    assert lag_by_topic([a0, a1], {a0: 10}, committed, firsts) == {"a": 6}
