"""The consumer guards: nothing fetched is dropped below the read offset, and no commit moves
past the message at the committed offset before it is acked (streams/consumer.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.app import create_app
from streams.consumer import (
    REFETCH_AFTER_SECONDS,
    STALL_SECONDS,
    GuardedConsumer,
    commit_must_wait,
    in_flight,
    redeliver_from,
    unfetched_ranges,
)
from streams.settings import Settings

TP0 = TP("news.enriched", 0)


def test_redeliver_from_lowers_only_a_read_offset_above_the_message() -> None:
    assert redeliver_from(7, 6) == 6
    assert redeliver_from(6, 6) is None  # Faust's check is >=: 6 passes already
    assert redeliver_from(5, 6) is None
    assert redeliver_from(None, 6) is None


@pytest.mark.parametrize(
    ("committed", "acked", "fetched", "waits"),
    [
        (6, {7}, {6, 7}, True),  # 6 fetched, not acked, 7 acked: Faust would commit 8
        (6, {6, 7}, {6, 7}, False),
        (6, {7}, {7}, False),  # 6 never fetched (a marker?): Faust's tolerance decides
        (6, set(), {6}, False),  # nothing acked: nothing to commit anyway
        (None, {7}, {6, 7}, False),  # nothing committed yet
    ],
)
def test_commit_must_wait(
    committed: int | None, acked: set[int], fetched: set[int], waits: bool
) -> None:
    assert commit_must_wait(committed, acked, fetched) is waits


@pytest.fixture
def consumer(tmp_path: Path) -> GuardedConsumer:
    app, _, _ = create_app(Settings(data_dir=str(tmp_path)))
    assert isinstance(app.consumer, GuardedConsumer)
    return app.consumer


def _message(offset: int, generation_id: int) -> Message:
    return Message(
        TP0.topic,
        TP0.partition,
        offset,
        timestamp=0.0,
        timestamp_type=0,
        headers=[],
        key=b"k",
        value=b"v",
        checksum=None,
        tp=TP0,
        generation_id=generation_id,
    )


def _ack(consumer: GuardedConsumer, *offsets: int) -> None:
    for offset in offsets:
        consumer._acked[TP0].append(offset)
        consumer._acked_index[TP0].add(offset)


def test_faust_alone_commits_past_an_unprocessed_message(consumer: GuardedConsumer) -> None:
    """The defect the guard exists for, shown on Faust's own method: offset 6 is the next to
    process, only 7 was acked, and Faust's commit still moves to 8 (6 is lost)."""
    consumer._committed_offset[TP0] = 6
    _ack(consumer, 7)
    assert faust_aiokafka.Consumer._new_offset(consumer, TP0) == 8


def test_commit_waits_until_the_committed_offset_is_acked(consumer: GuardedConsumer) -> None:
    consumer._committed_offset[TP0] = 6
    consumer._note_fetch(TP0, 6)
    consumer._note_fetch(TP0, 7)
    _ack(consumer, 7)
    assert consumer._new_offset(TP0) is None
    _ack(consumer, 6)
    assert consumer._new_offset(TP0) == 8


def test_a_refetched_message_below_the_read_offset_is_delivered(consumer: GuardedConsumer) -> None:
    """After a seek back to the committed offset, a stale read offset would make Faust's fetch
    loop drop the re-fetched messages; the guard lowers it so they go through."""
    consumer._read_offset[TP0] = 9
    consumer._note_fetch(TP0, 6)
    assert consumer._read_offset[TP0] == 6
    consumer._note_fetch(TP0, 7)
    assert consumer._read_offset[TP0] == 6  # in order from here: Faust advances it itself


async def test_a_message_already_delivered_is_not_delivered_again(
    consumer: GuardedConsumer,
) -> None:
    """A seek at start-up re-fetches what the streams' buffers already hold: those copies are
    left to Faust's filter (no repeat), only ones never handed over are let through."""
    handed: list[int] = []

    async def streams(message: Message) -> None:
        handed.append(message.offset)

    consumer.callback = consumer._recording(streams)
    await consumer.callback(_message(6, consumer.app.consumer_generation_id))
    assert handed == [6]
    consumer._read_offset[TP0] = 8
    consumer._note_fetch(TP0, 6)
    assert consumer._read_offset[TP0] == 8  # the streams have 6: Faust drops the copy
    consumer._note_fetch(TP0, 7)
    assert consumer._read_offset[TP0] == 7  # 7 they never got: it goes through
    consumer.app.consumer_generation_id += 1  # a rebalance: what they had was cleared
    consumer._read_offset[TP0] = 8
    consumer._note_fetch(TP0, 6)
    assert consumer._read_offset[TP0] == 6


