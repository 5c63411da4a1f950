"""Faust's Kafka consumer with guards on the path from fetch to offset commit.

faust-streaming 0.15.3 can commit past a message that no agent ever processed: with a
worker joining and leaving a group six times in mid-stream, 30 and 90 of 3,000 stories were
lost (docs/reliability.md). Three of its mechanisms lead there:

* **The read-offset filter.** The fetch loop drops, unprocessed and unacked, every message
  below the partition's ``_read_offset``. That offset is written by the fetch loop *after*
  it hands a message to the streams, also when a rebalance interrupted the hand-over (the
  message never arrived), and a seek back to the committed offset can run in between: the
  re-fetched messages then fall below a read offset that is newer than the seek.
* **The commit tolerance.** ``Consumer._new_offset`` commits the acked offsets contiguous
  with each other and accepts a head that starts one past the committed offset, so the
  message *at* the committed offset (the next one to process) is skipped when it was
  dropped but its successor was acked.
* **The gap bookkeeping.** When the delivered offsets jump, Faust records the offsets in
  between, *and the delivered message itself*, as a gap that commits like acked messages.
  Offsets jump legitimately where the log has no message (a transaction marker), but also
  when a batch fetched before a seek is delivered after it, while the offsets before it are
  still to be re-fetched.

The guards (the first three undo those; the last catches what fell through anyway):

* A fetched message the streams never got in this generation is handed over even below the
  read offset (the read offset is lowered to it): a repeat, which at-least-once consumers
  handle by ``story_id``, never a drop. One they already got in this generation (a seek at
  start-up fetches again what their buffers hold) is left to Faust's filter.
* Once the message at the committed offset was fetched, no commit moves past it until it is
  acked. Acks come in offset order within a partition, so a later message acked before it
  means it was dropped; the next seek to the committed offset (every rebalance ends with
  one) fetches it again, and after ``REFETCH_AFTER_SECONDS`` without one the consumer seeks
  there itself.
* A gap holds only offsets that were never fetched, and an offset fetched later leaves the
  gap again.
* A partition with messages after its committed offset, none of them with the streams and
  the committed offset unmoved for ``STALL_SECONDS``, is re-fetched from that offset: the
  last messages of a partition, fetched but never handed over, leave no later ack for the
  commit hold to notice.

The decisions are the pure functions below; the class only wires them into Faust.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Collection
from typing import Any, ClassVar

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT
from mode import Service

from streams import metrics
from streams.logs import log_event

log = logging.getLogger(__name__)

# A commit waiting this long on one message, with the flow running, re-fetches from it. Acks
# come in offset order within a partition, so a wait (a later message acked, this one not) is
# a dropped message, not a slow one; the delay lets a rebalance in progress re-fetch it first.
REFETCH_AFTER_SECONDS = 10.0
# A partition with messages after its committed offset, none of them with the streams and
# the committed offset unmoved this long (flow running), is re-fetched from that offset:
# messages fetched but never handed over (a fetch discarded around a rebalance, after which
# no seek came) would otherwise sit there with no ack to notice them.
STALL_SECONDS = 30.0
STALL_CHECK_SECONDS = 5.0


def redeliver_from(read_offset: int | None, offset: int) -> int | None:
    """The read offset to set so that the fetch loop delivers ``offset``, or None to leave it.

    Faust's fetch loop drops a message when ``offset < read_offset``; lowering the read offset
    to the message's own offset lets it through (Faust's check is ``>=``)."""
    if read_offset is not None and offset < read_offset:
        return offset
    return None


def unfetched_ranges(first: int, last: int, fetched: Collection[int]) -> list[tuple[int, int]]:
    """The runs of offsets in ``[first, last]`` (inclusive) not in ``fetched``, as inclusive
    ``(first, last)`` pairs: what a jump in the delivered offsets may really have skipped."""
    runs: list[tuple[int, int]] = []
    start = first
    for offset in sorted(o for o in fetched if first <= o <= last):
        if offset > start:
            runs.append((start, offset - 1))
        start = offset + 1
    if start <= last:
        runs.append((start, last))
    return runs


def in_flight(committed: int, delivered: Collection[int], acked: Collection[int]) -> bool:
    """Whether the streams hold a message of the partition not yet done (delivered in this
    generation at or after the committed offset, not acked): then they are working on it."""
    return any(o >= committed and o not in acked for o in delivered)


def commit_must_wait(
    committed: int | None, acked: Collection[int], fetched: Collection[int]
) -> bool:
    """Whether no commit may happen yet: the committed offset's message is still to be done.

    Kafka's committed offset is the next message to process. Once that message was fetched,
    a commit may move past it only after it was acked. A committed offset never fetched may
    hold no message at all (a transaction marker, a compacted record): Faust's own tolerance
    of one missing offset decides then, as it always has."""
    if committed is None or not acked or committed in acked:
        return False
    return committed in fetched


def held_since(marks: dict[TP, tuple[int, float]], tp: TP, offset: int, now: float) -> float | None:
    """Since when ``tp`` has been held at ``offset`` (its mark), or None when that starts now
    (a new mark: none yet, or the offset moved)."""
    mark = marks.get(tp)
    if mark is None or mark[0] != offset:
        marks[tp] = (offset, now)
        return None
    return mark[1]


def _log(msg: str, tp: TP, offset: int, level: int = logging.INFO, **fields: Any) -> None:
    log_event(
        log, msg, level=level, topic=tp.topic, partition=tp.partition, offset=offset, **fields
    )


class GuardedConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with the read-offset and commit guards (see the module)."""

    # Offsets fetched per partition and not yet below its committed offset.
    _fetched: dict[TP, set[int]]
    # Offsets handed to the streams per partition in the current generation.
    _delivered: dict[TP, set[int]]
    # Partitions whose commit waits on its committed offset: (that offset, since when).
    _commit_waits: dict[TP, tuple[int, float]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fetched = {}
        self._delivered = {}
        self._delivered_generation: int | None = None
        self._commit_waits = {}
        self.callback = self._recording(self.callback)
        self._refetches: set[asyncio.Future[None]] = set()
        # Per partition: (committed offset, since when) while it has lag and nothing in flight.
        self._stalls: dict[TP, tuple[int, float]] = {}
        # Hand-overs in progress: above 0 for long when the streams' buffers are full.
        self._handing_over = 0

    @Service.timer(STALL_CHECK_SECONDS)
    async def _watch_stalls(self) -> None:
        self.check_stalls(time.monotonic())

    def check_stalls(self, now: float) -> None:
        """Re-fetch every partition stalled for ``STALL_SECONDS`` (see the constant).

        Not while a hand-over waits for room in a stream's buffer: then the streams are busy
        (a backlog), and a partition whose messages wait behind other partitions' is slow,
        not stalled."""
        if self._handing_over:
            self._stalls.clear()
            return
        for tp in self._guarded_partitions():
            committed = self._committed_offset.get(tp)
            end = self._end_offset(tp)
            busy = committed is not None and in_flight(
                committed, self._delivered_now().get(tp, ()), self._acked_index.get(tp, ())
            )
            if committed is None or end is None or end <= committed or busy:
                self._stalls.pop(tp, None)
                continue
            since = held_since(self._stalls, tp, committed, now)
            if since is not None and now - since >= STALL_SECONDS and self.flow_active:
                self._stalls[tp] = (committed, now)
                self._start_refetch(
                    tp, committed, "re-fetching a stalled partition", end_offset=end
                )

    def _guarded_partitions(self) -> list[TP]:
        try:
            assigned = self.assignment()
        except Exception:  # noqa: BLE001 - not started or rebalancing: nothing to watch now
            return []
        acking = self.app.topics.acks_enabled_for
        return [tp for tp in assigned if acking(tp.topic) and not self._is_changelog_tp(tp)]

    def _end_offset(self, tp: TP) -> int | None:
        try:
            end: int | None = self.highwater(tp)
        except Exception:  # noqa: BLE001 - unknown until a fetch answered for it
            return None
        return end

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        async for tp, message in super().getmany(timeout):
            self._note_fetch(tp, message.offset)
            yield tp, message

    def _recording(self, callback: Any) -> Any:
        """``callback`` (what hands a message to the streams), noting what it delivered.

        Faust's fetch loop cancels the hand-over when a rebalance starts, so only a
        completed call counts, and only in the generation the message was fetched in."""

        async def deliver(message: Message) -> None:
            self._handing_over += 1
            try:
                await callback(message)
            finally:
                self._handing_over -= 1
            if message.generation_id == self.app.consumer_generation_id:
                self._delivered_now().setdefault(message.tp, set()).add(message.offset)

        return deliver

    def _delivered_now(self) -> dict[TP, set[int]]:
        """What the streams got per partition, in the current generation only: deliveries
        that completed while a rebalance was revoking (then cleared from the streams'
        buffers) must not count once the next generation starts."""
        generation = self.app.consumer_generation_id
        if generation != self._delivered_generation:
            self._delivered = {}
            self._delivered_generation = generation
        return self._delivered

    def _note_fetch(self, tp: TP, offset: int) -> None:
        self._fetched.setdefault(tp, set()).add(offset)
        gaps = self._gap.get(tp)
        if gaps and gaps.overlaps(offset):
            gaps.chop(offset, offset + 1)  # it exists after all: it gets acked when done
        if offset in self._delivered_now().get(tp, ()):
            return  # the streams have it (in a buffer, or done): Faust's filter may drop it
        lowered = redeliver_from(self._read_offset[tp], offset)
        if lowered is not None:
            _log(
                "redelivering messages below the read offset",
                tp,
                offset,
                read_offset=self._read_offset[tp],
            )
            self._read_offset[tp] = lowered
            metrics.CONSUMER_GUARD.labels(action="redelivered").inc()

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # Faust calls this when the delivered offsets jump, with the delivered message itself
        # as ``offset_to``, and commits a gap's offsets as if acked. A jump also happens when
        # a batch fetched before a seek is delivered after it; only offsets never fetched
        # may be gaps (those fetched are delivered and acked on their own).
        for first, last in unfetched_ranges(offset_from, offset_to, self._fetched.get(tp, ())):
            await super()._add_gap(tp, first, last)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._stalls.pop(tp, None)
            self._fetched.pop(tp, None)
            self._delivered.pop(tp, None)
            self._commit_waits.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def _new_offset(self, tp: TP) -> int | None:
        committed = self._committed_offset.get(tp)
        fetched = self._fetched.get(tp, set())
        if committed is not None:
            fetched.difference_update([o for o in fetched if o < committed])
            delivered = self._delivered.get(tp, set())
            delivered.difference_update([o for o in delivered if o < committed])
        if committed is not None and commit_must_wait(
            committed, self._acked_index.get(tp, ()), fetched
        ):
            self._wait_for(tp, committed)
            return None
        self._commit_waits.pop(tp, None)
        new_offset: int | None = super()._new_offset(tp)
        return new_offset

    def _wait_for(self, tp: TP, committed: int) -> None:
        """Note (and log once) that ``tp``'s commit waits on ``committed``; when it waited
        ``REFETCH_AFTER_SECONDS`` with the flow running, fetch again from there, so that a
        message dropped by a path no guard covers is re-delivered rather than left stuck."""
        now = time.monotonic()
        since = held_since(self._commit_waits, tp, committed, now)
        if since is None:
            _log("commit waits for the message at the committed offset", tp, committed)
            metrics.CONSUMER_GUARD.labels(action="commit_held").inc()
        elif now - since >= REFETCH_AFTER_SECONDS and self.flow_active:
            self._commit_waits[tp] = (committed, now)
            self._start_refetch(
                tp,
                committed,
                "re-fetching from the committed offset",
                waited_seconds=round(now - since, 1),
            )

    def _start_refetch(self, tp: TP, offset: int, reason: str, **fields: Any) -> None:
        _log(reason, tp, offset, logging.WARNING, **fields)
        metrics.CONSUMER_GUARD.labels(action="refetched").inc()
        # From there on everything goes again: what the streams got may be what they lost.
        self._delivered_now().pop(tp, None)
        self._refetches.add(asyncio.ensure_future(self._refetch(tp, offset)))
        self._refetches = {f for f in self._refetches if not f.done()}

    async def _refetch(self, tp: TP, offset: int) -> None:
        try:
            await self.seek(tp, offset)
        except Exception as exc:  # noqa: BLE001 - e.g. revoked meanwhile; the next wait retries
            _log("re-fetch failed", tp, offset, logging.WARNING, error=repr(exc))


class GuardedTransport(faust_aiokafka.Transport):
    """The aiokafka transport, creating :class:`GuardedConsumer` consumers."""

    Consumer: ClassVar[Any] = GuardedConsumer


class GuardedApp(faust.App):
    """A Faust app whose consumer is :class:`GuardedConsumer`."""

    def _new_transport(self) -> TransportT:
        transport: TransportT = GuardedTransport(self.conf.broker_consumer, self)
        return transport
