"""Broker outage: unreachable for a while, or (the embedded one) restarted empty.

Contacts keep flowing from a client that retries, unchanged, whatever is not accepted. While
the broker is away the intake answers 503 with Retry-After and never 202; when it is back the
intake accepts again and the workers carry on by themselves; every contact accepted gets
exactly one decision; and no contact is ever reported as processed unless it was.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from mash.cli.embedded import EmbeddedBroker, free_port
from mash.config import Settings
from mash.worker.delivery import EXIT_RESTART
from tests.integration.conftest import Service, make_service
from tests.integration.test_observability import sample
from tests.support.builders import submission
from tests.support.chaos import (
    CHAOS_ENV,
    assert_exactly_once_effects,
    assert_referrals_consistent,
    children_of,
    wait_for_text,
)
from tests.support.kafka_topics import read_topic
from tests.support.reliability_figures import record_figures
from tests.support.traffic import (
    Poster,
    Producer,
    contacts_in,
    expected_from_inputs,
    read_published,
    simulated_lines,
    wait_published,
)

SEED = 20_260_712  # as in test_reliability: the figures in docs/reliability.md come from these
OUTAGE_S = 8.0  # longer than MASH_PRODUCE_TIMEOUT_S (3 s in the tests), so requests time out


def wait_progress(poster: Poster, share: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while poster.posted.done < poster.total * share:
        assert poster.is_alive() or poster.error is None, poster.error
        assert time.monotonic() < deadline, "the traffic did not get going"
        time.sleep(0.05)


def statuses(url: str, keys: dict[str, str], agency_of: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What the intake tells each contact's agency about it (404 as {"status": 404})."""
    found: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for contact_id, agency in agency_of.items():
            response = client.get(
                f"/v1/contacts/{contact_id}", headers={"Authorization": f"Bearer {keys[agency]}"}
            )
            assert response.status_code in (200, 404), response.text
            found[contact_id] = response.json() if response.status_code == 200 else {"status": 404}
    return found


def agencies_of(poster: Poster, lines: list[dict[str, Any]]) -> dict[str, str]:
    by_reference = {
        line["submission"]["agency_reference"]: line["agency"] for line in lines if line["kind"] == "contact"
    }
    return {cid: by_reference[ref] for ref, answers in poster.posted.ids.items() for cid in answers[0]}


def assert_screened_only_if_it_was(
    reported: dict[str, dict[str, Any]], bootstrap: str, settings: Settings
) -> int:
    """Every contact reported as screened has that decision on the case-state topic; returns how many."""
    records = {
        json.loads(r.value)["contact_id"]: json.loads(r.value)
        for r in read_topic(bootstrap, settings.topic("cases"))
    }
    screened = {cid: status for cid, status in reported.items() if status["status"] not in ("received", 404)}
    for contact_id, status in screened.items():
        assert contact_id in records, f"{contact_id} is reported screened but was never processed"
        record = records[contact_id]
        assert (status["status"], status["rag"], status.get("level"), status.get("route")) == (
            record["state"],
            record["rag"],
            record["level"] if record["decided_at"] else None,
            record["route"] if record["decided_at"] else None,
        )
    return len(screened)


