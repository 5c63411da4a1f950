"""One feed or sitemap item -> its page fetched -> an envelope on ``news.raw``.

Shared by the RSS/Atom and sitemap connectors. For each item:

1. the key is the canonical URL of its link (else ``id:<entry id>``); an item whose key was
   settled (sent, skipped by policy, given up) with the same fingerprint (the entry's
   updated/published time) is not fetched again;
2. the page is fetched politely; a non-HTML page, a huge page or a binary body is skipped
   for good with its reason; a failure is counted and retried on the next poll, at most
   ``max_attempts`` times;
3. a page whose hash is the one sent last time is not sent again (fingerprint updated);
   otherwise the envelope goes to the producer and the item is marked sent when the broker
   acks it (a re-send of a known key counts as an update).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from streams.decode import META_CHARSET, canonical_url, looks_binary
from streams.ingest.config import IngestConfig
from streams.ingest.http import FetchError, FetchResult, PoliteFetcher, is_page_type
from streams.ingest.metrics import FAILED, FETCHES, SENT, SKIPPED
from streams.ingest.producer import Sink, key_for
from streams.ingest.redact import redact_url
from streams.ingest.state import SeenStore
from streams.logs import log_event

log = logging.getLogger("newsflow.ingest.items")

_LANG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


def iso_utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))


def struct_to_iso(value: time.struct_time | None) -> str | None:
    """feedparser's ``*_parsed`` (a UTC struct_time) -> ISO-8601 with Z."""
    if value is None:
        return None
    try:
        return iso_utc(datetime.fromtimestamp(calendar.timegm(value), UTC))
    except (OverflowError, ValueError, OSError):
        return None


def parse_date(value: str | None) -> str | None:
    """A W3C/ISO or RFC 822 date string -> ISO-8601 UTC with Z, or None."""
    if not value or not value.strip():
        return None
    from dateutil import parser as dateparser

    try:
        return iso_utc(dateparser.parse(value.strip()))
    except (ValueError, OverflowError, TypeError):
        return None


def language_tag(value: object) -> str | None:
    return value if isinstance(value, str) and _LANG.match(value) else None


def decode_body(content: bytes, charset: str | None) -> str | None:
    """Page bytes -> text (declared charset, else a <meta> charset, else UTF-8); None if the
    bytes are binary, not text."""
    if b"\x00" in content[:4096]:
        return None
    candidates = [c for c in (charset,) if c]
    m = META_CHARSET.search(content[:4096])
    if m:
        candidates.append(m.group(1).decode("ascii", "replace"))
    candidates.append("utf-8")
    text: str | None = None
    for cs in candidates:
        try:
            text = content.decode(cs)
            break
        except (LookupError, UnicodeDecodeError):
            continue
    if text is None:
        text = content.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    if looks_binary(text):
        return None
    return text


@dataclass(slots=True)
class FeedItem:
    """What a feed entry or sitemap ``<url>`` says about a story."""

    feed_url: str
    url: str | None = None
    entry_id: str | None = None
    title: str | None = None
    published_at: str | None = None
    updated_at: str | None = None
    source_name: str | None = None
    language: str | None = None
    summary: str | None = None  # used as the body when the entry has no link

    @property
    def key(self) -> str:
        if self.url:
            return canonical_url(self.url)
        return f"id:{self.entry_id}"

    @property
    def fingerprint(self) -> str:
        return self.updated_at or self.published_at or ""

    def envelope(self, body: str, content_type: str | None, fetched_at: str) -> dict[str, Any]:
        env: dict[str, Any] = {}
        if not self.url and self.entry_id:
            env["id"] = self.entry_id
        env["url"] = self.url
        env["content_type"] = content_type or None
        env["source"] = {
            "name": self.source_name,
            "url": self.url,
            "domain": urlsplit(self.url).hostname if self.url else None,
            "feed": redact_url(self.feed_url),  # no credentials of a private feed downstream
        }
        env["title"] = self.title
        env["published_at"] = self.published_at or self.updated_at
        env["fetched_at"] = fetched_at
        if self.language:
            env["language"] = self.language
        env["body"] = body
        return env


@dataclass(slots=True)
class Outcome:
    """What happened to one item; ``delivery`` is set when something was sent."""

    status: str  # sent | update | seen | unchanged | skipped | failed
    reason: str | None = None
    delivery: asyncio.Future[Any] | None = None

    @property
    def settled(self) -> bool:
        return self.status != "failed"


