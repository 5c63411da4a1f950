"""The Faust app, its topics and tables, built from :class:`streams.settings.Settings`.

Every topic carries raw bytes (``value_serializer='raw'``): decoding happens inside the
agents, so a message that does not decode reaches ``news.dlq`` with its reason instead of
being logged and skipped by Faust's own decoder.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TopicT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import lag
from streams.consumer import GuardedApp
from streams.kafka_io import ssl_context
from streams.logs import logging_config
from streams.settings import Settings

# Room for headers and the record envelope on top of the largest accepted payload.
REQUEST_OVERHEAD = 1_048_576


@dataclass(frozen=True, slots=True)
class Topics:
    raw: TopicT
    segmented: TopicT
    enriched: TopicT
    stories: TopicT
    dlq: TopicT


@dataclass(frozen=True, slots=True)
class Tables:
    stories: Any
    fingerprints: Any
    urls: Any


def create_app(settings: Settings) -> tuple[faust.App, Topics, Tables]:
    app = GuardedApp(
        settings.app_id,
        broker=settings.broker,
        store=settings.store,
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        # The web server is for /metrics; Faust's table and router views would let anyone who
        # reaches it look dedup state up by key (which URLs were seen, under which story id).
        web_tables_enabled=False,
        web_router_enabled=False,
        producer_max_request_size=settings.max_message_bytes + REQUEST_OVERHEAD,
        consumer_max_fetch_size=settings.max_message_bytes + REQUEST_OVERHEAD,
        producer_compression_type="lz4" if _has_lz4() else None,
        producer_linger_ms=5,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=1024,
        logging_config=logging_config(settings),
        processing_guarantee=settings.processing_guarantee,
        broker_credentials=broker_credentials(settings),
    )

    def topic(name: str, partitions: int) -> TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
        )

    topics = Topics(
        raw=topic(settings.topic_raw, settings.partitions),
        segmented=topic(settings.topic_segmented, settings.partitions),
        enriched=topic(settings.topic_enriched, settings.dedup_partitions),
        stories=topic(settings.topic_stories, settings.partitions),
        dlq=topic(settings.topic_dlq, settings.partitions),
    )

    def table(name: str) -> Any:
        # Keys are str, values raw bytes (the app's "raw" serializers) on a RocksDB store.
        return app.Table(
            name,
            default=None,
            partitions=settings.dedup_partitions,
            key_type=str,
            value_type=bytes,
        )

    tables = Tables(
        stories=table("dedup-stories"),
        fingerprints=table("dedup-fingerprints"),
        urls=table("dedup-urls"),
    )

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    # Consumer lag per topic-partition of the agents' sources, refreshed in the background.
    lag.install(
        app,
        settings,
        [
            topics.raw.get_topic_name(),
            topics.segmented.get_topic_name(),
            topics.enriched.get_topic_name(),
        ],
    )

    return app, topics, tables


def broker_credentials(settings: Settings) -> faust.auth.Credentials | None:
    """Faust's form of the connection security settings (the same as
    ``streams.kafka_io.kafka_client_kwargs`` gives the project's own aiokafka clients)."""
    context = ssl_context(settings)
    if settings.uses_sasl:
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,  # set for SASL_SSL
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def _has_lz4() -> bool:
    return importlib.util.find_spec("lz4") is not None
