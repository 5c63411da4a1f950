"""The agents' Router: a batch is flushed only when every send is acknowledged.

Fake topics stand in for Faust's (``send`` returns a delivery future, as Faust's does); the
broker behaviour they play is the one that matters: deliveries that time out while the broker
is away, and records the broker refuses for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, NotLeaderForPartitionError
from faust.exceptions import ProducerSendError

from streams import agents
from streams.agents import Router, is_retriable
from streams.app import Topics
from streams.settings import Settings


@dataclass
class FakeTopic:
    name: str
    # outcome(n) for the n-th send: None = acknowledged, an exception = that failure
    outcome: Callable[[int], BaseException | None] = lambda n: None
    sent: list[tuple[bytes | None, bytes | None, Any]] = field(default_factory=list)
    acked: list[bytes | None] = field(default_factory=list)

    async def send(self, *, key: bytes | None, value: bytes | None, headers: Any) -> Any:
        n = len(self.sent)
        self.sent.append((key, value, headers))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failure = self.outcome(n)
        if failure is None:
            self.acked.append(key)
            fut.set_result(SimpleNamespace(offset=n))
        else:
            fut.set_exception(failure)
        return fut


def event(offset: int, key: bytes = b"k", value: bytes = b"v") -> Any:
    return SimpleNamespace(
        message=SimpleNamespace(
            topic="news.enriched", partition=0, offset=offset, key=key, value=value
        )
    )


def router(stories: FakeTopic, dlq: FakeTopic) -> Router:
    other = FakeTopic("unused")
    topics = Topics(raw=other, segmented=other, enriched=other, stories=stories, dlq=dlq)  # type: ignore[arg-type]
    return Router(topics, Settings(), "dedup")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents, "SEND_RETRY_FIRST_DELAY", 0.001)
    monkeypatch.setattr(agents, "SEND_RETRY_MAX_DELAY", 0.004)


def test_retriable_failures_are_sent_again_until_acknowledged() -> None:
    # The broker is away for the first 5 deliveries (timeouts), then back.
    stories = FakeTopic("news.stories", lambda n: KafkaTimeoutError() if n < 5 else None)
    dlq = FakeTopic("news.dlq")
    r = router(stories, dlq)

    async def go() -> None:
        assert await r.emit(stories, "a", b"A", event(1))  # type: ignore[arg-type]
        assert await r.emit(stories, "b", b"B", event(2))  # type: ignore[arg-type]
        await r.flush()

    asyncio.run(go())
    assert sorted(k for k in stories.acked if k) == [b"a", b"b"]
    assert not dlq.sent and not r.pending
    assert len(stories.sent) > 2


def test_output_refused_for_good_sends_the_input_to_the_dlq() -> None:
    stories = FakeTopic("news.stories", lambda n: MessageSizeTooLargeError())
    dlq = FakeTopic("news.dlq")
    r = router(stories, dlq)

    async def go() -> None:
        await r.emit(stories, "big", b"X" * 10, event(7, key=b"big", value=b"orig"))  # type: ignore[arg-type]
        await r.flush()

    asyncio.run(go())
    assert len(stories.sent) == 1  # not retried
    ((key, value, headers),) = dlq.sent
    assert (key, value) == (b"big", b"orig")  # the input, unchanged
    h = dict(headers)
    assert h["reason"] == b"output_rejected"
    assert h["error_class"] == b"MessageSizeTooLargeError"
    assert h["source_offset"] == b"7"


def test_a_send_that_raises_at_once_is_judged_like_a_late_failure() -> None:
    calls = {"n": 0}

    class Flaky(FakeTopic):
        async def send(self, *, key: bytes | None, value: bytes | None, headers: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                raise ProducerSendError("Error while sending") from NotLeaderForPartitionError()
            return await super().send(key=key, value=value, headers=headers)

    stories, dlq = Flaky("news.stories"), FakeTopic("news.dlq")
    r = router(stories, dlq)

    async def go() -> None:
        await r.emit(stories, "a", b"A", event(1))  # type: ignore[arg-type]
        await r.flush()

    asyncio.run(go())
    assert stories.acked == [b"a"] and calls["n"] == 2


def test_dead_letter_refused_for_good_is_logged_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stories = FakeTopic("news.stories")
    dlq = FakeTopic("news.dlq", lambda n: MessageSizeTooLargeError())
    r = router(stories, dlq)
    failure = agents.Failure("dedup", "stage_error", "ValueError", "bad")

    async def go() -> None:
        await r.fail(event(3, key=b"poison"), failure)  # type: ignore[arg-type]
        await r.flush()

    asyncio.run(go())
    assert len(dlq.sent) == 1
    assert any("dead letter refused" in rec.getMessage() for rec in caplog.records)


def test_retriable_classification() -> None:
    assert is_retriable(KafkaTimeoutError())
    assert is_retriable(NotLeaderForPartitionError())
    assert is_retriable(ConnectionResetError())
    wrapped = ProducerSendError("x")
    wrapped.__cause__ = NotLeaderForPartitionError()
    assert is_retriable(wrapped)
    assert not is_retriable(MessageSizeTooLargeError())
    assert not is_retriable(ValueError())


def test_cancelled_agent_finishes_its_batch_before_stopping() -> None:
    finished: list[str] = []

    async def batch() -> None:
        await asyncio.sleep(0.05)
        finished.append("batch")

    async def agent() -> None:
        await agents._complete(batch())

    async def go() -> None:
        task = asyncio.create_task(agent())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert finished == ["batch"]


class FakeStream:
    """What ``agents._batches`` uses of a Faust stream: ``events()``, ``enable_acks``, ``ack``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.enable_acks = True
        self.acked: list[Any] = []

    async def events(self) -> Any:
        while (item := await self.queue.get()) is not None:
            yield item

    async def ack(self, event: Any) -> bool:
        self.acked.append(event)
        return True


