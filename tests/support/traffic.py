"""Traffic and bookkeeping for the reliability tests: simulated contacts posted or produced at a
steady rate, what the service published, and an independent account of what it should have.

Nothing here trusts the service under test: the expected records are derived from the input
topics with the pure domain function, crash-free, and the figures are counted from the
case-state topic without `mash.domain.figures` (tests/support/independent_figures.py,
re-exported here).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from mash.cli.replay import LineReader
from mash.config import Settings
from mash.console.app import create_console_app
from mash.console.runtime import build_runtime
from mash.console.users import UserDirectory
from mash.domain.case import CaseRecord, PlanRecord, supersedes
from mash.domain.child import ChildState, apply_update
from mash.domain.contact import Child
from mash.domain.identities import Effects, Identities
from mash.domain.identity import child_identity
from mash.domain.ruleset import Ruleset, load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.intake.agencies import AgencyFile
from mash.simulate import SimulationConfig, simulate
from mash.worker.identities_agent import step as identity_step
from tests.support.independent_figures import count_figures as count_figures
from tests.support.independent_figures import local_day as local_day
from tests.support.independent_figures import report_counts as report_counts
from tests.support.kafka_topics import read_topic, read_whole_topic
from tests.support.keys import test_keyring

if TYPE_CHECKING:
    from tests.integration.conftest import Service

Line = dict[str, Any]


# --- traffic -------------------------------------------------------------------------------------


def simulated_lines(seed: int, contacts: int, *, with_outcomes: bool, ended_days_ago: int = 21) -> list[Line]:
    """About `contacts` contacts (one per child named) from `mash simulate`, ending well in the past.

    Ending three weeks ago puts every RAG due time in the past, so "overdue" cannot change
    while a test compares two views of the same cases.
    """
    days = 120
    start = datetime.now(UTC).date() - timedelta(days=days + ended_days_ago)
    config = SimulationConfig(
        seed=seed,
        children=max(50, contacts // 4),
        days=days,
        start=start,
        contacts_per_day=contacts / days / 1.1,
    )
    # Posted through the partner API, which takes no decisions: people make them in the console.
    kinds = ("contact", "outcome") if with_outcomes else ("contact",)
    return [line for line in simulate(config) if line["kind"] in kinds]


def children_of(line: Line) -> list[str]:
    """The identities (not keys) of the children a line is about: what orders their events."""
    raw = line["submission"]["children"] if line["kind"] == "contact" else [line["event"]["child"]]
    return [child_identity(Child.model_validate(c)) for c in raw]


def contacts_in(lines: Iterable[Line]) -> int:
    return sum(len(line["submission"]["children"]) for line in lines if line["kind"] == "contact")


@dataclass
class Posted:
    """What the client saw: every 202's contact ids per agency reference, and how it got them."""

    ids: dict[str, list[list[str]]] = field(default_factory=lambda: defaultdict(list))
    outcomes: int = 0
    attempts: int = 0
    retried: int = 0  # attempts after a connection error, a 5xx, or a 429
    replayed: int = 0  # 202s that said the submission had been accepted before
    resent: int = 0  # accepted submissions sent again, as by a client that never saw the answer
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    done: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # every answer's status; 0 for no answer
    without_retry_after: int = 0  # 503s and 429s that did not say when to come back
    last_retried: str = ""  # the last answer that was retried, for a failure's message
    accepted_at: dict[str, float] = field(default_factory=dict)  # contact id -> monotonic time of its 202
    # contact id -> monotonic time the request that got its 202 was sent: one sent after a
    # broker died cannot have been stored by it, whenever its answer arrives.
    sent_at: dict[str, float] = field(default_factory=dict)
    unavailable_at: list[float] = field(default_factory=list)  # monotonic times of 503s
    replayed_ids: set[str] = field(default_factory=set)  # contacts whose 202 said "accepted before"

    def accepted_ids(self) -> set[str]:
        return {cid for answers in self.ids.values() for answer in answers for cid in answer}

    def timing(self, contact_ids: set[str], since: float) -> list[str]:
        """For a failure's message: when each contact's accepted request was sent and answered,
        in seconds after `since` (a monotonic time), and whether the answer was a replay."""
        return [
            f"{cid}: sent {self.sent_at[cid] - since:+.2f} s, 202 {self.accepted_at[cid] - since:+.2f} s"
            + (", replayed" if cid in self.replayed_ids else "")
            for cid in sorted(contact_ids)
        ]