def test_an_unreachable_broker_gives_503_then_everything_carries_on(tmp_path: Path) -> None:
    """Like a Kafka cluster unreachable for a while: the broker is paused (SIGSTOP), keeping its data."""
    with EmbeddedBroker() as own:  # this test pauses its broker, so it doesn't share one
        assert own.process is not None
        service = make_service(own.bootstrap, tmp_path, **CHAOS_ENV)
        lines = simulated_lines(SEED + 3, 450, with_outcomes=False)
        service.worker.start()
        service.intake.start()
        try:
            service.intake.wait_ready()
            service.worker.wait_ready()
            poster = Poster(service.intake.url, service.keys, lines, rate=40.0)
            poster.start()
            wait_progress(poster, 0.3)
            os.kill(own.process.pid, signal.SIGSTOP)
            paused_at = time.monotonic()
            try:
                with service.client() as client:
                    body = submission("young_carer")
                    asked = time.monotonic()
                    during = client.post("/v1/contacts", json=body, headers=service.auth())
                    answered_in = time.monotonic() - asked
                time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - paused_at)))
            finally:
                os.kill(own.process.pid, signal.SIGCONT)
            resumed_at = time.monotonic()
            assert during.status_code == 503, during.text
            assert int(during.headers["Retry-After"]) > 0
            assert "try again" in during.json()["detail"]
            assert answered_in < 10, "a client gets an answer, not a hung request"

            # Straight after the broker is back, before the worker has caught up: what is
            # reported screened must have been screened.
            reported = statuses(service.intake.url, service.keys, agencies_of(poster, lines))
            screened_early = assert_screened_only_if_it_was(reported, own.bootstrap, service.settings)

            posted = poster.result(timeout=180)
            with service.client() as client:
                retried = client.post("/v1/contacts", json=body, headers=service.auth())
            assert retried.status_code == 202, retried.text
            assert not posted.refused, posted.refused[:3]
            assert posted.statuses[503] > 0, "the outage was long enough for requests to time out"
            assert posted.without_retry_after == 0, "every 503 says when to retry"
            in_outage = [at for at in posted.accepted_at.values() if paused_at + 0.2 < at < resumed_at]
            assert not in_outage, f"{len(in_outage)} contacts were accepted while the broker was unreachable"

            accepted = posted.accepted_ids() | set(retried.json()["contact_ids"])
            assert len(accepted) == contacts_in(lines) + 1
            service.worker.wait_ready(90)
            published = wait_published(own.bootstrap, service.settings, accepted, timeout=120)
            lost, duplicated, _ = assert_exactly_once_effects(accepted, published)
            assert_referrals_consistent(published.latest())
            assert published.latest() == expected_from_inputs(own.bootstrap, service.settings).records
            reported = statuses(service.intake.url, service.keys, agencies_of(poster, lines))
            assert assert_screened_only_if_it_was(reported, own.bootstrap, service.settings) == len(reported)
        finally:
            service.intake.stop()
            service.worker.stop()
    record_figures(
        "broker unreachable for 8 s",
        contacts_sent=len(accepted),
        answered_503=posted.statuses[503],
        accepted_during_outage=len(in_outage),
        reported_screened_right_after=screened_early,
        lost=lost,
        duplicated=duplicated,
    )


def test_a_retry_that_meets_its_own_failing_write_in_flight_is_not_told_202(tmp_path: Path) -> None:
    """A client that times out and sends again while its first request is still being written
    gets that write's answer; when the write fails, that is a 503, never a 202 for a contact
    the broker does not have."""
    with EmbeddedBroker() as own:  # this test pauses its broker, so it doesn't share one
        assert own.process is not None
        service = make_service(own.bootstrap, tmp_path)
        service.intake.start()
        try:
            service.intake.wait_ready()
            body = submission("young_carer")
            os.kill(own.process.pid, signal.SIGSTOP)
            try:
                url, auth = f"{service.intake.url}/v1/contacts", service.auth()
                with ThreadPoolExecutor(2) as pool:
                    first = pool.submit(httpx.post, url, json=body, headers=auth, timeout=10.0)
                    time.sleep(0.5)  # well inside the first write's 3 s (MASH_PRODUCE_TIMEOUT_S)
                    again = pool.submit(httpx.post, url, json=body, headers=auth, timeout=10.0)
                    answers = [first.result(), again.result()]
            finally:
                os.kill(own.process.pid, signal.SIGCONT)
            assert [a.status_code for a in answers] == [503, 503], [a.text for a in answers]
            assert all(int(a.headers["Retry-After"]) > 0 for a in answers)

            deadline = time.monotonic() + 60
            with service.client() as client:
                # As a client does: again after Retry-After until the broker is back in use.
                while (retried := client.post("/v1/contacts", json=body, headers=auth)).status_code == 503:
                    assert time.monotonic() < deadline, retried.text
                    time.sleep(float(retried.headers["Retry-After"]))
            assert retried.status_code == 202, retried.text
            assert retried.json()["replayed"] is False
            stored = [
                json.loads(r.value)["contact_id"]
                for r in read_topic(own.bootstrap, service.settings.topic("contacts"), at_least=1)
            ]
            assert stored == retried.json()["contact_ids"]
        finally:
            service.intake.stop()


def broker_pid(dev: subprocess.Popen[bytes], port: int) -> int | None:
    for pid, argv in children_of(dev.pid):
        if argv[1:2] == [b"broker"] and f"tcp://127.0.0.1:{port}".encode() in argv:
            return pid
    return None


