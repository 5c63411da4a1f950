"""The producer every connector sends through: idempotent, acks=all, keyed, compressed,
batched, and flushed on shutdown.

``send()`` returns at once with a future (after backpressure: aiokafka makes it wait while
its buffer is full, so memory stays bounded); ``on_delivered`` runs when the broker acked
the message, which is when a connector records the item as sent. ``stop()`` flushes what
is in flight before closing, so a SIGTERM loses nothing handed to the producer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer

from streams.decode import canonical_url
from streams.ingest.config import IngestConfig
from streams.ingest.metrics import FAILED, IN_FLIGHT
from streams.kafka_io import kafka_client_kwargs
from streams.logs import log_event
from streams.settings import Settings

log = logging.getLogger("newsflow.ingest.producer")
_OVERHEAD = 1_048_576

Callback = Callable[[], None]


def key_for(envelope: dict[str, Any]) -> bytes | None:
    """The Kafka key of an envelope: its canonical URL, else its id, else none."""
    url = envelope.get("url")
    if not isinstance(url, str) or not url:
        source = envelope.get("source")
        url = source.get("url") if isinstance(source, dict) else None
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return canonical_url(url).encode()
    ident = envelope.get("id")
    if isinstance(ident, str) and ident:
        return ident.encode()
    return None


def key_for_value(value: bytes) -> bytes | None:
    """The key of a raw message: from its envelope when it is one, else none."""
    head = value.lstrip()[:1]
    if head != b"{":
        return None
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return key_for(doc) if isinstance(doc, dict) else None


class Sink(Protocol):
    async def send(
        self,
        value: bytes,
        key: bytes | None,
        *,
        connector: str,
        on_delivered: Callback | None = None,
    ) -> asyncio.Future[Any]: ...


def _watch(
    fut: asyncio.Future[Any], connector: str, key: bytes | None, on_delivered: Callback | None
) -> None:
    IN_FLIGHT.inc()

    def done(f: asyncio.Future[Any]) -> None:
        IN_FLIGHT.dec()
        if f.cancelled():
            FAILED.labels(connector=connector, reason="produce_cancelled").inc()
            return
        exc = f.exception()
        if exc is not None:
            FAILED.labels(connector=connector, reason="produce_error").inc()
            log_event(
                log,
                "send failed",
                logging.ERROR,
                key=key.decode("utf-8", "replace") if key else None,
                reason="produce_error",
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        if on_delivered is not None:
            on_delivered()

    fut.add_done_callback(done)


class KafkaSink:
    def __init__(self, settings: Settings, config: IngestConfig, topic: str | None = None) -> None:
        self.topic = topic or settings.topic_raw
        self.sent = 0
        self._pending: set[asyncio.Future[Any]] = set()
        self._producer = AIOKafkaProducer(
            **kafka_client_kwargs(settings),
            client_id="newsflow-ingest",
            enable_idempotence=True,
            acks="all",
            compression_type=None if config.compression == "none" else config.compression,
            linger_ms=config.linger_ms,
            max_batch_size=config.max_batch_bytes,
            max_request_size=settings.max_message_bytes + _OVERHEAD,
            request_timeout_ms=30_000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def send(
        self,
        value: bytes,
        key: bytes | None,
        *,
        connector: str,
        on_delivered: Callback | None = None,
    ) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = await self._producer.send(self.topic, value, key=key)
        self.sent += 1
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)
        _watch(fut, connector, key, on_delivered)
        return fut

    async def flush(self, timeout: float = 60.0) -> None:
        if not self._pending:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._producer.flush()
                await asyncio.gather(*list(self._pending), return_exceptions=True)
        except TimeoutError:
            log_event(
                log,
                "flush timed out",
                logging.ERROR,
                in_flight=len(self._pending),
                reason="flush_timeout",
            )

    async def stop(self, timeout: float = 60.0) -> None:
        """Flush what is in flight (their callbacks run), then close."""
        in_flight = len(self._pending)
        await self.flush(timeout)
        await self._producer.stop()
        await asyncio.sleep(0)  # let the last delivery callbacks run
        if in_flight:
            log_event(log, "producer flushed", in_flight=in_flight)


class MemorySink:
    """A sink that keeps what it is sent (tests, benchmarks, dry runs)."""

    def __init__(
        self, *, fail: Callable[[bytes | None, bytes], bool] | None = None, keep: bool = True
    ) -> None:
        self.messages: list[tuple[bytes | None, bytes]] = []
        self.sent = 0
        self.bytes = 0
        self._fail = fail
        self._keep = keep  # False: count only (dry runs, benchmarks), memory stays flat

    async def send(
        self,
        value: bytes,
        key: bytes | None,
        *,
        connector: str,
        on_delivered: Callback | None = None,
    ) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        _watch(fut, connector, key, on_delivered)
        if self._fail is not None and self._fail(key, value):
            fut.set_exception(RuntimeError("memory sink told to fail"))
        else:
            self.sent += 1
            self.bytes += len(value)
            if self._keep:
                self.messages.append((key, value))
            fut.set_result(self.sent)
        return fut

    async def start(self) -> None:
        return None

    async def stop(self, timeout: float = 60.0) -> None:
        await asyncio.sleep(0)

    def envelopes(self) -> list[dict[str, Any]]:
        return [orjson.loads(v) for _, v in self.messages]