def test_fetched_offsets_below_the_committed_one_are_forgotten(consumer: GuardedConsumer) -> None:
    for offset in range(5, 10):
        consumer._note_fetch(TP0, offset)
    consumer._committed_offset[TP0] = 8
    _ack(consumer, 8)
    consumer._new_offset(TP0)
    assert consumer._fetched[TP0] == {8, 9}


def test_unfetched_ranges() -> None:
    assert unfetched_ranges(10, 20, set()) == [(10, 20)]
    assert unfetched_ranges(10, 20, {10, 15, 20, 30}) == [(11, 14), (16, 19)]
    assert unfetched_ranges(10, 12, {10, 11, 12}) == []


async def test_a_jump_over_fetched_offsets_is_not_a_gap(consumer: GuardedConsumer) -> None:
    """Faust records a jump in the delivered offsets (and the delivered message itself) as a
    gap that commits like acked messages; only offsets never fetched may be in it."""
    for offset in (11, 12, 20):
        consumer._note_fetch(TP0, offset)
    await consumer._add_gap(TP0, 11, 20)
    assert sorted((iv.begin, iv.end) for iv in consumer._gap[TP0]) == [(13, 20)]
    consumer._note_fetch(TP0, 15)  # it exists after all: out of the gap
    assert sorted((iv.begin, iv.end) for iv in consumer._gap[TP0]) == [(13, 15), (16, 20)]


async def test_a_long_commit_wait_refetches_from_the_committed_offset(
    consumer: GuardedConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message dropped by a path no guard covers must not hold its partition forever: after
    REFETCH_AFTER_SECONDS of waiting, with the flow running, the consumer seeks back to it."""
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    monkeypatch.setattr(consumer, "seek", seek)
    consumer.resume_flow()
    consumer._committed_offset[TP0] = 6
    consumer._note_fetch(TP0, 6)
    consumer._note_fetch(TP0, 7)
    _ack(consumer, 7)
    assert consumer._new_offset(TP0) is None
    assert consumer._new_offset(TP0) is None
    assert seeks == []  # waiting, not yet long
    offset, since = consumer._commit_waits[TP0]
    consumer._commit_waits[TP0] = (offset, since - REFETCH_AFTER_SECONDS)
    consumer._delivered_now()[TP0] = {6, 7}
    assert consumer._new_offset(TP0) is None
    await asyncio.sleep(0)
    assert seeks == [(TP0, 6)]
    assert TP0 not in consumer._delivered_now()  # everything from 6 on goes again


def test_in_flight() -> None:
    assert in_flight(6, {6, 7}, {6}) is True  # 7 delivered, not yet acked
    assert in_flight(6, {6, 7}, {6, 7}) is False
    assert in_flight(6, {4, 5}, set()) is False  # below the committed offset: done
    assert in_flight(6, set(), set()) is False


async def test_a_stalled_partition_is_refetched(
    consumer: GuardedConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages fetched but never handed over, with nothing acked after them, leave no hold to
    notice: a partition with lag, nothing in flight and its committed offset unmoved for
    STALL_SECONDS is re-fetched from the committed offset."""
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    monkeypatch.setattr(consumer, "seek", seek)
    monkeypatch.setattr(consumer, "assignment", lambda: {TP0})
    monkeypatch.setattr(consumer, "highwater", lambda tp: 40)
    monkeypatch.setattr(consumer.app.topics, "acks_enabled_for", lambda topic: True)
    consumer.resume_flow()
    consumer._committed_offset[TP0] = 6
    consumer.check_stalls(100.0)
    consumer.check_stalls(100.0 + STALL_SECONDS - 1)
    assert seeks == []
    consumer._delivered_now()[TP0] = {6}  # the streams work on 6: not stalled
    consumer.check_stalls(100.0 + STALL_SECONDS + 1)
    consumer._delivered_now()[TP0] = set()
    consumer._handing_over = 1  # a hand-over waits for buffer room: busy, not stalled
    consumer.check_stalls(150.0)
    consumer.check_stalls(150.0 + STALL_SECONDS)
    assert seeks == []
    consumer._handing_over = 0
    consumer.check_stalls(200.0)
    consumer.check_stalls(200.0 + STALL_SECONDS)
    await asyncio.sleep(0)
    assert seeks == [(TP0, 6)]


def test_the_stall_watch_runs_with_the_consumer() -> None:
    tasks = GuardedConsumer._tasks or {}
    assert "_watch_stalls" in tasks["streams.consumer.GuardedConsumer"]
