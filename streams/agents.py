"""Thin agents: take a batch, decode, call the stage, emit, count, route failures.

Every message leaves its agent either as output or as a ``news.dlq`` message carrying the
original bytes and the reason; an exception inside a stage never escapes the loop. Output
sends of a batch are awaited before the next batch is taken, and Faust flushes the producer
before it commits offsets, so offsets move only after the writes are acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, cast

import faust
from aiokafka.errors import KafkaTimeoutError
from faust import streams as faust_streams
from faust.exceptions import ProducerSendError
from faust.types import EventT, TopicT

from streams import metrics
from streams.app import REQUEST_OVERHEAD, Tables, Topics
from streams.dedup import DedupState, decide
from streams.dlq import MAX_ERROR_CHARS, Failure, dlq_headers, fit_dead_letter
from streams.enrich import enrich_batch
from streams.logs import log_context, log_event
from streams.normalize import normalize
from streams.pipeline import segment_message
from streams.records import (
    SCHEMA_VERSION,
    Enriched,
    Segmented,
    decode_enriched,
    decode_segmented,
    encode,
)
from streams.settings import Settings

log = logging.getLogger("newsflow.agents")
# The context variable behind ``faust.streams.current_event()`` (what table writes consult).
_TABLE_EVENT = faust_streams._current_event
_OUTPUT_HEADERS = [("schema-version", SCHEMA_VERSION.encode())]
# Left for the headers of a dead letter inside the producer's max request size.
_DLQ_HEADER_ROOM = 65_536
# Backoff between re-sends of deliveries that failed for a passing reason (seconds).
SEND_RETRY_FIRST_DELAY = 0.5
SEND_RETRY_MAX_DELAY = 30.0
# Segment and dedup batches: at most BATCH_MAX events, and a lone event waits at most
# BATCH_WAIT_SECONDS for company. Under load, batches fill by themselves while the previous
# one is processed (the stream keeps fetching in the background), so a short wait costs no
# throughput and saves latency on every hop.
BATCH_MAX = 64
BATCH_WAIT_SECONDS = 0.01
# How long a stopping agent lets its batch in flight finish.
SHUTDOWN_DRAIN_SECONDS = 60.0


@dataclass
class _Send:
    """One send of a batch: its delivery future, and how to send it again."""

    future: Awaitable[Any]
    again: Callable[[], Awaitable[Awaitable[Any]]]
    event: EventT[bytes]
    is_output: bool  # False: a dead letter


def is_retriable(exc: BaseException) -> bool:
    """Whether a failed delivery may succeed later (broker down or moving, timeouts)."""
    if isinstance(exc, KafkaTimeoutError | ConnectionError | asyncio.TimeoutError):
        return True
    cause = exc.__cause__ if isinstance(exc, ProducerSendError) else exc
    return bool(getattr(cause, "retriable", False)) or isinstance(cause, KafkaTimeoutError)


class Router:
    """Sends outputs and dead letters for one batch, then waits for the broker's acks.

    ``flush`` returns only when every send of the batch is acknowledged: the stream acks
    (commits) the batch's events after that, so an output never acknowledged is never
    committed. A delivery that fails for a passing reason (broker down longer than the
    producer's timeout, leader moving) is sent again with backoff, holding the partition
    (lag grows and alerts; nothing is lost); an output the broker refuses for good (record
    too large for the topic, authorization) sends its input to the DLQ instead, and a dead
    letter refused for good is logged and counted (``newsflow_send_failures_total``).
    """

    def __init__(self, topics: Topics, settings: Settings, stage: str) -> None:
        self.topics = topics
        self.settings = settings
        self.stage = stage
        self.pending: list[_Send] = []

    async def _send(
        self, topic: TopicT, key: bytes | None, value: bytes | None, headers: Any,
        event: EventT[bytes],
        is_output: bool,
    ) -> None:  # fmt: skip
        async def again() -> Awaitable[Any]:
            try:
                return await topic.send(key=key, value=value, headers=headers)
            except Exception as exc:  # noqa: BLE001 - refused at once: judged like a late failure
                failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                failed.set_exception(exc)
                return failed

        self.pending.append(_Send(await again(), again, event, is_output))

    async def emit(self, topic: TopicT, key: str, value: bytes, event: EventT[bytes]) -> bool:
        """Send ``value`` (True), or route the event to the DLQ when it is too large (False)."""
        key_bytes = key.encode()
        # The key counts too: the story_id is the key, and the producer refuses key + value
        # over its max request size (the send would raise and crash the agent).
        size = len(key_bytes) + len(value)
        if size > self.settings.max_message_bytes:
            await self.fail(
                event,
                Failure(
                    self.stage,
                    "output_too_large",
                    "OutputTooLarge",
                    f"output record (key + value) is {size} bytes, over "
                    f"NEWSFLOW_MAX_MESSAGE_BYTES={self.settings.max_message_bytes}",
                ),
            )
            return False
        headers = _OUTPUT_HEADERS if topic is self.topics.stories else None
        await self._send(topic, key_bytes, value, headers, event, is_output=True)
        metrics.MESSAGES_OUT.labels(stage=self.stage).inc()
        return True

    async def fail(self, event: EventT[bytes], failure: Failure) -> None:
        msg = event.message
        metrics.DLQ_MESSAGES.labels(stage=failure.stage, reason=failure.reason).inc()
        log_event(
            log,
            "routed to dlq",
            logging.WARNING,
            reason=failure.reason,
            error=failure.message,
            **_where(failure.stage, event),
        )
        budget = self.settings.max_message_bytes + REQUEST_OVERHEAD - _DLQ_HEADER_ROOM
        key, value, extra = fit_dead_letter(msg.key, msg.value, budget)
        headers = dlq_headers(failure, msg.topic, msg.partition, msg.offset) + extra
        await self._send(self.topics.dlq, key, value, headers, event, is_output=False)

    async def flush(self) -> None:
        delay = SEND_RETRY_FIRST_DELAY
        while self.pending:
            batch, self.pending = self.pending, []
            results = await asyncio.gather(*(s.future for s in batch), return_exceptions=True)
            retry: list[_Send] = []
            for send, result in zip(batch, results, strict=True):
                if not isinstance(result, BaseException):
                    continue
                if isinstance(result, asyncio.CancelledError):
                    raise result
                await self._failed(send, result, retry)
            if retry:
                log_event(
                    log,
                    "sends not acknowledged, retrying",
                    logging.WARNING,
                    stage=self.stage,
                    sends=len(retry),
                    retry_in_seconds=delay,
                    error=next(
                        f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)
                    ),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, SEND_RETRY_MAX_DELAY)
                for send in retry:
                    send.future = await send.again()
            self.pending.extend(retry)

    async def _failed(self, send: _Send, exc: BaseException, retry: list[_Send]) -> None:
        kind = "output" if send.is_output else "dead_letter"
        retriable = is_retriable(exc)
        metrics.SEND_FAILURES.labels(
            stage=self.stage, kind=kind, retriable=str(retriable).lower()
        ).inc()
        if retriable:
            retry.append(send)
        elif send.is_output:
            # Refused for good (e.g. larger than the topic's max.message.bytes): the input
            # goes to the DLQ with the broker's reason instead of blocking the partition.
            await self.fail(
                send.event,
                Failure(
                    self.stage, "output_rejected", type(exc).__name__, str(exc)[:MAX_ERROR_CHARS]
                ),
            )
        else:
            log_event(
                log,
                "dead letter refused by the broker: message dropped",
                logging.ERROR,
                error=f"{type(exc).__name__}: {exc}",
                **_where(self.stage, send.event),
            )


def _key_text(key: bytes | None, limit: int = 200) -> str | None:
    """A message key for a log line: the story_id or URL the producer keyed it by (cut short)."""
    if key is None:
        return None
    return key[:limit].decode("utf-8", "replace")


def _where(stage: str, event: EventT[bytes]) -> dict[str, Any]:
    """The log fields that locate a message: stage, topic, partition, offset and its key."""
    msg = event.message
    return {
        "stage": stage,
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "key": _key_text(msg.key),
    }


def _observe(stage: str, started: float, count: int) -> None:
    if count:
        per_message = (time.perf_counter() - started) / count
        hist = metrics.PROCESSING_SECONDS.labels(stage=stage)
        for _ in range(count):
            hist.observe(per_message)


async def _complete(batch: Awaitable[None]) -> None:
    """Run one batch to its end even when the agent is cancelled (worker shutdown, rebalance).

    ``_batches`` acks a batch's events when the agent leaves the batch, also on
    cancellation, and acked offsets get committed: a batch cut short would be committed
    without its outputs. So a cancelled agent waits (up to ``SHUTDOWN_DRAIN_SECONDS``) for the
    batch's outputs to be acknowledged, then stops."""
    task = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            log_event(log, "stopping: finishing the batch in flight", logging.INFO)
            done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_DRAIN_SECONDS)
            if not done:
                task.cancel()
                log_event(
                    log,
                    "stopping: the batch in flight did not finish",
                    logging.WARNING,
                    waited_seconds=SHUTDOWN_DRAIN_SECONDS,
                )
        raise