def test_batches_wait_for_a_first_event_then_within_for_company_and_ack_after() -> None:
    async def go() -> None:
        stream = FakeStream()
        batches = agents._batches(stream, 3, 0.05)  # type: ignore[arg-type]
        first = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.2)  # idle longer than `within`: no empty batch comes out
        assert not first.done()
        for n in range(5):
            stream.queue.put_nowait(n)
        assert await first == [0, 1, 2]  # full at max_
        assert not stream.enable_acks and stream.acked == []
        assert await anext(batches) == [3, 4]  # the rest, once `within` has passed
        assert stream.acked == [0, 1, 2]  # acked when the next batch was asked for
        await batches.aclose()  # closing acks the batch in hand and restores the acks flag
        assert stream.acked == [0, 1, 2, 3, 4] and stream.enable_acks

    asyncio.run(go())


def test_batches_end_with_the_stream() -> None:
    async def go() -> list[Any]:
        stream = FakeStream()
        for item in (1, 2, None):
            stream.queue.put_nowait(item)
        return [b async for b in agents._batches(stream, 10, 0.01)]  # type: ignore[arg-type]

    assert asyncio.run(go()) == [[1, 2]]


def test_batches_raise_what_the_stream_raised() -> None:
    class Broken(FakeStream):
        async def events(self) -> Any:
            yield 1
            raise RuntimeError("fetch failed")

    async def go() -> None:
        batches = agents._batches(Broken(), 10, 0.01)  # type: ignore[arg-type]
        assert await anext(batches) == [1]
        with pytest.raises(RuntimeError, match="fetch failed"):
            await anext(batches)

    asyncio.run(go())


def test_events_taken_but_not_handed_out_are_not_acked_on_cancel() -> None:
    async def go() -> list[Any]:
        stream = FakeStream()
        batches = agents._batches(stream, 10, 1.0)  # type: ignore[arg-type]
        stream.queue.put_nowait(1)
        waiting = asyncio.ensure_future(anext(batches))  # holds [1], waits for company
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await batches.aclose()
        return stream.acked

    assert asyncio.run(go()) == []  # never processed, so never committed: read again
