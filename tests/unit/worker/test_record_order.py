"""The worker handles each input partition's records in offset order, from the committed offset on.

`RecordOrder` is given a partition's committed offset and first offset as functions, so these
tests drive it without faust or a broker.
"""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from mash.worker.delivery import RecordOrder, RecordsSkipped

TP = TopicPartition("mash.contacts.v1", 2)


def order(committed: int | None, earliest: int = 0) -> RecordOrder:
    async def committed_offset(tp: TopicPartition) -> int | None:
        return committed

    async def first_offset(tp: TopicPartition) -> int:
        return earliest

    return RecordOrder(committed_offset, first_offset)


async def test_records_from_the_committed_offset_on_pass() -> None:
    checked = order(committed=40)
    for offset in range(40, 45):
        await checked.check(TP, offset)


async def test_records_handled_again_after_a_seek_back_pass() -> None:
    checked = order(committed=40)
    for offset in [40, 41, 42, 40, 41, 42, 43]:
        await checked.check(TP, offset)


async def test_a_first_record_after_the_committed_offset_is_refused() -> None:
    checked = order(committed=153)
    with pytest.raises(RecordsSkipped, match=r"mash.contacts.v1\[2\]: expected offset 153, got 462"):
        await checked.check(TP, 462)


async def test_a_gap_between_records_is_refused() -> None:
    checked = order(committed=0)
    await checked.check(TP, 0)
    await checked.check(TP, 1)
    with pytest.raises(RecordsSkipped, match="expected offset 2, got 5"):
        await checked.check(TP, 5)


async def test_after_a_revocation_the_committed_offset_counts_again() -> None:
    committed = {TP: 3}

    async def committed_offset(tp: TopicPartition) -> int | None:
        return committed.get(tp)

    async def first_offset(tp: TopicPartition) -> int:
        return 0

    checked = RecordOrder(committed_offset, first_offset)
    await checked.check(TP, 3)
    await checked.forget(None, {TP})
    committed[TP] = 90  # another worker handled the partition meanwhile
    await checked.check(TP, 90)
    await checked.check(TP, 91)


async def test_records_deleted_by_retention_before_anyone_handled_them_are_not_a_gap() -> None:
    checked = order(committed=5, earliest=50)
    await checked.check(TP, 50)
    await checked.check(TP, 51)
    with pytest.raises(RecordsSkipped):
        await order(committed=5, earliest=50).check(TP, 60)


async def test_without_a_committed_offset_the_first_record_sets_the_order() -> None:
    checked = order(committed=None)
    await checked.check(TP, 7)
    await checked.check(TP, 8)
    with pytest.raises(RecordsSkipped):
        await checked.check(TP, 10)