async def _batches(
    stream: faust.StreamT[bytes], max_: int, within: float
) -> AsyncGenerator[list[EventT[bytes]], None]:
    """Batches of at most ``max_`` events: the first event of a batch is awaited with no
    timer, then the batch takes what arrives within ``within`` seconds of it.

    Acks as ``Stream.take_events`` does: a batch's events when the next batch is asked for,
    or when the generator is closed (so use it under ``contextlib.aclosing``); events taken
    but not yet handed out are never acked (read again after a restart). Unlike
    ``take_events``, an idle stream costs nothing: ``take_events`` wakes every ``within``
    seconds even with nothing to do, three tasks per wake (about 50 ms of CPU per second for
    the three agents, measured on an idle worker), a cost paid per second rather than per
    story. Faust's consumer keeps fetching into the stream's buffer meanwhile; reading that
    buffer only when a batch is gathered (not in a background task, as ``take_events`` does),
    and closing a batch only at ``within`` (not also after a short gap without events),
    measured the least CPU at the same rate within this machine's noise (docs/benchmarks.md)."""
    real = cast(faust.Stream[bytes], stream)
    events = cast(AsyncIterator[EventT[bytes]], real.events().__aiter__())
    loop = asyncio.get_running_loop()
    acks_were, real.enable_acks = real.enable_acks, False  # acked here, once processed
    pending: asyncio.Future[EventT[bytes]] | None = None
    batch: list[EventT[bytes]] = []
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            try:
                taken = [await pending]
            except StopAsyncIteration:
                return
            pending = None
            deadline = loop.time() + within
            while len(taken) < max_:
                pending = asyncio.ensure_future(anext(events))
                await asyncio.wait({pending}, timeout=max(0.0, deadline - loop.time()))
                if not pending.done() or pending.exception() is not None:
                    break  # a failed read is raised by the next batch's first await
                taken.append(pending.result())
                pending = None
            batch = taken  # only what was handed out is acked, also when closed
            yield batch
            await _ack(real, batch)
            batch = []
    finally:
        if pending is not None:
            pending.cancel()
        await _ack(real, batch)
        real.enable_acks = acks_were