class ItemProcessor:
    def __init__(
        self,
        fetcher: PoliteFetcher,
        store: SeenStore,
        sink: Sink,
        config: IngestConfig,
        *,
        connector: str,
        max_message_bytes: int,
    ) -> None:
        self.fetcher = fetcher
        self.store = store
        self.sink = sink
        self.config = config
        self.connector = connector
        self.max_message_bytes = max_message_bytes
        self._in_flight: set[str] = set()

    async def fetch_listing(
        self, url: str, accept: Callable[[str], bool], kind: str
    ) -> FetchResult | FetchError:
        """Conditional GET of a feed or sitemap (``kind``) with its stored ETag/Last-Modified.

        Returns the result (``not_modified`` possibly set), or the fetch error after counting
        and logging it; the caller keeps the new validators once the listing settled."""
        etag, modified = self.store.get_validators(url)
        try:
            res = await self.fetcher.fetch(
                url,
                accept=accept,
                max_bytes=self.config.max_feed_bytes,
                etag=etag,
                last_modified=modified,
            )
        except FetchError as exc:
            (SKIPPED if exc.skip else FAILED).labels(
                connector=self.connector, reason=exc.reason
            ).inc()
            log_event(
                log,
                f"{kind} fetch failed",
                logging.WARNING,
                url=url,
                reason=exc.reason,
                detail=str(exc),
            )
            return exc
        result = "not_modified" if res.not_modified else "ok"
        FETCHES.labels(connector=self.connector, kind=kind, result=result).inc()
        return res

    def _skip(self, item: FeedItem, key: str, reason: str, detail: str = "") -> Outcome:
        self.store.mark_skipped(key, item.fingerprint, reason, item.feed_url)
        SKIPPED.labels(connector=self.connector, reason=reason).inc()
        log_event(
            log,
            "item skipped",
            logging.INFO,
            url=item.url,
            feed=item.feed_url,
            reason=reason,
            detail=detail,
        )
        return Outcome("skipped", reason)

    def _fail(self, item: FeedItem, key: str, reason: str, detail: str = "") -> Outcome:
        attempts = self.store.record_failure(
            key, item.fingerprint, reason, self.config.max_attempts, item.feed_url
        )
        FAILED.labels(connector=self.connector, reason=reason).inc()
        log_event(
            log,
            "item failed" if attempts < self.config.max_attempts else "item given up",
            logging.WARNING,
            url=item.url,
            feed=item.feed_url,
            reason=reason,
            attempts=attempts,
            detail=detail,
        )
        return Outcome("failed", reason)

    async def process(self, item: FeedItem) -> Outcome:
        key = item.key
        prev = self.store.get_item(key)
        if prev is not None and prev.settled and prev.fingerprint == item.fingerprint:
            return Outcome("seen")
        if key in self._in_flight:  # the same link twice in a feed, or in two feeds at once
            return Outcome("seen")
        self._in_flight.add(key)
        try:
            return await self._process(item, key, prev)
        finally:
            self._in_flight.discard(key)

    async def _process(self, item: FeedItem, key: str, prev: Any) -> Outcome:
        if item.url:
            try:
                res = await self.fetcher.fetch(item.url, accept=is_page_type)
            except FetchError as exc:
                if exc.skip:
                    return self._skip(item, key, exc.reason, str(exc))
                return self._fail(item, key, exc.reason, str(exc))
            FETCHES.labels(connector=self.connector, kind="page", result="ok").inc()
            body = decode_body(res.content, res.charset)
            if body is None:
                return self._skip(item, key, "binary_body")
            if not body.strip():
                return self._skip(item, key, "empty_body")
            content = res.content
            content_type = res.content_type or None
        elif item.summary and item.summary.strip():
            body, content_type = item.summary, None
            content = body.encode()
        else:
            return self._skip(item, key, "no_link")
        content_hash = hashlib.blake2b(content, digest_size=16).hexdigest()
        if prev is not None and prev.content_hash == content_hash:
            self.store.mark_sent(key, item.fingerprint, content_hash, item.feed_url)
            return Outcome("unchanged")
        envelope = item.envelope(body, content_type, now_iso())
        value = orjson.dumps(envelope)
        if len(value) > self.max_message_bytes:
            return self._skip(item, key, "too_large", f"envelope of {len(value)} bytes")
        update = prev is not None and prev.content_hash is not None
        kind = "update" if update else "new"
        fingerprint, feed, connector = item.fingerprint, item.feed_url, self.connector

        def delivered() -> None:
            self.store.mark_sent(key, fingerprint, content_hash, feed)
            SENT.labels(connector=connector, kind=kind).inc()

        fut = await self.sink.send(
            value, key_for(envelope), connector=self.connector, on_delivered=delivered
        )
        log_event(log, "item sent", logging.DEBUG, url=item.url, feed=feed, kind=kind)
        return Outcome("update" if update else "sent", delivery=fut)


async def settle(outcomes: list[Outcome]) -> bool:
    """Wait until every delivery of these outcomes is acked; True when all items are settled
    (nothing failed, nothing left to retry), which is when a feed's validators may be kept."""
    futures = [o.delivery for o in outcomes if o.delivery is not None]
    results = await asyncio.gather(*(asyncio.shield(f) for f in futures), return_exceptions=True)
    ok = all(not isinstance(r, BaseException) for r in results)
    return ok and all(o.settled for o in outcomes)