async def _post_lines(
    url: str,
    keys: dict[str, str],
    lines: list[Line],
    rate: float,
    posted: Posted,
    max_in_flight: int,
    give_up_after_s: float,
    resend: set[int],
) -> None:
    """Posts at a steady rate; a line waits for earlier lines about the same child (so each
    child's events reach the intake in event-time order) and is retried, unchanged, until
    the intake answers with something other than a connection error, a 5xx or a 429."""
    last: dict[str, asyncio.Task[None]] = {}
    slots = asyncio.Semaphore(max_in_flight)
    loop = asyncio.get_running_loop()

    async def post(
        client: httpx.AsyncClient, line: Line, before: list[asyncio.Task[None]], again: bool
    ) -> None:
        try:
            for task in before:
                await asyncio.shield(task)
            await send(client, line)
            if again and line["kind"] == "contact":
                posted.resent += 1
                await send(client, line)
            posted.done += 1
        finally:
            slots.release()

    async def send(client: httpx.AsyncClient, line: Line) -> None:
        contact = line["kind"] == "contact"
        path = "/v1/contacts" if contact else "/v1/outcomes"
        body = line["submission"] if contact else line["event"]
        headers = {"Authorization": f"Bearer {keys[line['agency']]}"}
        deadline = loop.time() + give_up_after_s
        while True:
            posted.attempts += 1
            attempt_sent = time.monotonic()
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError:
                response = None
            posted.statuses[response.status_code if response is not None else 0] += 1
            if response is not None and response.status_code in (429, 503):
                posted.without_retry_after += "Retry-After" not in response.headers
                if response.status_code == 503:
                    posted.unavailable_at.append(time.monotonic())
            if response is not None and response.status_code < 500 and response.status_code != 429:
                break
            answer = f"{response.status_code} {response.text[:200]}" if response is not None else "no answer"
            posted.last_retried = answer
            assert loop.time() < deadline, f"{path} still failing after {give_up_after_s} s"
            posted.retried += 1
            wait = response.headers.get("Retry-After") if response is not None else None
            await asyncio.sleep(min(float(wait), 2.0) if wait else 0.3)
        if response.status_code != 202:
            posted.refused.append((line["kind"], response.status_code, response.text[:300]))
        elif contact:
            answer = response.json()
            posted.ids[body["agency_reference"]].append(list(answer["contact_ids"]))
            for contact_id in answer["contact_ids"]:
                posted.accepted_at.setdefault(contact_id, time.monotonic())
                posted.sent_at.setdefault(contact_id, attempt_sent)
            if answer.get("replayed"):
                posted.replayed += 1
                posted.replayed_ids.update(answer["contact_ids"])
        else:
            posted.outcomes += 1

    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(15.0, connect=2.0)) as client:
        next_at = loop.time()
        tasks: list[asyncio.Task[None]] = []
        for number, line in enumerate(lines):
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at = max(next_at + 1 / rate, loop.time())
            await slots.acquire()
            who = children_of(line)
            before = [last[c] for c in who if c in last and not last[c].done()]
            task = asyncio.create_task(post(client, line, before, number in resend))
            for c in who:
                last[c] = task
            tasks.append(task)
        await asyncio.gather(*tasks)