def test_mash_dev_survives_its_broker_restarting_empty(tmp_path: Path) -> None:
    """The embedded broker keeps nothing: killed, `mash dev` starts it again, empty, on its port.

    Contacts accepted before are gone with it (that is the embedded broker's limit; Apache
    Kafka keeps them); the service must say so honestly (never "screened" for a contact the
    new broker has never seen), refuse with 503 while there is no broker, and then accept
    and process new contacts, including about children it had seen before, from scratch.
    """
    rng = random.Random(SEED + 4)
    ports = {name: free_port() for name in ("intake", "worker", "console", "broker")}
    state = tmp_path / "state"
    out_path = tmp_path / "dev.out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **CHAOS_ENV}
    with out_path.open("wb") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "mash", "dev", "--no-demo-data", f"--state-dir={state}"]
            + [f"--{name}-port={port}" for name, port in ports.items()],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    settings = Settings(mode="development", kafka_bootstrap=f"127.0.0.1:{ports['broker']}")
    try:
        wait_for_text(out_path, "\nready\n", dev, timeout=120)
        keys = json.loads((state / "demo-keys.json").read_text())
        lines = simulated_lines(SEED + 4, 400, with_outcomes=False)
        poster = Poster(f"http://127.0.0.1:{ports['intake']}", keys, lines, rate=30.0, give_up_after_s=120)
        poster.start()
        wait_progress(poster, rng.uniform(0.2, 0.4))
        pid = broker_pid(dev, ports["broker"])
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for_text(out_path, "broker exited (code -9); restarting it", dev, timeout=30)
        wait_for_text(out_path, "worker restarted, with fresh state, for the new broker", dev, timeout=30)
        posted = poster.result(timeout=240)
        assert not posted.refused, posted.refused[:3]
        assert posted.statuses[503] > 0
        assert posted.without_retry_after == 0

        on_new_broker = {
            json.loads(r.value)["contact_id"]
            for r in read_topic(settings.kafka_bootstrap, settings.topic("contacts"))
        }
        # By when the accepted request was sent, not answered: a request in flight at the kill may
        # have been stored by the old broker and answered just after.
        before = {cid for cid, at in posted.sent_at.items() if at < killed_at}
        after = set(posted.sent_at) - before
        missing = after - on_new_broker
        assert not missing, (
            f"contacts sent after the kill are missing from the broker: {posted.timing(missing, killed_at)}"
        )
        assert on_new_broker <= posted.accepted_ids()
        published = wait_published(settings.kafka_bootstrap, settings, on_new_broker, timeout=120)
        lost, duplicated, _ = assert_exactly_once_effects(on_new_broker, published)
        latest = published.latest()
        assert_referrals_consistent(latest)
        # Decided from what the new broker holds: no stale history from before the restart.
        assert latest == expected_from_inputs(settings.kafka_bootstrap, settings).records

        gone = before - on_new_broker
        reported = statuses(f"http://127.0.0.1:{ports['intake']}", keys, agencies_of(poster, lines))
        for contact_id in gone:
            assert reported[contact_id]["status"] in (404, "received"), (
                f"{contact_id}: {reported[contact_id]}"
            )
        assert assert_screened_only_if_it_was(reported, settings.kafka_bootstrap, settings) == len(
            on_new_broker
        )
        assert read_published(settings.kafka_bootstrap, settings).copies.keys() == on_new_broker
    finally:
        dev.send_signal(signal.SIGTERM)
        code = dev.wait(timeout=60)
    assert code == 0, out_path.read_text()[-3000:]
    record_figures(
        "mash dev: broker killed and restarted empty",
        contacts_sent=contacts_in(lines),
        accepted_before=len(before),
        gone_with_the_old_broker=len(gone),
        accepted_after=len(after),
        answered_503=posted.statuses[503],
        lost=lost,
        duplicated=duplicated,
    )


