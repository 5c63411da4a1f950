"""RSS 2.0 / Atom feeds (feedparser), polled on an interval with conditional GETs.

A feed's ETag / Last-Modified are kept only when every item of that poll was settled
(sent and acked, or skipped for good): if a page failed, the next poll gets the full feed
again and retries it, instead of a 304 that would hide the item.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from streams.ingest.config import IngestConfig
from streams.ingest.http import FetchError, PoliteFetcher, is_feed_type
from streams.ingest.items import (
    FeedItem,
    ItemProcessor,
    language_tag,
    settle,
    struct_to_iso,
)
from streams.ingest.metrics import FAILED, SKIPPED
from streams.ingest.producer import Sink
from streams.ingest.schedule import run_schedule
from streams.ingest.state import SeenStore
from streams.ingest.xmlsafe import UnsafeXml, screen_xml
from streams.logs import log_event

log = logging.getLogger("newsflow.ingest.rss")
CONNECTOR = "rss"


@dataclass(frozen=True, slots=True)
class FeedSpec:
    url: str
    name: str | None = None  # publisher name; default: the feed's own title


def _spec(item: object) -> FeedSpec:
    if isinstance(item, str):
        return FeedSpec(item.strip())
    if isinstance(item, dict) and isinstance(item.get("url"), str):
        name = item.get("name")
        return FeedSpec(item["url"].strip(), name if isinstance(name, str) else None)
    raise ValueError(f"a feed must be a URL or an object with 'url', got {item!r}")


def load_feeds(path: Path) -> list[FeedSpec]:
    """Feeds from a file: one URL per line (``#`` comments), or JSON/YAML: a list of URLs or
    of ``{url, name}`` objects, or an object with such a list under ``feeds``."""
    text = path.read_text(encoding="utf-8")
    doc: Any
    if path.suffix.lower() == ".json":
        doc = orjson.loads(text)
    elif path.suffix.lower() in {".yaml", ".yml"}:
        import yaml  # type: ignore[import-untyped, unused-ignore]

        doc = yaml.safe_load(text)
    else:
        doc = [
            line.split("#", 1)[0].strip()
            for line in text.splitlines()
            if line.split("#", 1)[0].strip()
        ]
    if isinstance(doc, dict):
        doc = doc.get("feeds", [])
    if not isinstance(doc, list):
        raise ValueError(f"{path}: expected a list of feeds")
    specs, seen = [], set()
    for item in doc:
        spec = _spec(item)
        if not spec.url.startswith(("http://", "https://")):
            raise ValueError(f"{path}: {spec.url!r} is not an http(s) URL")
        if spec.url not in seen:
            seen.add(spec.url)
            specs.append(spec)
    return specs


def entries_to_items(parsed: Any, feed_url: str, name: str | None, limit: int) -> list[FeedItem]:
    """feedparser's result -> items (first ``limit`` entries, duplicates of a link dropped)."""
    feed = parsed.get("feed", {})
    source_name = name or feed.get("title") or None
    language = language_tag(feed.get("language"))
    items: list[FeedItem] = []
    keys: set[str] = set()
    for entry in parsed.get("entries", [])[:limit]:
        link = entry.get("link") or None
        if link and not link.startswith(("http://", "https://")):
            link = None
        summary = None
        if entry.get("content"):
            summary = entry["content"][0].get("value")
        summary = summary or entry.get("summary")
        item = FeedItem(
            feed_url=feed_url,
            url=link,
            entry_id=entry.get("id") or None,
            title=entry.get("title") or None,
            published_at=struct_to_iso(entry.get("published_parsed")),
            updated_at=struct_to_iso(entry.get("updated_parsed")),
            source_name=source_name,
            language=language,
            summary=summary,
        )
        if not item.url and not item.entry_id:
            SKIPPED.labels(connector=CONNECTOR, reason="no_link").inc()
            log_event(log, "entry skipped", url=feed_url, reason="no_link", title=item.title)
            continue
        if item.key in keys:
            continue
        keys.add(item.key)
        items.append(item)
    return items


def parse_feed(content: bytes, content_type: str) -> Any:
    """feedparser's result; raises :class:`UnsafeXml` for a feed that declares entities."""
    import feedparser  # type: ignore[import-untyped, import-not-found, unused-ignore]

    screen_xml(content)
    return feedparser.parse(
        content, response_headers={"content-type": content_type or "application/xml"}
    )


class RssIngestor:
    def __init__(
        self,
        feeds: list[FeedSpec],
        *,
        fetcher: PoliteFetcher,
        store: SeenStore,
        sink: Sink,
        config: IngestConfig,
        max_message_bytes: int,
    ) -> None:
        self.feeds = {f.url: f for f in feeds}
        self.fetcher = fetcher
        self.store = store
        self.config = config
        self.items = ItemProcessor(
            fetcher,
            store,
            sink,
            config,
            connector=CONNECTOR,
            max_message_bytes=max_message_bytes,
        )

    async def poll(self, feed_url: str) -> list[str]:
        """Poll one feed; returns the items' statuses (for tests and the benchmark)."""
        spec = self.feeds.get(feed_url) or FeedSpec(feed_url)
        res = await self.items.fetch_listing(feed_url, is_feed_type, "feed")
        if isinstance(res, FetchError):
            return [f"feed:{res.reason}"]
        if res.not_modified:
            return ["feed:not_modified"]
        try:
            parsed = await asyncio.to_thread(parse_feed, res.content, res.content_type)
        except UnsafeXml as exc:
            FAILED.labels(connector=CONNECTOR, reason=exc.reason).inc()
            log_event(
                log,
                "feed refused",
                logging.WARNING,
                url=feed_url,
                reason=exc.reason,
                detail=str(exc)[:300],
            )
            return [f"feed:{exc.reason}"]
        if parsed.get("bozo") and not parsed.get("entries"):
            FAILED.labels(connector=CONNECTOR, reason="malformed_feed").inc()
            log_event(
                log,
                "feed does not parse",
                logging.WARNING,
                url=feed_url,
                reason="malformed_feed",
                detail=str(parsed.get("bozo_exception", ""))[:300],
            )
            return ["feed:malformed_feed"]
        if parsed.get("bozo"):
            log_event(
                log,
                "feed parsed with errors",
                logging.INFO,
                url=feed_url,
                reason="feed_not_well_formed",
                detail=str(parsed.get("bozo_exception", ""))[:300],
            )
        items = entries_to_items(parsed, feed_url, spec.name, self.config.max_items_per_feed)
        outcomes = await asyncio.gather(*(self.items.process(i) for i in items))
        if await settle(list(outcomes)):
            self.store.set_validators(feed_url, res.etag, res.last_modified)
        return [o.status for o in outcomes]

    async def run(self, stop: asyncio.Event, *, rounds: int | None = None) -> None:
        await run_schedule(CONNECTOR, list(self.feeds), self.poll, self.config, stop, rounds=rounds)
