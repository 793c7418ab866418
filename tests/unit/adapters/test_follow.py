"""When a follower has caught up: every partition at the end it had when the follower started,
or at an end the broker reports but never serves. And, on the embedded broker, when it must read
a partition again: a record served before the one in front of it."""

from __future__ import annotations

import math

from aiokafka import TopicPartition

from mash.adapters.follow import CatchUp, Gaps

A, B = TopicPartition("mash.contacts.v1", 0), TopicPartition("mash.contacts.v1", 1)


def test_empty_partitions_are_never_waited_for() -> None:
    catch_up = CatchUp({A: 0, B: 3})
    assert catch_up.pending == {B}
    assert CatchUp({A: 0, B: 0}).pending == set()


def test_caught_up_once_every_partition_reaches_its_end() -> None:
    catch_up = CatchUp({A: 2, B: 3})
    assert catch_up.after_fetch({A: 2, B: 1}, fetched=True, now=0.0) is False
    assert catch_up.pending == {B}
    assert catch_up.after_fetch({B: 3}, fetched=True, now=0.1) is True
    assert catch_up.unreachable == set()


def test_an_end_the_broker_never_serves_counts_as_reached_after_the_stall_time() -> None:
    catch_up = CatchUp({A: 2, B: 1}, stall_s=10.0)
    assert catch_up.after_fetch({A: 2, B: 0}, fetched=True, now=0.0) is False
    assert catch_up.after_fetch({B: 0}, fetched=False, now=1.0) is False
    assert catch_up.after_fetch({B: 0}, fetched=False, now=10.9) is False
    assert catch_up.after_fetch({B: 0}, fetched=False, now=11.0) is True
    assert catch_up.unreachable == {B}
    assert catch_up.pending == set()


def test_without_a_stall_time_a_follower_waits_for_every_reported_record() -> None:
    catch_up = CatchUp({A: 1}, stall_s=math.inf)
    assert catch_up.after_fetch({A: 0}, fetched=False, now=0.0) is False
    assert catch_up.after_fetch({A: 0}, fetched=False, now=1e9) is False
    assert catch_up.pending == {A}


def test_records_arriving_restart_the_stall_clock() -> None:
    catch_up = CatchUp({A: 100}, stall_s=10.0)
    assert catch_up.after_fetch({A: 0}, fetched=False, now=0.0) is False
    assert catch_up.after_fetch({A: 40}, fetched=True, now=9.0) is False  # slow, but moving
    assert catch_up.after_fetch({A: 40}, fetched=False, now=15.0) is False
    assert catch_up.after_fetch({A: 40}, fetched=False, now=24.9) is False
    assert catch_up.after_fetch({A: 40}, fetched=False, now=25.0) is True
    assert catch_up.unreachable == {A}


def test_offsets_that_follow_one_another_are_taken() -> None:
    gaps = Gaps()
    assert [gaps.read_again_from(A, offset) for offset in (5, 6, 7)] == [None, None, None]
    assert gaps.read_again_from(B, 0) is None  # each partition on its own


def test_a_record_past_a_gap_sends_the_follower_back_to_the_gap_until_it_is_filled() -> None:
    gaps = Gaps()
    gaps.read_again_from(A, 10)
    assert gaps.read_again_from(A, 12) == 11  # 11 not readable yet: read from it again
    assert gaps.read_again_from(A, 12) == 11  # still not
    assert gaps.read_again_from(A, 11) is None  # there now
    assert gaps.read_again_from(A, 12) is None


def test_the_first_record_read_sets_where_a_partition_starts() -> None:
    gaps = Gaps()
    assert gaps.read_again_from(A, 40) is None  # records before it were deleted by retention
    assert gaps.read_again_from(A, 42) == 41


def test_a_gap_that_stays_for_the_patience_is_taken_as_real() -> None:
    gaps = Gaps(patience=3)
    gaps.read_again_from(A, 0)
    assert [gaps.read_again_from(A, 5) for _ in range(3)] == [1, 1, 1]
    assert gaps.read_again_from(A, 5) is None
    assert gaps.read_again_from(A, 6) is None
    assert gaps.read_again_from(A, 8) == 7  # a later gap gets the whole patience again
