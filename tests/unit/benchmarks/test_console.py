"""The console measurement: the live stream's events, and contacts moved to recent days."""

from __future__ import annotations

from datetime import date
from typing import Any

from benchmarks.console import recent, shift_days, sse_contact_ids
from benchmarks.workload import one_child_bodies
from mash.domain.contact import ContactSubmission


def test_sse_update_events_name_the_touched_contacts() -> None:
    update = b'event: update\ndata: {"version": 3, "rows": [], "touched": ["ct-1", "ct-2"], "resync": false}'
    assert sse_contact_ids(update) == ["ct-1", "ct-2"]
    assert sse_contact_ids(b'event: resync\ndata: {"version": 3}') == []
    assert sse_contact_ids(b": keep-alive") == []
    assert sse_contact_ids(b"retry: 2000") == []


def test_recent_moves_contacts_to_the_last_days_with_their_childrens_dates() -> None:
    body = {
        "received_at": "2024-04-05T09:21:54Z",
        "children": [{"date_of_birth": "2010-11-30"}, {"unborn": True, "expected_date": "2024-05-01"}],
    }
    moved = shift_days(body, 10)
    assert moved["received_at"] == "2024-04-15T09:21:54+00:00"
    assert moved["children"] == [
        {"date_of_birth": "2010-12-10"},
        {"unborn": True, "expected_date": "2024-05-11"},
    ]
    assert body["received_at"] == "2024-04-05T09:21:54Z"  # the original is left alone
    event = {"received_at": "2024-06-01T00:00:00+00:00", "child": {"date_of_birth": "2015-01-01"}}
    items: list[dict[str, Any]] = [event, body, event]
    out = recent(items, 14, date(2026, 11, 24))
    assert [item["received_at"][:10] for item in out] == ["2026-11-10", "2026-11-17", "2026-11-23"]
    assert out[2]["child"]["date_of_birth"] == "2017-06-24"
    assert (
        ContactSubmission.model_validate(
            recent([one_child_bodies(1, "t")[0][1]], 2, date(2026, 11, 24))[0]
        ).received_at
        is not None
    )
