"""The coordinator console: from the intake's 202 to the case in an open console's live stream,
and how the console answers with 10,000 open cases.

A worker, an intake and a console run as processes (`python -m mash ...`, normal producer
batching). The bench signs in as a coordinator and holds the console's server-sent-event
stream (`/events`) open as a browser does, noting when each contact id is first named in an
update. Submissions naming one child each are posted at a steady rate; a contact's latency is
that moment minus the moment its 202 was read (one clock, one process). A follower of the
cases topic times the same contacts to their case record: the comparison, so the console's
own share shows.

Then the open cases: contacts are written straight to the contacts topic (as the intake
writes them: sealed, each under a data key of its own, the keys written to the keys topic
first, where the console reads them to show each row's initials), the worker screens each
into a case awaiting a decision, and the bench waits
until the console's stream has named every one. The simulated contacts are moved to recent
days, their children's dates with them (so each child is the same age when the contact is
received): an open case from the simulator's 2024 would be two years overdue, and a row's
time left in working time is counted day by day, which no real front door would show. With
them open, the queue page and case pages are timed again, and a further run of contacts is
posted at the same rate. The page times before the load (the console holding only the
warm-up's cases) are the comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.http import Connection, Pool
from benchmarks.latency import FOLLOW_WAIT_MS, Spread, post_steadily
from benchmarks.processes import BenchError, Proc, intake_proc, wait_all_ready, worker_proc
from benchmarks.records import OutputCounter, produce
from benchmarks.settings import create_topics, new_prefix, service_env
from benchmarks.workload import Submission, Workload, contact_events, one_child_bodies
from mash.cli.embedded import free_port
from mash.domain.contact import ContactEvent
from mash.intake.agencies import write_demo_agencies

QUEUE_PAGE = "/queues/awaiting"  # the coordinators' first page: the first 100 cases, soonest due first
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class ConsoleResult:
    rate_per_s: float
    sse: Spread  # 202 to the console's stream
    cases_topic: Spread  # the same contacts, 202 to their case record on the cases topic
    cases_before: int  # cases in the console when the "few cases" pages were timed
    queue_page: Spread
    case_page: Spread
    open_cases: int  # awaiting a decision once the load was in
    load_s: float  # from writing the load to the console's stream naming every case of it
    queue_page_10k: Spread
    case_page_10k: Spread
    sse_10k: Spread
    cases_topic_10k: Spread
    reconnects: int  # times the console dropped the bench's stream (it does when a client lags)


def shift_days(item: dict[str, Any], days: int) -> dict[str, Any]:
    """A submission (or a contact event as JSON) received `days` later, its children's dates with it."""
    out = copy.deepcopy(item)
    out["received_at"] = (datetime.fromisoformat(item["received_at"]) + timedelta(days=days)).isoformat()
    for child in [out["child"]] if "child" in out else out["children"]:
        for name in ("date_of_birth", "expected_date"):
            if child.get(name):
                child[name] = (date.fromisoformat(child[name]) + timedelta(days=days)).isoformat()
    return out