async def _ack(stream: faust.Stream[bytes], events: Sequence[EventT[bytes]]) -> None:
    for event in events:
        await stream.ack(event)


def register_agents(app: faust.App, topics: Topics, tables: Tables, settings: Settings) -> None:
    @app.agent(topics.raw, name="segment")
    async def segment_agent(stream: faust.StreamT[bytes]) -> None:
        async with aclosing(_batches(stream, BATCH_MAX, BATCH_WAIT_SECONDS)) as batches:
            async for events in batches:
                await _complete(_segment_batch(events, topics, settings))

    @app.agent(topics.segmented, name="enrich")
    async def enrich_agent(stream: faust.StreamT[bytes]) -> None:
        batches = _batches(stream, settings.enrich_batch_size, settings.enrich_batch_seconds)
        async with aclosing(batches):
            async for events in batches:
                await _complete(_enrich_batch(events, topics, settings))

    @app.agent(topics.enriched, name="dedup")
    async def dedup_agent(stream: faust.StreamT[bytes]) -> None:
        state = DedupState(
            stories=tables.stories,
            fingerprints=tables.fingerprints,
            urls=tables.urls,
            window_hours=settings.dedup_window_hours,
            max_entries=settings.dedup_max_entries,
        )
        async with aclosing(_batches(stream, BATCH_MAX, BATCH_WAIT_SECONDS)) as batches:
            async for events in batches:
                await _complete(_dedup_batch(events, topics, settings, state, stream))


async def _segment_batch(
    events: Sequence[EventT[bytes]], topics: Topics, settings: Settings
) -> None:
    stage = "segment"
    router = Router(topics, settings, stage)
    metrics.MESSAGES_IN.labels(stage=stage).inc(len(events))
    started = time.perf_counter()

    def work() -> list[Segmented | Failure]:
        out: list[Segmented | Failure] = []
        for event in events:
            msg = event.message
            with log_context(**_where(stage, event)):
                try:
                    seg = segment_message(
                        msg.value,
                        msg.key,
                        max_bytes=settings.max_message_bytes,
                        received_at=msg.timestamp,
                    )
                except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
                    out.append(Failure.from_exception(stage, exc))
                    continue
                out.append(seg)
                if log.isEnabledFor(logging.DEBUG):
                    log_event(
                        log,
                        "segmented",
                        logging.DEBUG,
                        story_id=seg.story_id,
                        has_article=seg.has_article,
                    )
        return out

    results = await asyncio.get_running_loop().run_in_executor(None, work)
    _observe(stage, started, len(events))
    for event, result in zip(events, results, strict=True):
        if isinstance(result, Failure):
            await router.fail(event, result)
        else:
            await router.emit(topics.segmented, result.story_id, encode(result), event)
    await router.flush()


