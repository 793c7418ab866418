"""Where a simulation goes: a JSON Lines file for `mash replay`, or a running intake.

Posting goes through the partner API, which takes contacts and the case system's outcomes.
People's decisions are made in the console, never through the partner API, so decision lines
are skipped when posting (and counted, so the command can say so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from mash.simulate.catalogue import DEMO_AGENCY_IDS
from mash.simulate.config import SimulationConfig
from mash.simulate.generator import simulate
from mash.simulate.lines import Line

if TYPE_CHECKING:
    import httpx


def write_jsonl(config: SimulationConfig, path: Path) -> int:
    """Writes the simulation to `path` as JSON Lines; returns the number of lines."""
    count = 0
    with path.open("wb") as out:
        for line in simulate(config):
            out.write(orjson.dumps(line))
            out.write(b"\n")
            count += 1
    return count


class PostError(RuntimeError):
    """The service refused the simulation's keys, or could not be reached: stop rather than skip."""


@dataclass(frozen=True)
class PostResult:
    posted: int  # contact and outcome lines the intake accepted
    decisions_skipped: int  # decision lines: people decide in the console, not through the partner API


Refused = Callable[[Line, int, str], None]


async def post_to_service(
    config: SimulationConfig,
    intake_url: str,
    keys: dict[str, str],
    rate_per_s: float,
    *,
    max_in_flight: int = 16,
    on_refused: Refused | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> PostResult:
    """Posts the simulation's contacts and outcomes to a running intake at a steady `rate_per_s`.

    `keys` maps each demo agency id to its API key (the dev server's demo-keys.json). Lines
    start in file (event-time) order, up to `max_in_flight` at once, so one slow request
    doesn't slow the rate; the service orders each child's events by event time, so a small
    reordering in flight changes nothing. A 503 or 429 is retried after its Retry-After. A
    line refused for a reason a retry cannot fix (a 422, say) is passed to `on_refused` with
    the status and body, and not counted. Decision lines are skipped and counted: the partner
    API takes none. `transport` is for tests.
    """
    import httpx  # only a dev dependency: generating a file must not need it

    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    missing = sorted(DEMO_AGENCY_IDS - keys.keys())
    if missing:
        raise ValueError(f"no key for agencies: {', '.join(missing)}")
    interval = 1 / rate_per_s
    posted = skipped = 0
    slots = asyncio.Semaphore(max_in_flight)
    failures: list[PostError] = []

    async def send(
        client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]
    ) -> httpx.Response:
        for attempt in range(_MAX_ATTEMPTS):
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= 5:
                    raise PostError(f"the service at {intake_url} cannot be reached: {exc!r}") from exc
                await asyncio.sleep(min(30.0, 0.5 * 2.0**attempt))
                continue
            if response.status_code not in (429, 503):
                return response
            await asyncio.sleep(_retry_after(response.headers.get("Retry-After")))
        raise PostError(f"{path} still unavailable after {_MAX_ATTEMPTS} attempts")

    async def post(client: httpx.AsyncClient, line: Line) -> None:
        nonlocal posted
        contact = line["kind"] == "contact"
        path = "/v1/contacts" if contact else "/v1/outcomes"
        headers = {"Authorization": f"Bearer {keys[line['agency']]}"}
        try:
            response = await send(client, path, line["submission"] if contact else line["event"], headers)
            if response.status_code in (401, 403):
                raise PostError(f"{path} refused the key of agency {line['agency']}: {response.status_code}")
            if response.is_success:
                posted += 1
            elif on_refused is not None:
                on_refused(line, response.status_code, response.text)
        except PostError as exc:
            failures.append(exc)
        finally:
            slots.release()

    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(
        base_url=intake_url.rstrip("/"), timeout=30.0, transport=transport
    ) as client:
        next_at = loop.time()
        for line in simulate(config):
            if failures:
                break
            if line["kind"] == "decision":
                skipped += 1
                continue
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # After a stall, carry on at the rate rather than catch up in a rush.
            next_at = max(next_at + interval, loop.time())
            await slots.acquire()
            task = asyncio.create_task(post(client, line))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    if failures:
        raise failures[0]
    return PostResult(posted=posted, decisions_skipped=skipped)


_MAX_ATTEMPTS: Final = 30


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds only; the intake never sends a date)."""
    try:
        return max(0.1, min(60.0, float(value))) if value else 1.0
    except ValueError:
        return 1.0