def recent(items: Sequence[dict[str, Any]], span_days: int, today: date) -> list[dict[str, Any]]:
    """The items, in order, moved to the `span_days` days before today (the last of them yesterday)."""
    last = max(1, len(items) - 1)
    out = []
    for i, item in enumerate(items):
        target = today - timedelta(days=1 + (span_days - 1) * (last - i) // last)
        received = datetime.fromisoformat(item["received_at"]).date()
        out.append(shift_days(item, (target - received).days))
    return out


def sse_contact_ids(event: bytes) -> list[str]:
    """The contact ids an `update` event names (changed cases, and those whose history changed)."""
    name, data = "message", b""
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            name = line[6:].strip().decode()
        elif line.startswith(b"data:"):
            data += line[5:].strip()
    if name != "update" or not data:
        return []
    touched = orjson.loads(data).get("touched", [])
    return [str(cid) for cid in touched]


class LiveStream:
    """The console's `/events` stream held open as a browser holds it; notes when each id first comes."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port = port
        self.cookie = cookie
        self.first_seen: dict[str, float] = {}
        self.reconnects = 0
        self._arrived = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="console-events")
        await asyncio.wait_for(self._connected.wait(), timeout=30)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
                await self._follow()
            # The console ended the stream (it drops a client that falls behind): a browser reconnects.
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def _follow(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(
                f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if head.split(None, 2)[1] != b"200":
                raise BenchError(f"GET /events answered {head.splitlines()[0]!r}")
            if b"chunked" not in head.lower():
                raise BenchError("the event stream is not chunked")
            self._connected.set()
            buffer = b""
            while size := int((await reader.readline()).split(b";")[0], 16):
                buffer += (await reader.readexactly(size + 2))[:-2]
                *events, buffer = buffer.split(b"\n\n")
                now = time.perf_counter()
                for event in events:
                    for cid in sse_contact_ids(event):
                        self.first_seen.setdefault(cid, now)
                if events:
                    self._arrived.set()
        finally:
            writer.close()

    async def wait_for(self, ids: Iterable[str], timeout: float, alive: Sequence[Proc]) -> None:
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while not wanted.issubset(self.first_seen):
            if self._task is not None and self._task.done():
                self._task.result()
            for proc in alive:
                if not proc.alive():
                    raise BenchError(f"{proc.name} exited during the measurement:\n{proc.log_tail()}")
            if time.monotonic() > deadline:
                missing = len(wanted - self.first_seen.keys())
                raise BenchError(
                    f"{missing} of {len(wanted)} cases not in the console's stream after {timeout:.0f} s"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=0.5)


def console_proc(env: dict[str, str], work: Path, users_file: Path) -> Proc:
    """The console as `mash dev` runs it: its users file, a session secret, plain-HTTP cookies."""
    port = free_port()
    console_env = {
        **env,
        "MASH_CONSOLE_PORT": str(port),
        "MASH_CONSOLE_USERS_FILE": str(users_file),
        "MASH_CONSOLE_SESSION_SECRET": "bench-console-session-secret",
        "MASH_CONSOLE_SECURE_COOKIES": "false",
    }
    return Proc("console", console_env, work / "console.log", port)


async def sign_in(url: str, username: str, password: str) -> str:
    """Signs in through the login form; returns the Cookie header of the session."""
    async with httpx.AsyncClient(base_url=url) as client:
        form = await client.get("/login")
        token = CSRF_FIELD.search(form.text)
        if token is None:
            raise BenchError("the login page has no CSRF token")
        answer = await client.post(
            "/login", data={"csrf_token": token[1], "username": username, "password": password}
        )
        if answer.status_code != 303 or "mash_console" not in answer.cookies:
            raise BenchError(f"signing in to the console answered {answer.status_code}")
        return f"mash_console={answer.cookies['mash_console']}"


async def page_times(port: int, cookie: str, paths: Sequence[str]) -> Spread:
    """Each path in turn on one keep-alive connection, after one request not counted."""
    connection = Connection("127.0.0.1", port)
    seconds: list[float] = []
    try:
        for i, path in enumerate([paths[0], *paths]):
            began = time.perf_counter()
            response = await connection.request("GET", path, {"Cookie": cookie})
            if response.status != 200:
                raise BenchError(f"GET {path} answered {response.status}")
            if i:
                seconds.append(time.perf_counter() - began)
    finally:
        await connection.close()
    return Spread.of(seconds)


async def _awaiting(port: int, cookie: str) -> int:
    """Cases awaiting a screening decision, as the console counts them."""
    connection = Connection("127.0.0.1", port)
    try:
        response = await connection.request("GET", "/counts", {"Cookie": cookie})
    finally:
        await connection.close()
    return int(orjson.loads(response.body)["counts"]["awaiting"])


async def run_console(
    bootstrap: str,
    work: Path,
    *,
    contacts: int = 500,
    open_cases: int = 10_000,
    further: int = 100,
    rate: float = 20.0,
    pages: int = 40,
) -> ConsoleResult:
    from mash.console.users import write_demo_users  # hashes a dummy password on import

    today = datetime.now(UTC).date()
    load_events = await asyncio.to_thread(contact_events, open_cases, 5)
    moved = recent([e.model_dump(mode="json") for e in load_events], 14, today)
    # Sealed once moved, each under a data key of its own. The identifiers stay the simulator's,
    # so one child's contacts still name one child.
    load = await asyncio.to_thread(Workload.of, [ContactEvent.model_validate(e) for e in moved])
    load_ids = [event.contact_id for event in load.events]
    settings = await create_topics(bootstrap, new_prefix("console"))
    keys = write_demo_agencies(work / "console-agencies.json", work / "console-keys.json")
    users = write_demo_users(work / "console-users.json", work / "console-demo-users.json")
    env = service_env(bootstrap, settings.topic_prefix, work, embedded_profile=False)
    worker = worker_proc(env, work, "console-worker")
    intake = intake_proc(env, work, work / "console-agencies.json")
    console = console_proc(env, work, work / "console-users.json")
    procs = [worker.start(), intake.start(), console.start()]
    warmup = int(rate * 2)
    simulated = one_child_bodies(warmup + contacts + further, uuid.uuid4().hex[:8])
    bodies = list(zip((a for a, _ in simulated), recent([b for _, b in simulated], 2, today), strict=True))
    counter = OutputCounter(bootstrap, settings.topic("cases"), fetch_wait_ms=FOLLOW_WAIT_MS)
    stream: LiveStream | None = None

    async def post(batch: list[Submission]) -> list[tuple[list[str], float]]:
        # Connections of its own: uvicorn closes one left idle for 5 s (while pages are timed).
        pool = Pool("127.0.0.1", intake.port, 20)
        try:
            return await post_steadily(pool, keys, batch, rate)
        finally:
            await pool.close()

    async def timed(batch: list[Submission]) -> tuple[Spread, Spread]:
        assert stream is not None
        accepted = await post(batch)
        ids = [cid for got, _ in accepted for cid in got]
        await stream.wait_for(ids, 120, procs)
        await counter.wait_for_keys([cid.encode() for cid in ids], 120, procs)
        sse = Spread.of([stream.first_seen[cid] - at for got, at in accepted for cid in got])
        topic = Spread.of([counter.first_seen[cid.encode()] - at for got, at in accepted for cid in got])
        return sse, topic

    try:
        await asyncio.to_thread(wait_all_ready, procs)
        cookie = await sign_in(console.url, "coordinator", users["coordinator"][1])
        stream = LiveStream(console.port, cookie)
        await stream.start()
        await counter.start()
        # Warm-up: connections, caches, the first cases; not counted. Then the pages with few cases.
        warm = await post(bodies[:warmup])
        warm_ids = [cid for got, _ in warm for cid in got]
        await stream.wait_for(warm_ids, 60, procs)
        cases_before = await _awaiting(console.port, cookie)
        queue_page = await page_times(console.port, cookie, [QUEUE_PAGE] * pages)
        case_page = await page_times(
            console.port, cookie, [f"/cases/{warm_ids[i % len(warm_ids)]}" for i in range(pages)]
        )
        sse, cases_topic = await timed(bodies[warmup : warmup + contacts])

        await produce(bootstrap, settings.topic("keys"), load.keys)  # before anything sealed under them
        began = time.perf_counter()
        await produce(bootstrap, settings.topic("contacts"), load.records)
        await stream.wait_for(load_ids, 600, procs)
        load_s = time.perf_counter() - began
        open_now = await _awaiting(console.port, cookie)
        queue_page_10k = await page_times(console.port, cookie, [QUEUE_PAGE] * pages)
        step = max(1, len(load_ids) // pages)
        case_page_10k = await page_times(console.port, cookie, [f"/cases/{cid}" for cid in load_ids[::step]])
        sse_10k, cases_topic_10k = await timed(bodies[warmup + contacts :])
    finally:
        if stream is not None:
            await stream.stop()
        await counter.stop()
        for proc in procs:
            proc.stop()
    return ConsoleResult(
        rate_per_s=rate,
        sse=sse,
        cases_topic=cases_topic,
        cases_before=cases_before,
        queue_page=queue_page,
        case_page=case_page,
        open_cases=open_now,
        load_s=load_s,
        queue_page_10k=queue_page_10k,
        case_page_10k=case_page_10k,
        sse_10k=sse_10k,
        cases_topic_10k=cases_topic_10k,
        reconnects=stream.reconnects if stream else 0,
    )