def test_a_worker_on_a_broker_that_restarted_empty_starts_afresh(tmp_path: Path) -> None:
    """Standalone processes: the broker restarts empty under a running worker and intake.

    Whatever supervises the worker (here the test, as systemd or Kubernetes would) may
    restart it if it exits; nobody deletes its state by hand. Contacts about children seen
    before the restart must be decided from what the new broker holds, as a fresh
    deployment would, not from table state the broker no longer has.
    """
    port = free_port()
    old = EmbeddedBroker(port=port).start()
    service = make_service(old.bootstrap, tmp_path, **CHAOS_ENV)
    children = [child_named(n) for n in range(6)]
    service.worker.start()
    service.intake.start()
    new: EmbeddedBroker | None = None
    try:
        service.intake.wait_ready()
        service.worker.wait_ready()
        with service.client() as client:
            first = [post_until_accepted(client, service.auth(), c) for c in children]
        wait_published(old.bootstrap, service.settings, set(first), timeout=60)
        old.stop()
        time.sleep(2.0)
        new = EmbeddedBroker(port=port).start()
        with service.client() as client:
            again = [post_until_accepted(client, service.auth(), c) for c in children]
        deadline = time.monotonic() + 60
        while True:
            if service.worker.process is not None and service.worker.process.poll() is not None:
                service.worker.start()  # the supervisor's restart, nothing more
            published = read_published(new.bootstrap, service.settings)
            if set(again) <= published.copies.keys() or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        assert set(again) <= published.copies.keys(), (
            "contacts accepted after the restart were never processed"
        )
        expected = expected_from_inputs(new.bootstrap, service.settings).records
        assert published.latest() == expected, "decided with history the broker no longer has"
        assert_exactly_once_effects(set(again), published)
    finally:
        service.intake.stop()
        service.worker.stop()
        if new is not None:
            new.stop()
        old.stop()


def test_a_worker_whose_records_kafka_never_acknowledges_stops_uncommitted(tmp_path: Path) -> None:
    """The broker is paused longer than the worker's send timeout while the worker works through
    a backlog. Records it sent are never acknowledged; committing the offsets behind them would
    lose their case records. The worker stops instead, without committing, and once restarted
    (by the test, as a supervisor would) it handles those events again: nothing is lost."""
    with EmbeddedBroker() as own:  # this test pauses its broker, so it doesn't share one
        assert own.process is not None
        service = make_service(own.bootstrap, tmp_path, **CHAOS_ENV, MASH_WORKER_SEND_TIMEOUT_S="2")
        lines = simulated_lines(SEED + 4, 4000, with_outcomes=False)
        producer = Producer(service.settings, service.tmp / "agencies.json", lines, rate=5000.0)
        producer.start()
        accepted = set(producer.result(timeout=120).contact_ids)
        worker = service.worker
        worker.start()
        try:
            worker.wait_ready()
            assert worker.process is not None
            # Paused as soon as the worker is well into the backlog, so that its records are in
            # flight. Its own count answers within a batch; reading the cases topic took long
            # enough for the worker to finish the backlog first, and then nothing was in flight.
            deadline = time.monotonic() + 60
            while events_taken(service) < 200:
                assert time.monotonic() < deadline, "the worker did not start on the backlog"
                time.sleep(0.02)
            os.kill(own.process.pid, signal.SIGSTOP)
            try:
                exit_code: int | None = worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                exit_code = None  # still running
            finally:
                os.kill(own.process.pid, signal.SIGCONT)
            assert exit_code == EXIT_RESTART, f"the worker's exit code: {exit_code}"
            assert "worker_stopping_uncommitted" in worker.log_text()
            worker.start()  # as a supervisor would
            worker.wait_ready(90)
            published = wait_published(own.bootstrap, service.settings, accepted, timeout=120)
            # Restarted on a backlog, it starts every partition from the group's committed offset
            # (or the first record) and goes through it without stopping again.
            assert worker.process.poll() is None, worker.log_text()[-3000:]
            assert worker.log_text().count("worker_stopping_uncommitted") == 1, worker.log_text()[-3000:]
        finally:
            worker.stop()
        lost, duplicated, _ = assert_exactly_once_effects(accepted, published)
        assert published.latest() == expected_from_inputs(own.bootstrap, service.settings).records
    record_figures(
        "broker unreachable beyond the worker's send timeout",
        contacts_sent=len(accepted),
        lost=lost,
        duplicated=duplicated,
    )


def events_taken(service: Service) -> float:
    """The events the worker has taken off its input topics, by its own metrics."""
    return sample(service.worker_metrics(), "mash_events_processed_total", agent="children") or 0.0


def child_named(n: int) -> dict[str, Any]:
    return {
        "given_name": f"Outagechild{n}",
        "family_name": "Restartson",
        "date_of_birth": f"2015-0{1 + n}-11",
    }


def post_until_accepted(client: httpx.Client, auth: dict[str, str], kid: dict[str, Any]) -> str:
    body = submission("domestic_abuse_in_home", children=[kid])
    deadline = time.monotonic() + 60
    while True:
        response = client.post("/v1/contacts", json=body, headers=auth)
        if response.status_code == 202:
            [contact_id] = response.json()["contact_ids"]
            return str(contact_id)
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "not accepted 60 s after the broker came back"
        time.sleep(float(response.headers["Retry-After"]) / 5)
