"""Consumer lag per topic-partition, as Prometheus gauges, computed inside the worker.

Faust's own sensors have no lag metric, so each worker asks the broker on an interval:

* the group's committed offsets (``OffsetFetch`` through an admin client),
* the end offsets (log end, the offset of the next message) and the log start offsets of the
  agents' source topics (``ListOffsets`` through a group-less consumer that never fetches),

and sets ``newsflow_consumer_lag{group,topic,partition} = end - committed``. A partition the
group has not committed yet counts from the log start offset (everything still there is
unread). Every worker reports the lag of the *whole group* (not only its own assignment), so the
series of N workers are copies: aggregate with ``max by (group, topic, partition)``, never ``sum``
across instances. The refresh runs as a Faust task on the event loop with its own clients and a
timeout, so a slow broker delays the next refresh, never an agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams import metrics
from streams.kafka_io import kafka_client_kwargs
from streams.settings import Settings

log = logging.getLogger("newsflow.lag")

DEFAULT_INTERVAL_SECONDS = 5.0
_REQUEST_TIMEOUT_MS = 10_000

Partition = tuple[str, int]


def compute_lag(
    end: Mapping[Partition, int],
    committed: Mapping[Partition, int | None],
    start: Mapping[Partition, int],
) -> dict[Partition, int]:
    """Messages behind per partition: ``end - committed`` (never negative).

    A partition without a committed offset (absent, None or -1) lags by what is still on the
    log: ``end - start``. A committed offset below the log start (retention deleted messages the
    group never read) counts from the log start too: those messages cannot be consumed any more.
    """
    lag: dict[Partition, int] = {}
    for tp, end_offset in end.items():
        log_start = start.get(tp, 0)
        offset = committed.get(tp)
        position = log_start if offset is None or offset < 0 else max(offset, log_start)
        lag[tp] = max(0, end_offset - position)
    return lag


@dataclass
class LagCollector:
    """Reads committed and end offsets of ``topics`` for ``group`` and sets the gauges."""

    bootstrap_servers: str
    group: str
    topics: Sequence[str]
    request_timeout_ms: int = _REQUEST_TIMEOUT_MS
    # Connection security (streams.kafka_io.kafka_client_kwargs); holds the SASL password,
    # hence repr=False.
    connection: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _admin: AIOKafkaAdminClient | None = field(default=None, init=False, repr=False)
    _consumer: AIOKafkaConsumer | None = field(default=None, init=False, repr=False)
    _reported: set[Partition] = field(default_factory=set, init=False, repr=False)

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            await self.close()
            conn = {**self.connection, "bootstrap_servers": self.bootstrap_servers}
            admin = AIOKafkaAdminClient(
                **conn,
                request_timeout_ms=self.request_timeout_ms,
                client_id=f"{self.group}-lag",
            )
            consumer = AIOKafkaConsumer(
                **conn,
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=self.request_timeout_ms,
                client_id=f"{self.group}-lag",
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await _quietly_close(admin, consumer)
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def offsets(
        self,
    ) -> tuple[dict[Partition, int], dict[Partition, int | None], dict[Partition, int]]:
        """(end, committed, start) offsets of every partition of the watched topics."""
        admin, consumer = await self._clients()
        tps: list[TopicPartition] = []
        for desc in await admin.describe_topics(list(self.topics)):
            if desc.get("error_code"):  # missing topic: nothing to report yet
                continue
            partitions = sorted(int(p["partition"]) for p in desc.get("partitions", ()))
            tps.extend(TopicPartition(desc["topic"], p) for p in partitions)
        if not tps:
            return {}, {}, {}
        end = await consumer.end_offsets(tps)
        start = await consumer.beginning_offsets(tps)
        committed_raw = await admin.list_consumer_group_offsets(self.group, partitions=tps)
        committed: dict[Partition, int | None] = {
            (tp.topic, tp.partition): (meta.offset if meta is not None else None)
            for tp, meta in committed_raw.items()
        }
        return (
            {(tp.topic, tp.partition): int(off) for tp, off in end.items()},
            committed,
            {(tp.topic, tp.partition): int(off) for tp, off in start.items()},
        )

    async def refresh(self) -> dict[Partition, int]:
        """One refresh: read offsets, set the gauges, drop series of vanished partitions."""
        end, committed, start = await self.offsets()
        lag = compute_lag(end, committed, start)
        for (topic, partition), value in lag.items():
            labels = {"group": self.group, "topic": topic, "partition": str(partition)}
            metrics.CONSUMER_LAG.labels(**labels).set(value)
            metrics.TOPIC_END_OFFSET.labels(topic=topic, partition=str(partition)).set(
                end[(topic, partition)]
            )
            offset = committed.get((topic, partition))
            if offset is not None and offset >= 0:
                metrics.CONSUMER_COMMITTED_OFFSET.labels(**labels).set(offset)
        for topic, partition in self._reported - set(lag):
            _remove(metrics.CONSUMER_LAG, self.group, topic, str(partition))
            _remove(metrics.CONSUMER_COMMITTED_OFFSET, self.group, topic, str(partition))
            _remove(metrics.TOPIC_END_OFFSET, topic, str(partition))
        self._reported = set(lag)
        metrics.LAG_LAST_SUCCESS.set(time.time())
        return lag

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        await _quietly_close(admin, consumer)

    async def run(self, interval: float, stop: asyncio.Event | None = None) -> None:
        """Refresh every ``interval`` seconds until cancelled (or ``stop`` is set)."""
        try:
            while stop is None or not stop.is_set():
                await self.refresh_once(timeout=max(interval, self.request_timeout_ms / 1000))
                if stop is None:
                    await asyncio.sleep(interval)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), interval)
        finally:
            await self.close()

    async def refresh_once(self, timeout: float) -> bool:
        """A refresh that never raises (except cancellation): failures count and reconnect."""
        try:
            await asyncio.wait_for(self.refresh(), timeout)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed refresh must not stop the worker
            metrics.LAG_REFRESH_ERRORS.inc()
            log.warning("consumer lag refresh failed: %s: %s", type(exc).__name__, exc)
            await self.close()  # reconnect on the next try
            return False


def _remove(gauge: Any, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        gauge.remove(*labels)


async def _quietly_close(*clients: Any) -> None:
    for client in clients:
        if client is None:
            continue
        try:
            if isinstance(client, AIOKafkaConsumer):
                await client.stop()
            else:
                await client.close()
        except Exception:
            log.debug("closing a lag client failed", exc_info=True)


def source_topics(settings: Settings) -> list[str]:
    """The topics the agents consume (their lag is the pipeline's backlog)."""
    return [settings.topic_raw, settings.topic_segmented, settings.topic_enriched]


def install(app: Any, settings: Settings, topics: Iterable[str] | None = None) -> LagCollector:
    """Run a :class:`LagCollector` as a background task of ``app`` (every worker)."""
    interval = float(getattr(settings, "lag_interval_seconds", DEFAULT_INTERVAL_SECONDS))
    collector = LagCollector(
        bootstrap_servers=settings.bootstrap_servers,
        connection=kafka_client_kwargs(settings),
        group=str(app.conf.id),
        topics=list(topics if topics is not None else source_topics(settings)),
    )

    @app.task  # type: ignore[untyped-decorator]
    async def consumer_lag() -> None:
        await collector.run(interval)

    return collector
