"""The memory measurement's tables: the children's states and identity rows the worker would hold."""

from __future__ import annotations

from collections import Counter

from benchmarks.memory import child_states, synthetic_key, synthetic_rows, worker_tables
from benchmarks.workload import (
    Workload,
    resolved_child_keys,
)
from mash.domain.child import ChildState
from mash.domain.identities import SIGHTING, Identities


def test_child_states_are_table_values_the_worker_reads(workload: Workload) -> None:
    events = workload.events[:100]
    tables = worker_tables(events)
    assert tables.children == child_states(events)
    assert set(tables.children) == set(resolved_child_keys(events).values()) == set(tables.rows)
    for key, value in tables.children.items():
        timeline = ChildState.model_validate_json(value).timeline
        assert {e.id for e in timeline.entries} == {row.entry.id for row in tables.rows[key]}
    assert sum(len(rows) for rows in tables.rows.values()) == len(events)


def test_synthetic_child_keys_look_like_child_keys_and_differ() -> None:
    keys = {synthetic_key(i) for i in range(1000)}
    assert len(keys) == 1000
    sample = synthetic_key(1)
    assert sample.startswith(b"ck-")
    assert len(sample) == 3 + 32
    int(sample[3:], 16)


def test_synthetic_childrens_rows_are_children_of_their_own_in_the_identities_index(
    workload: Workload,
) -> None:
    tables = worker_tables(workload.events)
    real = max(tables.rows, key=lambda key: len(tables.rows[key]))  # a child with several contacts
    rows = tables.rows[real]
    assert len(rows) > 1
    stored = [
        (f"{SIGHTING}{row.sighting[0]}".encode(), row.model_dump_json().encode())
        for row in [*rows, *synthetic_rows(rows, 7), *synthetic_rows(rows, 8)]
    ]

    identities = Identities()  # as the worker loads its table when it takes the identities over
    identities.load(stored)

    children = {identities.index.child_of[sid] for sid in identities.rows}
    assert children == {real, synthetic_key(7).decode(), synthetic_key(8).decode()}
    assert all(
        row.child == row.sent_to[-1] == identities.index.child_of[sid]
        for sid, row in ((sid, identities.row(sid)) for sid in identities.rows)
    )
    assert Counter(identities.index.child_of.values()) == dict.fromkeys(children, len(rows))
    assert not identities.index.to_check
