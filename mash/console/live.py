"""Live updates to open browsers over server-sent events.

The feed applies a batch of records, then one message is built for the batch: each changed
row rendered once (not once per browser, and never a whole queue), with where it now sits
in its queue, plus the new counts. Every browser gets the same bytes. A browser that falls
too far behind is dropped; its EventSource reconnects and fetches a fresh list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from mash.views.queue_order import Queue
from mash.views.queues import Change, ConsoleView

# Past this many cases in one batch (a replay, a restart of the worker) one "resync" is
# cheaper for everyone than rendering every row.
MAX_ROWS_PER_MESSAGE = 200
SUBSCRIBER_BACKLOG = 256

RenderRow = Callable[[Queue, str, datetime], str]


def sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def summary(view: ConsoleView, now: datetime) -> dict[str, Any]:
    """What every signed-in user may see, read-only users included: counts, no cases."""
    return {
        "version": view.version,
        "counts": {q.value: n for q, n in view.counts(now).items()},
        "overdue": view.overdue_count(now),
    }


def _merge(changes: list[Change]) -> dict[str, Change]:
    """One change per case for the batch: where it was before the batch, where it is after."""
    merged: dict[str, Change] = {}
    for change in changes:
        earlier = merged.get(change.contact_id)
        if earlier is None:
            merged[change.contact_id] = change
        else:
            merged[change.contact_id] = Change(
                change.contact_id,
                earlier.before,
                change.after,
                earlier.record_changed or change.record_changed,
            )
    return merged


def update_messages(
    view: ConsoleView, changes: list[Change], now: datetime, render_row: RenderRow
) -> tuple[bytes, bytes]:
    """The message for people who see cases, and the counts-only one for read-only users."""
    counts = summary(view, now)
    merged = _merge(changes)
    moved = [c for c in merged.values() if c.record_changed]
    rows: list[dict[str, Any]] = []
    resync = len(moved) > MAX_ROWS_PER_MESSAGE
    if not resync:
        for change in moved:
            cid = change.contact_id
            for queue in sorted(change.after):
                index = view.position(queue, cid, now)
                if index is None:
                    rows.append({"queue": queue.value, "id": cid, "op": "remove"})
                else:
                    html = render_row(queue, cid, now)
                    rows.append(
                        {"queue": queue.value, "id": cid, "op": "upsert", "index": index, "html": html}
                    )
            for queue in sorted(change.before - change.after):
                rows.append({"queue": queue.value, "id": cid, "op": "remove"})
    full = {**counts, "rows": rows, "touched": sorted(merged), "resync": resync}
    return sse("update", full), sse("update", counts)


@dataclass(eq=False)
class Subscriber:
    sees_cases: bool
    queue: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG)
    )


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()

    def subscribe(self, sees_cases: bool) -> Subscriber:
        sub = Subscriber(sees_cases)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, full: bytes, counts_only: bytes) -> None:
        for sub in list(self.subscribers):
            try:
                sub.queue.put_nowait(full if sub.sees_cases else counts_only)
            except asyncio.QueueFull:
                self._drop(sub)

    def close(self) -> None:
        for sub in list(self.subscribers):
            self._drop(sub)

    def _drop(self, sub: Subscriber) -> None:
        self.unsubscribe(sub)
        # Make room for the end-of-stream marker, so the stream ends and the browser reconnects.
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)
