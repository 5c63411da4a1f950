"""News sitemaps: ``sitemap.xml`` (``<urlset>``), sitemap indexes (``<sitemapindex>``,
followed recursively up to ``sitemap_max_depth`` levels and ``sitemap_max_files`` files, each
file at most once per poll) and Google News sitemaps (``news:publication_date``,
``news:title``, ``news:publication/news:name``, ``news:language``). Gzip-compressed sitemaps
are inflated with a size cap. XML is parsed without entities or network access, and a
sitemap that declares entities is refused before parsing (``unsafe_xml``, see xmlsafe.py).

A leaf sitemap (``<urlset>``) is fetched with a conditional GET; an index is always fetched
in full, since its children may change while it does not.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from streams.ingest.config import IngestConfig
from streams.ingest.http import FetchError, PoliteFetcher, is_sitemap_type
from streams.ingest.items import FeedItem, ItemProcessor, language_tag, parse_date, settle
from streams.ingest.metrics import FAILED, SKIPPED
from streams.ingest.producer import Sink
from streams.ingest.schedule import run_schedule
from streams.ingest.state import SeenStore
from streams.ingest.xmlsafe import UnsafeXml, screen_xml
from streams.logs import log_event

log = logging.getLogger("newsflow.ingest.sitemap")
CONNECTOR = "sitemap"


class SitemapError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class Sitemap:
    kind: str  # "index" | "urlset"
    children: list[str] = field(default_factory=list)  # an index's sitemaps
    entries: list[dict[str, str | None]] = field(default_factory=list)  # a urlset's URLs


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el: Any) -> str | None:
    if el is None or el.text is None:
        return None
    return str(el.text).strip() or None


def _child(el: Any, name: str) -> Any:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def inflate(content: bytes, limit: int) -> bytes:
    """Gunzip a ``.xml.gz`` sitemap, refusing to inflate past ``limit`` bytes."""
    if content[:2] != b"\x1f\x8b":
        return content
    d = zlib.decompressobj(wbits=47)
    try:
        out = d.decompress(content, limit + 1)
    except zlib.error as exc:
        raise SitemapError("bad_gzip", f"gzip sitemap does not inflate: {exc}") from exc
    if len(out) > limit or d.unconsumed_tail:
        raise SitemapError("too_large", f"gzip sitemap inflates past {limit} bytes")
    return out


def parse_sitemap(content: bytes, *, max_urls: int, max_bytes: int) -> Sitemap:
    from lxml import etree

    data = inflate(content, max_bytes)
    try:
        screen_xml(data)
    except UnsafeXml as exc:
        raise SitemapError(exc.reason, str(exc)) from exc
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=False, load_dtd=False
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SitemapError("malformed_xml", f"sitemap does not parse: {exc}") from exc
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = []
        for sm in root:
            if _local(sm.tag) == "sitemap":
                loc = _text(_child(sm, "loc"))
                if loc:
                    children.append(loc)
        return Sitemap("index", children=children)
    if kind != "urlset":
        raise SitemapError("not_a_sitemap", f"root element is <{kind}>, not urlset/sitemapindex")
    entries: list[dict[str, str | None]] = []
    for url_el in root:
        if _local(url_el.tag) != "url":
            continue
        if len(entries) >= max_urls:
            break
        loc = _text(_child(url_el, "loc"))
        if not loc:
            continue
        entry: dict[str, str | None] = {"loc": loc, "lastmod": _text(_child(url_el, "lastmod"))}
        news = _child(url_el, "news")
        if news is not None:
            pub = _child(news, "publication")
            entry["name"] = _text(_child(pub, "name")) if pub is not None else None
            entry["language"] = _text(_child(pub, "language")) if pub is not None else None
            entry["publication_date"] = _text(_child(news, "publication_date"))
            entry["title"] = _text(_child(news, "title"))
        entries.append(entry)
    return Sitemap("urlset", entries=entries)


def entry_to_item(entry: dict[str, str | None], sitemap_url: str) -> FeedItem:
    return FeedItem(
        feed_url=sitemap_url,
        url=entry["loc"],
        title=entry.get("title"),
        published_at=parse_date(entry.get("publication_date")),
        updated_at=parse_date(entry.get("lastmod")),
        source_name=entry.get("name"),
        language=language_tag(entry.get("language")),
    )


class SitemapIngestor:
    def __init__(
        self,
        roots: list[str],
        *,
        fetcher: PoliteFetcher,
        store: SeenStore,
        sink: Sink,
        config: IngestConfig,
        max_message_bytes: int,
    ) -> None:
        self.roots = list(dict.fromkeys(roots))
        self.fetcher = fetcher
        self.store = store
        self.config = config
        self.items = ItemProcessor(
            fetcher, store, sink, config, connector=CONNECTOR, max_message_bytes=max_message_bytes
        )

    async def _fetch(
        self, url: str, validators: dict[str, tuple[str | None, str | None]]
    ) -> Sitemap | None:
        res = await self.items.fetch_listing(url, is_sitemap_type, "sitemap")
        if isinstance(res, FetchError):
            return None
        if res.not_modified:
            return Sitemap("urlset")
        try:
            sitemap = await asyncio.to_thread(
                parse_sitemap,
                res.content,
                max_urls=self.config.sitemap_max_urls,
                max_bytes=self.config.max_feed_bytes,
            )
        except SitemapError as exc:
            FAILED.labels(connector=CONNECTOR, reason=exc.reason).inc()
            log_event(
                log,
                "sitemap does not parse",
                logging.WARNING,
                url=url,
                reason=exc.reason,
                detail=str(exc)[:300],
            )
            return None
        validators[url] = (res.etag, res.last_modified)
        return sitemap

    async def poll(self, root: str) -> list[str]:
        """Walk one sitemap (index) and process its URLs; returns the items' statuses."""
        validators: dict[str, tuple[str | None, str | None]] = {}
        queue: deque[tuple[str, int]] = deque([(root, 0)])
        visited: set[str] = set()
        statuses: list[str] = []
        while queue:
            url, depth = queue.popleft()
            if url in visited:
                continue
            if len(visited) >= self.config.sitemap_max_files:
                SKIPPED.labels(connector=CONNECTOR, reason="too_many_sitemaps").inc()
                log_event(
                    log,
                    "sitemap limit reached",
                    logging.WARNING,
                    url=url,
                    reason="too_many_sitemaps",
                )
                break
            visited.add(url)
            sitemap = await self._fetch(url, validators)
            if sitemap is None:
                statuses.append("sitemap:failed")
                continue
            if sitemap.kind == "index":
                for child in sitemap.children:
                    if depth + 1 > self.config.sitemap_max_depth:
                        SKIPPED.labels(connector=CONNECTOR, reason="too_deep").inc()
                        log_event(
                            log, "sitemap too deep", logging.WARNING, url=child, reason="too_deep"
                        )
                        continue
                    if child not in visited:
                        queue.append((child, depth + 1))
                continue
            items = [entry_to_item(e, url) for e in sitemap.entries]
            unique = list({i.key: i for i in items}.values())
            outcomes = list(await asyncio.gather(*(self.items.process(i) for i in unique)))
            if await settle(outcomes) and url in validators:
                self.store.set_validators(url, *validators[url])
            statuses.extend(o.status for o in outcomes)
        return statuses

    async def run(self, stop: asyncio.Event, *, rounds: int | None = None) -> None:
        await run_schedule(CONNECTOR, self.roots, self.poll, self.config, stop, rounds=rounds)