class Poster(threading.Thread):
    """Posts lines in the background; `join()` then read `posted`."""

    def __init__(
        self,
        url: str,
        keys: dict[str, str],
        lines: list[Line],
        rate: float,
        max_in_flight: int = 12,
        give_up_after_s: float = 90.0,
        resend_share: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(daemon=True)
        self.args = (url, keys, lines, rate)
        self.max_in_flight = max_in_flight
        self.give_up_after_s = give_up_after_s
        self.posted = Posted()
        self.error: BaseException | None = None
        self.total = len(lines)
        rng = random.Random(seed)
        self.resend = {n for n in range(len(lines)) if rng.random() < resend_share}

    def run(self) -> None:
        try:
            asyncio.run(
                _post_lines(*self.args, self.posted, self.max_in_flight, self.give_up_after_s, self.resend)
            )
        except BaseException as exc:
            self.error = exc

    def result(self, timeout: float) -> Posted:
        self.join(timeout)
        posted = self.posted
        assert not self.is_alive(), (
            f"the poster did not finish: {posted.done} of {self.total} lines done, answers so far "
            f"{dict(posted.statuses)}, last retried answer: {posted.last_retried or 'none'}"
        )
        if self.error is not None:
            raise self.error
        return self.posted


@dataclass
class Produced:
    contact_ids: list[str] = field(default_factory=list)
    outcomes: int = 0
    done: int = 0


class Producer(threading.Thread):
    """Writes lines straight to the input topics, as `mash replay` does, at a steady rate."""

    def __init__(self, settings: Settings, agencies_file: Path, lines: list[Line], rate: float) -> None:
        super().__init__(daemon=True)
        self.settings, self.lines, self.rate = settings, lines, rate
        self.agencies = {a.id: a for a in AgencyFile.model_validate_json(agencies_file.read_bytes()).agencies}
        self.produced = Produced()
        self.error: BaseException | None = None
        self.total = len(lines)

    async def _run(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, acks="all", max_batch_size=1
        )
        await producer.start()
        rulesets = RulesetHistory.of(load_ruleset())
        reader = LineReader(
            self.agencies, rulesets, self.settings.secret(), self.settings, datetime.now(UTC), test_keyring()
        )
        loop = asyncio.get_running_loop()
        try:
            next_at = loop.time()
            for line in self.lines:
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at + 1 / self.rate, loop.time())
                _, records = reader.records(orjson.dumps(line))
                for topic, key, value, headers in records:
                    await producer.send_and_wait(topic, key=key, value=value, headers=headers)
                if line["kind"] == "contact":
                    contacts = self.settings.topic("contacts")
                    self.produced.contact_ids.extend(
                        orjson.loads(r[2])["contact_id"] for r in records if r[0] == contacts
                    )
                else:
                    self.produced.outcomes += 1
                self.produced.done += 1
        finally:
            await producer.stop()

    def run(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:
            self.error = exc

    def result(self, timeout: float) -> Produced:
        self.join(timeout)
        assert not self.is_alive(), "the producer did not finish"
        if self.error is not None:
            raise self.error
        return self.produced


# --- what the service published ---------------------------------------------------------------


@dataclass
class Published:
    copies: dict[str, list[dict[str, Any]]]  # contact id -> every case record published, in order
    plans: dict[str, list[dict[str, Any]]]

    def latest(self) -> dict[str, dict[str, Any]]:
        return {cid: versions[-1] for cid, versions in self.copies.items()}

    def latest_plans(self) -> dict[str, dict[str, Any]]:
        return {pid: versions[-1] for pid, versions in self.plans.items()}

    @property
    def records(self) -> int:
        return sum(len(v) for v in self.copies.values())


def read_published(bootstrap: str, settings: Settings) -> Published:
    """Every case record and plan, each key's copies in offset order (one key, one partition)."""
    copies: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(
        read_topic(bootstrap, settings.topic("cases"), timeout=15), key=lambda r: (r.partition, r.offset)
    ):
        record = orjson.loads(r.value)
        assert r.key == record["contact_id"].encode(), "a case record is keyed by its contact id"
        copies[record["contact_id"]].append(record)
    plans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(
        read_topic(bootstrap, settings.topic("plans"), timeout=15), key=lambda r: (r.partition, r.offset)
    ):
        plan = orjson.loads(r.value)
        plans[plan["plan_id"]].append(plan)
    return Published(dict(copies), dict(plans))


def wait_published(bootstrap: str, settings: Settings, contact_ids: set[str], timeout: float) -> Published:
    """Waits until every one of the contact ids has a case record (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        published = read_published(bootstrap, settings)
        if contact_ids <= published.copies.keys() or time.monotonic() > deadline:
            return published
        time.sleep(1.0)


# --- what it should have published --------------------------------------------------------------


@dataclass
class Expected:
    records: dict[str, dict[str, Any]]
    plans: dict[str, dict[str, Any]]
    inputs: int


def expected_from_inputs(bootstrap: str, settings: Settings, ruleset: Ruleset | None = None) -> Expected:
    """The records the input topics make, worked out once, crash-free, with no Kafka in between:
    every input through the identities step, and each child's updates through the child step.

    A record id seen twice (a client's retry after a crash) is applied once, the first copy
    in partition order: the copy a worker meets first. Which child a contact is about does not
    depend on the order the topics are read in (docs/identity.md).
    """
    rules = RulesetHistory.of(ruleset or load_ruleset())
    identities = Identities()
    states: dict[str, ChildState] = {}
    kept: dict[str, CaseRecord] = {}
    plans: dict[str, PlanRecord] = {}
    inputs = 0

    def take(effects: Effects) -> None:
        for update in effects.updates:
            step = apply_update(states.get(update.child_key, ChildState()), update, rules)
            states[update.child_key] = step.state
            for published in step.publish:
                record = published.record
                if isinstance(record, CaseRecord):
                    if supersedes(record, kept.get(record.contact_id)):
                        kept[record.contact_id] = record
                elif supersedes(record, plans.get(record.plan_id)):
                    plans[record.plan_id] = record

    for name in ("contacts", "outcomes", "decisions", "identities"):
        # The whole topic, to its end offsets: a loaded broker must not cut an input short.
        for r in sorted(
            read_whole_topic(bootstrap, settings.topic(name)), key=lambda r: (r.partition, r.offset)
        ):
            inputs += 1
            take(identity_step(identities, r.topic, r.value, settings, rules))
    return Expected(
        {k: orjson.loads(v.model_dump_json()) for k, v in kept.items()},
        {k: orjson.loads(v.model_dump_json()) for k, v in plans.items()},
        inputs,
    )


# A contact's record changes as people decide it and its case closes; its screening, made once
# from what came before it (each child's events are sent in event-time order), never does.
DECISION_FIELDS = ("recommendation", "received_at", "child_key")


def decision_of(record: dict[str, Any]) -> tuple[Any, ...]:
    """The service's screening of a contact: what must never be made twice, differently."""
    return tuple(orjson.dumps(record[f], option=orjson.OPT_SORT_KEYS) for f in DECISION_FIELDS)


# --- independent figures (in tests/support/independent_figures.py) ------------------------------


def console_counts(records: Iterable[dict[str, Any]], now: datetime) -> dict[str, int]:
    """The console's queue counts, by hand: the queue rules as the coordinators' guide states them."""
    counts = {"awaiting": 0, "early_help": 0, "social_care": 0, "imm": 0, "closed": 0}
    for r in records:
        # Handed to a single agency, a contact has left the front door as surely as a closed one.
        if r["state"] == "closed" or (r["state"] == "decided" and r["route"] == "single_agency"):
            closed = r["case_closed_at"] or r["decided_at"] or r["received_at"]
            counts["closed"] += datetime.fromisoformat(closed) >= now - timedelta(days=7)
            continue
        if r["state"] == "awaiting_decision":
            counts["awaiting"] += 1
        elif r["route"] == "early_help":
            counts["early_help"] += 1
        # Social care: decided for it, or about a child whose case is open (waiting or not).
        linked = r["referral"] == "linked_to_open_case"
        if r["route"] == "social_care" and (r["state"] == "decided" or linked):
            counts["social_care"] += 1
        counts["imm"] += bool(r["imm_agenda"] and 2 <= r["level"] <= 4)
    return counts


# --- the console, as a signed-in user ---------------------------------------------------------------


def console_client(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10.0)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = client.post(
        "/login", data={"csrf_token": token.group(1), "username": username, "password": password}
    )
    assert answer.status_code == 303, answer.text
    return client


def console_routes(service: Service) -> list[tuple[str, str]]:
    """(method, path template) of every route of the console app, read from the app itself."""
    settings_ = service.settings.model_copy(update={"console_session_secret": SecretStr("x")})
    app = create_console_app(
        build_runtime(settings_, UserDirectory(service.tmp / "users.json"), load_ruleset())
    )
    # The console serves no OpenAPI document, but FastAPI can still describe its routes.
    found = [(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops]
    return [
        *found,
        ("GET", "/metrics"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/static/{name}"),
    ]
