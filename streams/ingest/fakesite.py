"""A fake news site on 127.0.0.1 (aiohttp, in its own thread) for the tests and the benchmark.

Routes are plain data set by the caller: a page or feed body with its content type, an ETag
/ Last-Modified (then If-None-Match / If-Modified-Since get a 304), failures for the first N
hits, a delay before the headers, a body trickled byte by byte (slow-loris), redirects, a
huge body streamed without Content-Length, or any aiohttp handler. ``hits`` counts requests
per path. Never listens on anything but the loopback address.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # "auto": a hash of the body
    last_modified: str | None = None
    fail_first: int = 0  # answer ``fail_status`` to the first N hits
    fail_status: int = 500
    delay: float = 0.0  # seconds before the response starts
    trickle: float = 0.0  # seconds between body bytes (slow-loris)
    redirect_to: str | None = None
    redirect_status: int = 302
    stream_bytes: int = 0  # a body of this many bytes, streamed without Content-Length
    handler: Handler | None = None


class FakeSite:
    def __init__(self, host: str = "127.0.0.1") -> None:
        if not host.startswith("127."):
            raise ValueError("the fake site listens on the loopback range only")
        self.host = host
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.conditional_hits: Counter[str] = Counter()
        self.ports: list[int] = []
        self.fallback: Handler | None = None  # serves paths without a route (benchmarks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # --- content -------------------------------------------------------------------------
    def base(self, index: int = 0) -> str:
        return f"http://{self.host}:{self.ports[index]}"

    def url(self, path: str, index: int = 0) -> str:
        return self.base(index) + path

    def set(self, path: str, body: bytes | str = b"", **kw: Any) -> Route:
        data = body.encode() if isinstance(body, str) else body
        route = Route(body=data, **kw)
        self.routes[path] = route
        return route

    # --- server --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.path_qs in self.routes else request.path
        self.hits[path] += 1
        route = self.routes.get(path)
        if route is None:
            if self.fallback is not None:
                return await self.fallback(request)
            return web.Response(status=404, text="not found")
        if route.handler is not None:
            return await route.handler(request)
        if route.delay:
            await asyncio.sleep(route.delay)
        if self.hits[path] <= route.fail_first:
            return web.Response(status=route.fail_status, text="failing on purpose")
        if route.redirect_to is not None:
            return web.Response(
                status=route.redirect_status, headers={"Location": route.redirect_to}
            )
        headers = dict(route.headers)
        etag = route.etag
        if etag == "auto":
            etag = '"' + hashlib.blake2b(route.body, digest_size=8).hexdigest() + '"'
        if etag:
            headers["ETag"] = etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if (etag and inm == etag) or (
            route.last_modified and not etag and ims == route.last_modified
        ):
            self.conditional_hits[path] += 1
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = route.content_type
        if route.stream_bytes or route.trickle:
            resp = web.StreamResponse(status=route.status, headers=headers)
            await resp.prepare(request)
            if route.trickle:
                for i in range(len(route.body)):
                    await resp.write(route.body[i : i + 1])
                    await asyncio.sleep(route.trickle)
            else:
                chunk = b"<p>" + b"x" * 65_530 + b"</p>\n"
                sent = 0
                while sent < route.stream_bytes:
                    await resp.write(chunk)
                    sent += len(chunk)
            await resp.write_eof()
            return resp
        return web.Response(status=route.status, body=route.body, headers=headers)

    def start(self, ports: int = 1) -> FakeSite:
        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
            loop.run_until_complete(runner.setup())
            for _ in range(ports):
                site = web.TCPSite(runner, self.host, 0, backlog=1024)
                loop.run_until_complete(site.start())
                server = site._server
                assert server is not None
                sockets = getattr(server, "sockets", None) or []
                self.ports.append(int(sockets[0].getsockname()[1]))
            self._runner = runner
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fakesite", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake site did not start in 10 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeSite:
        return self.start() if not self.ports else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss(title: str, items: list[dict[str, str]], *, link: str = "http://example.invalid/") -> str:
    """An RSS 2.0 document; each item: title, link, guid, pubDate, description (all optional)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>{link}</link><description>test feed</description>",
        "<language>en-us</language>",
    ]
    for it in items:
        parts.append("<item>")
        for tag in ("title", "link", "guid", "pubDate", "description"):
            if tag in it:
                parts.append(f"<{tag}>{it[tag]}</{tag}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def atom(title: str, entries: list[dict[str, str]]) -> str:
    """An Atom 1.0 document; each entry: title, link, id, updated, published, summary."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{title}</title><id>urn:test:{title}</id><updated>2024-01-01T00:00:00Z</updated>",
    ]
    for e in entries:
        parts.append("<entry>")
        if "title" in e:
            parts.append(f"<title>{e['title']}</title>")
        if "link" in e:
            parts.append(f'<link rel="alternate" href="{e["link"]}"/>')
        for tag in ("id", "updated", "published", "summary"):
            if tag in e:
                parts.append(f"<{tag}>{e[tag]}</{tag}>")
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts)


def article(title: str, paragraphs: int = 3, seed: str = "") -> str:
    """A small HTML story page."""
    body = "\n".join(
        f"<p>{title}: paragraph {i} of the story {seed}. The council met on Tuesday and "
        f"voted to fund the new bridge, officials said.</p>"
        for i in range(paragraphs)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    )
