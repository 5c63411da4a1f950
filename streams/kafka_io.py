"""Small aiokafka helpers for the CLI: create topics, produce files, read topics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from ssl import SSLContext
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from streams.settings import Settings

log = logging.getLogger("newsflow.kafka")
_OVERHEAD = 1_048_576


def ssl_context(settings: Settings) -> SSLContext | None:
    """The TLS context for SSL / SASL_SSL (None otherwise): ``ssl_cafile`` (else the system
    CAs) verifies the broker, ``ssl_certfile`` + ``ssl_keyfile`` are the client's own."""
    if not settings.uses_tls:
        return None
    context: SSLContext = create_ssl_context(
        cafile=settings.ssl_cafile or None,
        certfile=settings.ssl_certfile or None,
        keyfile=settings.ssl_keyfile or None,
    )
    return context


class KafkaUnreachable(RuntimeError):
    """No connection to the broker: down, wrong address, or refused credentials."""


def describe_connection(settings: Settings) -> str:
    """Where and how clients connect, for error messages (never the password)."""
    how = settings.security_protocol
    if settings.uses_sasl:
        how += f", {settings.sasl_mechanism} as {settings.sasl_username!r}"
    return f"{settings.bootstrap_servers} ({how})"


def kafka_client_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection keyword arguments for every aiokafka client (admin, producer, consumer):
    bootstrap servers plus the security settings (SASL credentials, TLS context).

    The result holds the SASL password: pass it to a client, never log it.
    """
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.uses_sasl:
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = settings.sasl_password
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    return kwargs


def topic_specs(settings: Settings) -> list[NewTopic]:
    """Every topic the pipeline uses, with partitions and configs from settings."""
    big = {"max.message.bytes": str(settings.max_message_bytes + _OVERHEAD)}
    rf = settings.replication_factor
    return [
        NewTopic(settings.topic_raw, settings.partitions, rf, topic_configs=big),
        NewTopic(settings.topic_segmented, settings.partitions, rf, topic_configs=big),
        NewTopic(settings.topic_enriched, settings.dedup_partitions, rf, topic_configs=big),
        # Keyed by story_id and compacted: the latest version of every story stays.
        NewTopic(
            settings.topic_stories,
            settings.partitions,
            rf,
            topic_configs={**big, "cleanup.policy": "compact"},
        ),
        NewTopic(settings.topic_dlq, settings.partitions, rf, topic_configs=big),
    ]


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the pipeline's topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(
        **kafka_client_kwargs(settings), request_timeout_ms=int(timeout * 1000)
    )
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        await admin.close()
        raise KafkaUnreachable(
            f"cannot connect to Kafka at {describe_connection(settings)}: {exc}. If the broker refused the login, "
            "SaslAuthenticationFailed was logged just before this. Check NEWSFLOW_BROKER, "
            "NEWSFLOW_SECURITY_PROTOCOL and NEWSFLOW_SASL_USERNAME / NEWSFLOW_SASL_PASSWORD"
        ) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topic_specs(settings) if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


def producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **kafka_client_kwargs(settings),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_request_size=settings.max_message_bytes + _OVERHEAD,
    )


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: bytes | None
    value: bytes
    origin: str


def messages_from_file(path: Path) -> list[Outgoing]:
    """A file as ``news.raw`` messages: JSONL -> one per line, anything else -> one message."""
    data = path.read_bytes()
    if path.suffix == ".jsonl":
        return [
            Outgoing(None, line, f"{path}:{n}")
            for n, line in enumerate(data.splitlines(), start=1)
            if line.strip()
        ]
    return [Outgoing(None, data, str(path))]


async def produce(
    settings: Settings, messages: Iterable[Outgoing], topic: str | None = None
) -> int:
    prod = producer(settings)
    await prod.start()
    sent = 0
    try:
        futures = [
            await prod.send(topic or settings.topic_raw, m.value, key=m.key) for m in messages
        ]
        for fut in futures:
            await fut
            sent += 1
    finally:
        await prod.stop()
    return sent


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    timestamp: int

    def json(self) -> object:
        return orjson.loads(self.value)


async def consume(
    settings: Settings,
    topics: list[str],
    *,
    from_beginning: bool = True,
    idle_timeout: float | None = 10.0,
    group: str | None = None,
) -> AsyncIterator[Received]:
    """Read topics until ``idle_timeout`` seconds pass with nothing new (None: forever)."""
    consumer = AIOKafkaConsumer(
        *topics,
        **kafka_client_kwargs(settings),
        group_id=group,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=group is not None,
        fetch_max_bytes=settings.max_message_bytes + _OVERHEAD,
        max_partition_fetch_bytes=settings.max_message_bytes + _OVERHEAD,
    )
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int((idle_timeout or 1.0) * 1000))
            if not batch:
                if idle_timeout is not None:
                    return
                continue
            for tp, records in batch.items():
                for r in records:
                    headers = {k: v.decode("utf-8", "replace") for k, v in (r.headers or ())}
                    yield Received(
                        tp.topic,
                        tp.partition,
                        r.offset,
                        r.key,
                        r.value or b"",
                        headers,
                        r.timestamp,
                    )
    finally:
        await consumer.stop()
