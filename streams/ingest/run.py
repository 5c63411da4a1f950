"""Entry points behind ``newsflow ingest ...``: wire settings, store, fetcher and producer,
run a connector until it is done or SIGTERM/SIGINT arrives, then shut down gracefully.

Shutdown order: stop scheduling new polls, cancel polls in progress (an item not yet handed
to the producer is not marked sent, so it comes back next time), flush the producer (every
message already handed to it is delivered and recorded as sent), close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from streams.ingest.config import IngestConfig
from streams.ingest.files import Summary, backfill_jsonl, backfill_warc
from streams.ingest.folder import FolderWatcher
from streams.ingest.http import PoliteFetcher
from streams.ingest.producer import KafkaSink, MemorySink
from streams.ingest.rss import RssIngestor, load_feeds
from streams.ingest.sitemap import SitemapIngestor
from streams.ingest.state import SeenStore
from streams.logs import log_event
from streams.settings import Settings

log = logging.getLogger("newsflow.ingest")


class Context:
    """What a connector runs with; ``close()`` flushes the producer before the store closes."""

    def __init__(self, settings: Settings, config: IngestConfig, *, dry_run: bool = False) -> None:
        self.settings = settings
        self.config = config
        self.store = SeenStore(config.state_path(settings))
        self.sink: KafkaSink | MemorySink = (
            MemorySink(keep=False) if dry_run else KafkaSink(settings, config)
        )
        self.fetcher = PoliteFetcher(config)
        self.stop = asyncio.Event()

    async def start(self) -> None:
        from streams.kafka_io import ensure_topics

        if isinstance(self.sink, KafkaSink):
            await ensure_topics(self.settings)
        await self.sink.start()

    async def close(self) -> None:
        try:
            await self.sink.stop()
        finally:
            await self.fetcher.close()
            self.store.close()


async def run_with_signals(ctx: Context, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, ctx.stop.set)
            installed.append(sig)
    await ctx.start()
    task: asyncio.Task[Any] = asyncio.create_task(main())
    stopper = asyncio.create_task(ctx.stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            log_event(log, "stopping: finishing polls, then flushing the producer")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), ctx.config.grace)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return task.result() if not task.cancelled() else None
    finally:
        stopper.cancel()
        await ctx.close()
        for sig in installed:
            loop.remove_signal_handler(sig)
        log_event(log, "stopped", sent=getattr(ctx.sink, "sent", None))


def _serve_metrics(port: int | None, host: str) -> Any:
    """Serve ``/metrics`` on ``host`` (``NEWSFLOW_WEB_HOST``, loopback by default): only
    counters by connector, kind and reason, no URL or story text. Returns the server."""
    if not port:
        return None
    from prometheus_client import start_http_server

    server = start_http_server(port, addr=host)
    log_event(log, "metrics served", url=f"http://{host}:{port}/metrics")
    return server


def _poll(
    settings: Settings,
    config: IngestConfig,
    build: Callable[[Context], RssIngestor | SitemapIngestor],
    *,
    rounds: int | None,
    dry_run: bool,
) -> int:
    """Run a polling connector built on a fresh Context until stopped (or ``rounds`` polls)."""

    async def go() -> None:
        ctx = Context(settings, config, dry_run=dry_run)
        ing = build(ctx)
        await run_with_signals(ctx, lambda: ing.run(ctx.stop, rounds=rounds))

    asyncio.run(go())
    return 0


def ingest_rss(
    settings: Settings,
    config: IngestConfig,
    feeds_file: Path,
    *,
    rounds: int | None = None,
    metrics_port: int | None = None,
    dry_run: bool = False,
) -> int:
    feeds = load_feeds(feeds_file)
    _serve_metrics(metrics_port, settings.web_host)
    log_event(log, "polling feeds", feeds=len(feeds), interval=config.interval)
    return _poll(
        settings,
        config,
        lambda ctx: RssIngestor(
            feeds,
            fetcher=ctx.fetcher,
            store=ctx.store,
            sink=ctx.sink,
            config=config,
            max_message_bytes=settings.max_message_bytes,
        ),
        rounds=rounds,
        dry_run=dry_run,
    )


def ingest_sitemap(
    settings: Settings,
    config: IngestConfig,
    urls: list[str],
    *,
    rounds: int | None = None,
    metrics_port: int | None = None,
    dry_run: bool = False,
) -> int:
    _serve_metrics(metrics_port, settings.web_host)
    return _poll(
        settings,
        config,
        lambda ctx: SitemapIngestor(
            urls,
            fetcher=ctx.fetcher,
            store=ctx.store,
            sink=ctx.sink,
            config=config,
            max_message_bytes=settings.max_message_bytes,
        ),
        rounds=rounds,
        dry_run=dry_run,
    )


def ingest_folder(
    settings: Settings,
    config: IngestConfig,
    directory: Path,
    *,
    once: bool = False,
    interval: float = 1.0,
    done_dir: Path | None = None,
    metrics_port: int | None = None,
) -> int:
    _serve_metrics(metrics_port, settings.web_host)

    async def go() -> int:
        ctx = Context(settings, config)
        watcher = FolderWatcher(
            directory,
            sink=ctx.sink,
            store=ctx.store,
            config=config,
            max_message_bytes=settings.max_message_bytes,
            done_dir=done_dir,
        )
        log_event(log, "watching folder", path=str(directory), once=once)
        sent = await run_with_signals(
            ctx, lambda: watcher.run(ctx.stop, once=once, interval=interval)
        )
        return int(sent or 0)

    sent = asyncio.run(go())
    print(
        orjson.dumps({"summary": {"connector": "folder", "files": sent}}).decode(), file=sys.stderr
    )
    return 0


def ingest_file(
    settings: Settings,
    config: IngestConfig,
    kind: str,
    path: Path,
    *,
    progress: bool = True,
    restart: bool = False,
) -> int:
    async def go() -> Summary | None:
        ctx = Context(settings, config)

        async def main() -> Summary:
            if kind == "jsonl":
                return await backfill_jsonl(
                    path,
                    ctx.sink,
                    ctx.store,
                    max_message_bytes=settings.max_message_bytes,
                    progress=progress,
                    restart=restart,
                    stop=ctx.stop,
                )
            return await backfill_warc(
                path,
                ctx.sink,
                ctx.store,
                max_message_bytes=settings.max_message_bytes,
                max_page_bytes=config.max_page_bytes,
                progress=progress,
                restart=restart,
                stop=ctx.stop,
            )

        result: Summary | None = await run_with_signals(ctx, main)
        return result

    summary = asyncio.run(go())
    if summary is None:
        print(
            orjson.dumps(
                {"summary": {"connector": kind, "file": str(path), "stopped": True}}
            ).decode(),
            file=sys.stderr,
        )
        return 1
    print(orjson.dumps({"summary": summary.as_dict()}).decode(), file=sys.stderr)
    return 1 if summary.failed else 0