async def _enrich_batch(
    events: Sequence[EventT[bytes]], topics: Topics, settings: Settings
) -> None:
    stage = "enrich"
    router = Router(topics, settings, stage)
    metrics.MESSAGES_IN.labels(stage=stage).inc(len(events))
    metrics.ENRICH_BATCH_SIZE.observe(len(events))
    started = time.perf_counter()
    good: list[tuple[EventT[bytes], Segmented]] = []
    for event in events:
        try:
            good.append((event, decode_segmented(event.message.value or b"")))
        except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
            await router.fail(event, Failure.from_exception(stage, exc))
    if good:
        items = [seg for _, seg in good]
        first, last = good[0][0].message, good[-1][0].message
        # One model call per batch: its log lines carry the batch's first and last offsets.
        batch_where = {
            "stage": stage,
            "topic": first.topic,
            "partition": first.partition,
            "offset": first.offset,
            "last_offset": last.offset,
            "batch": len(items),
        }
        try:
            enriched = await asyncio.get_running_loop().run_in_executor(
                None, _enrich_in_context, items, settings.enrich_batch_size, batch_where
            )
            outputs: list[Enriched | Failure] = list(enriched)
        except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
            log_event(
                log,
                "enrich batch failed, enriching one by one",
                logging.WARNING,
                error=f"{type(exc).__name__}: {exc}",
                **batch_where,
            )
            outputs = [_enrich_one(seg) for seg in items]
        for (event, _), result in zip(good, outputs, strict=True):
            if isinstance(result, Failure):
                await router.fail(event, result)
            elif await router.emit(
                topics.enriched, result.segmented.story_id, encode(result), event
            ):
                metrics.observe_enriched(result)
    _observe(stage, started, len(events))
    await router.flush()


def _enrich_in_context(
    items: list[Segmented], batch_size: int, where: dict[str, Any]
) -> list[Enriched]:
    with log_context(**where):
        return enrich_batch(items, batch_size)


def _enrich_one(seg: Segmented) -> Enriched | Failure:
    with log_context(stage="enrich", story_id=seg.story_id):
        try:
            return enrich_batch([seg])[0]
        except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
            return Failure.from_exception("enrich", exc)


async def _dedup_batch(
    events: Sequence[EventT[bytes]],
    topics: Topics,
    settings: Settings,
    state: DedupState,
    stream: faust.StreamT[bytes],
) -> None:
    stage = "dedup"
    router = Router(topics, settings, stage)
    metrics.MESSAGES_IN.labels(stage=stage).inc(len(events))
    started = time.perf_counter()
    for event in events:
        # Table writes go to the changelog partition of the event being processed: tell
        # Faust which one that is (batching does not set it). Only through the context
        # variable Faust's tables read, which is local to this agent's task: the stream's
        # ``current_event`` attribute (``Stream._set_current_event`` sets both) is read by
        # the stream's iteration to pick the event of each new message (it was
        # ``take_events``' background buffer filler then),
        # and overwriting it made the next batch carry a stale event in place of a new one,
        # whose offset was acked without the story ever being processed (lost after a crash).
        _TABLE_EVENT.set(weakref.ref(event))
        with log_context(**_where(stage, event)):
            try:
                item = decode_enriched(event.message.value or b"")
                verdict = decide(item, state, now=time.time())
                record = normalize(item, verdict)
            except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
                await router.fail(event, Failure.from_exception(stage, exc))
                continue
            metrics.DEDUP_OUTCOMES.labels(status=verdict.status).inc()
            if await router.emit(topics.stories, record.story_id, encode(record), event):
                # One line per story written: grep a story_id for its verdict and its offset.
                log_event(
                    log,
                    "story written",
                    story_id=record.story_id,
                    status=verdict.status,
                    canonical_id=verdict.canonical_id,
                    similarity=verdict.similarity,
                )
        received = item.segmented.received_at
        if received:
            metrics.END_TO_END_LATENCY.observe(max(0.0, time.time() - received))
    _observe(stage, started, len(events))
    await router.flush()
