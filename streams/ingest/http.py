"""A polite HTTP fetcher (httpx.AsyncClient) that never hangs and never floods a host.

- per host (``host:port``): at most ``host_concurrency`` requests at once and at most
  ``host_rate`` request starts per second;
- timeouts on connect and on every read, plus an overall deadline per request (headers and
  body), so a slow-loris server that trickles bytes is cut off;
- retries with exponential backoff and jitter on 5xx, 408, 429 (``Retry-After`` honoured up
  to ``backoff_max``), timeouts and network errors; never on other 4xx;
- redirects followed by hand, each hop through the host's gate, at most ``max_redirects``,
  and a loop is detected at once;
- the content type is checked before the body is read (a PDF link costs one response head),
  and the body is capped at ``max_bytes`` (Content-Length first, then while streaming, on the
  decoded bytes, inflated here never more than the cap allows: a gzip bomb is cut off after
  ``max_bytes``, not after a whole network read's worth of inflation);
- conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from stored validators, and a
  304 comes back as ``not_modified``;
- only http(s) URLs, and only public addresses (``streams/ingest/guard.py``): every
  connection, for every request and redirect hop, is made by a network backend that resolves
  the name, refuses private/loopback/link-local/... answers unless the settings allow them
  (``NEWSFLOW_INGEST_ALLOW_PRIVATE``, ``NEWSFLOW_INGEST_ALLOWED_NETWORKS``) and connects to
  the checked address (no DNS rebinding). A refusal is ``blocked_address``, never retried.

Failures raise :class:`FetchError` with a short ``reason`` for logs and metrics.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import re
import ssl
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from streams.ingest.config import IngestConfig
from streams.ingest.guard import BlockedAddress, GuardedTransport, Resolver, parse_ip
from streams.ingest.metrics import HTTP_RETRIES
from streams.logs import log_event

log = logging.getLogger("newsflow.ingest.http")

# httpcore tries `import sniffio` on every request; when sniffio is not installed each try
# is a failed import that scans sys.path (~2 ms of CPU per request, measured). Recording the
# absence once makes the failure instant; nothing can use a module that is not installed.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.I)


class FetchError(Exception):
    """A fetch that did not give a usable body.

    ``skip`` marks a policy decision (wrong content type, too large): the item is left out
    for good. ``retryable`` marks a transient failure worth another try."""

    def __init__(
        self,
        reason: str,
        url: str,
        message: str = "",
        *,
        retryable: bool = False,
        skip: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{reason}: {url}" + (f" ({message})" if message else ""))
        self.reason = reason
        self.url = url
        self.retryable = retryable
        self.skip = skip
        self.retry_after = retry_after


@dataclass(slots=True)
class FetchResult:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    redirects: list[str] = field(default_factory=list)

    @property
    def charset(self) -> str | None:
        m = _CHARSET.search(self.content_type)
        return m.group(1) if m else None

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_BINARY_TYPES = {
    "application/pdf",
    "application/zip",
    "application/octet-stream",
    "application/x-gzip",
    "application/gzip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/x-shockwave-flash",
    "application/epub+zip",
}


def is_page_type(content_type: str) -> bool:
    """A story page: HTML, XHTML or plain text (no header: decide from the body later)."""
    mt = media_type(content_type)
    return mt in {"", "text/html", "application/xhtml+xml", "text/plain"}


def is_feed_type(content_type: str) -> bool:
    """A feed: XML of any flavour, or text (servers label feeds loosely); never binaries."""
    mt = media_type(content_type)
    return not (mt.startswith(_BINARY_PREFIXES) or mt in _BINARY_TYPES)


def is_sitemap_type(content_type: str) -> bool:
    """A sitemap: like a feed, plus gzip-compressed sitemaps (``.xml.gz``)."""
    mt = media_type(content_type)
    return is_feed_type(content_type) or mt in {
        "application/x-gzip",
        "application/gzip",
        "application/octet-stream",
    }


class HostGate:
    """At most ``concurrency`` requests at once and ``rate`` request starts per second."""

    def __init__(self, concurrency: int, rate: float) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._users = 0  # requests holding or waiting for the gate

    @property
    def idle(self) -> bool:
        return self._users == 0

    async def __aenter__(self) -> None:
        self._users += 1
        try:
            await self._sem.acquire()
        except BaseException:
            self._users -= 1
            raise
        try:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self._sem.release()
            self._users -= 1
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sem.release()
        self._users -= 1


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class PoliteFetcher:
    """One small httpx connection pool per host: httpcore's pool does work proportional to
    (requests x connections) on every request, so one big shared pool gets quadratically
    slower with many hosts (measured: 10 ms of CPU per request at 64 connections); a pool
    of ``host_concurrency`` connections per host keeps it at ~2 ms. Idle hosts' pools are
    closed when more than ``MAX_POOLS`` are open."""

    MAX_POOLS = 512

    def __init__(
        self,
        config: IngestConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        """``transport`` replaces the guarded one (then only IP literals are checked);
        ``resolve`` replaces the event loop's ``getaddrinfo`` (tests)."""
        self.config = config
        self.policy = config.address_policy()
        self._resolve = resolve
        self._ssl: ssl.SSLContext | None = None
        self._timeout = httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.read_timeout,
            pool=config.deadline,
        )
        self._transport = transport
        self._pools: OrderedDict[str, tuple[HostGate, httpx.AsyncClient]] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def _new_client(self) -> httpx.AsyncClient:
        n = self.config.host_concurrency
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=30.0)
        transport = self._transport
        if transport is None:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context(trust_env=False)
            transport = GuardedTransport(
                self.policy, limits=limits, ssl_context=self._ssl, resolve=self._resolve
            )
        return httpx.AsyncClient(
            timeout=self._timeout,
            follow_redirects=False,
            headers={"User-Agent": self.config.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=limits,
            trust_env=False,
            transport=transport,
        )

    async def close(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        await asyncio.gather(*(c.aclose() for _, c in pools), return_exceptions=True)
        await asyncio.gather(*self._closing, return_exceptions=True)

    def _pool(self, url: str) -> tuple[HostGate, httpx.AsyncClient]:
        host = urlsplit(url).netloc.lower()
        pool = self._pools.get(host)
        if pool is None:
            pool = self._pools[host] = (
                HostGate(self.config.host_concurrency, self.config.host_rate),
                self._new_client(),
            )
            self._evict()
        else:
            self._pools.move_to_end(host)
        return pool

    def _evict(self) -> None:
        excess = len(self._pools) - self.MAX_POOLS
        for host in list(self._pools)[:-1]:
            if excess <= 0:
                break
            gate, client = self._pools[host]
            if gate.idle:
                del self._pools[host]
                task = asyncio.create_task(client.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
                excess -= 1

    async def fetch(
        self,
        url: str,
        *,
        accept: Callable[[str], bool] = is_page_type,
        max_bytes: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """GET ``url`` politely; raise :class:`FetchError` when no usable body comes back."""
        cfg = self.config
        limit = max_bytes if max_bytes is not None else cfg.max_page_bytes
        attempt = 0
        while True:
            try:
                return await self._follow(url, accept, limit, etag, last_modified)
            except FetchError as exc:
                if not exc.retryable or attempt >= cfg.retries:
                    raise
                delay = min(cfg.backoff_max, cfg.backoff_base * 2**attempt)
                delay *= random.uniform(0.5, 1.5)
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, cfg.backoff_max))
                attempt += 1
                HTTP_RETRIES.labels(reason=exc.reason).inc()
                log_event(
                    log,
                    "retrying",
                    logging.DEBUG,
                    url=url,
                    reason=exc.reason,
                    attempt=attempt,
                    delay=round(delay, 3),
                )
                await asyncio.sleep(delay)

    async def _follow(
        self,
        url: str,
        accept: Callable[[str], bool],
        limit: int,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        current = url
        seen = {url}
        hops: list[str] = []
        while True:
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError("bad_url", current, "only http(s) URLs are fetched")
            # IP literals are refused here, before any pool or gate; host names are checked
            # on their DNS answers when the connection is made (GuardedBackend).
            literal = parse_ip(parts.hostname)
            if literal is not None and not self.policy.allows(literal):
                raise FetchError(
                    "blocked_address",
                    current,
                    str(BlockedAddress(parts.hostname, str(literal))),
                    skip=True,
                )
            result, location = await self._once(current, accept, limit, etag, last_modified)
            if location is None:
                assert result is not None
                result.url, result.redirects = url, hops
                return result
            nxt = urljoin(current, location)
            if nxt in seen:
                raise FetchError("redirect_loop", url, f"{current} -> {nxt} was already visited")
            if len(hops) >= self.config.max_redirects:
                raise FetchError(
                    "too_many_redirects", url, f"more than {self.config.max_redirects} redirects"
                )
            hops.append(nxt)
            seen.add(nxt)
            current = nxt

    async def _once(
        self,
        url: str,
        accept: Callable[[str], bool],
        limit: int,
        etag: str | None,
        last_modified: str | None,
    ) -> tuple[FetchResult | None, str | None]:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        gate, client = self._pool(url)
        async with gate:
            try:
                async with asyncio.timeout(self.config.deadline):
                    return await self._request(client, url, headers, accept, limit)
            except BlockedAddress as exc:
                raise FetchError("blocked_address", url, str(exc), skip=True) from exc
            except TimeoutError as exc:
                raise FetchError(
                    "deadline",
                    url,
                    f"no complete response in {self.config.deadline:g} s",
                    retryable=True,
                ) from exc
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", url, type(exc).__name__, retryable=True) from exc
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise FetchError("bad_url", url, str(exc)) from exc
            except httpx.DecodingError as exc:
                raise FetchError("bad_encoding", url, str(exc)) from exc
            except httpx.TransportError as exc:
                raise FetchError(
                    "network_error", url, f"{type(exc).__name__}: {exc}", retryable=True
                ) from exc

    async def _request(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        accept: Callable[[str], bool],
        limit: int,
    ) -> tuple[FetchResult | None, str | None]:
        async with client.stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            if status in _REDIRECTS:
                location = resp.headers.get("location")
                if not location:
                    raise FetchError("bad_redirect", url, f"{status} without Location")
                return None, location
            base = FetchResult(
                url=url,
                final_url=url,
                status=status,
                content_type=resp.headers.get("content-type", ""),
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
            )
            if status == 304:
                base.not_modified = True
                return base, None
            if status in _RETRY_STATUS:
                raise FetchError(
                    f"http_{status}",
                    url,
                    retryable=True,
                    retry_after=_retry_after(resp.headers.get("retry-after")),
                )
            if status >= 400 or status < 200:
                raise FetchError(f"http_{status}", url)
            if status != 200:
                raise FetchError("unexpected_status", url, str(status))
            if not accept(base.content_type):
                raise FetchError(
                    "content_type", url, base.content_type or "no content type", skip=True
                )
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise FetchError(
                    "too_large", url, f"Content-Length {declared} > {limit}", skip=True
                )
            decoder = _Inflater(url, resp.headers.get("content-encoding", ""), limit)
            buf = bytearray()
            async for chunk in resp.aiter_raw():
                buf += decoder.decode(chunk, limit - len(buf))
                if len(buf) > limit:
                    raise FetchError("too_large", url, f"body over {limit} bytes", skip=True)
            buf += decoder.flush()
            if len(buf) > limit:
                raise FetchError("too_large", url, f"body over {limit} bytes", skip=True)
            base.content = bytes(buf)
            return base, None


class _Inflater:
    """Content-Encoding decoding that never inflates past the cap: httpx's own decoder
    inflates a whole network read at once (a 64 KiB read of a gzip bomb is ~64 MB), so the
    raw bytes are read and inflated here with ``max_length`` = what is left under the cap."""

    def __init__(self, url: str, content_encoding: str, limit: int) -> None:
        self.url = url
        encoding = content_encoding.strip().lower()
        self._zlib: Any = None
        self._deflate = False
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._deflate = True  # zlib-wrapped, or raw from some servers: seen on first bytes
        elif encoding not in ("", "identity"):
            raise FetchError("bad_encoding", url, f"Content-Encoding {content_encoding!r}")

    def decode(self, chunk: bytes, room: int) -> bytes:
        if self._deflate and self._zlib is None:
            zlib_header = (
                len(chunk) >= 2 and chunk[0] & 0x0F == 8 and (chunk[0] << 8 | chunk[1]) % 31 == 0
            )
            self._zlib = zlib.decompressobj(
                wbits=zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
            )
        if self._zlib is None:
            return chunk
        try:
            # at most room + 1 bytes: one more than fits is enough to know it is too large
            # (then the rest of the chunk stays unconsumed and is never inflated)
            return bytes(self._zlib.decompress(chunk, max(room, 0) + 1))
        except zlib.error as exc:
            raise FetchError("bad_encoding", self.url, str(exc)) from exc

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        try:
            return bytes(self._zlib.flush())
        except zlib.error as exc:
            raise FetchError("bad_encoding", self.url, str(exc)) from exc
