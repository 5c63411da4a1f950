"""The polite fetcher against a local site: 304, 5xx with retries, timeouts, slow-loris,
redirects and loops, content types, size caps, per-host politeness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiohttp import web

from streams.ingest.config import IngestConfig
from streams.ingest.fakesite import FakeSite
from streams.ingest.http import FetchError, HostGate, PoliteFetcher, is_feed_type, is_page_type

FAST = IngestConfig(
    allowed_networks="127.0.0.1/32",  # the local test site; the default refuses loopback
    connect_timeout=1.0,
    read_timeout=0.5,
    deadline=1.5,
    retries=2,
    backoff_base=0.01,
    backoff_max=0.05,
    host_rate=1000.0,
    max_page_bytes=100_000,
    max_redirects=3,
)


@pytest.fixture(scope="module")
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


async def fetch(url: str, config: IngestConfig = FAST, **kw: object) -> object:
    f = PoliteFetcher(config)
    try:
        return await f.fetch(url, **kw)  # type: ignore[arg-type]
    finally:
        await f.close()


async def test_ok_and_conditional_get(site: FakeSite) -> None:
    site.set("/a", "<p>hello</p>", etag="auto", last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    f = PoliteFetcher(FAST)
    try:
        res = await f.fetch(site.url("/a"))
        assert res.status == 200 and res.content == b"<p>hello</p>"
        assert res.etag and res.last_modified and res.charset == "utf-8"
        again = await f.fetch(site.url("/a"), etag=res.etag, last_modified=res.last_modified)
        assert again.not_modified and again.content == b""
    finally:
        await f.close()
    assert site.conditional_hits["/a"] == 1


async def test_5xx_is_retried_then_succeeds(site: FakeSite) -> None:
    site.set("/flaky", "<p>ok</p>", fail_first=2)
    res = await fetch(site.url("/flaky"))
    assert res.content == b"<p>ok</p>"  # type: ignore[attr-defined]
    assert site.hits["/flaky"] == 3


async def test_5xx_forever_fails_after_bounded_retries(site: FakeSite) -> None:
    site.set("/down", "x", fail_first=10**6, fail_status=503)
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/down"))
    assert err.value.reason == "http_503" and not err.value.skip
    assert site.hits["/down"] == FAST.retries + 1


async def test_404_is_not_retried(site: FakeSite) -> None:
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/missing"))
    assert err.value.reason == "http_404" and site.hits["/missing"] == 1


async def test_slow_headers_time_out(site: FakeSite) -> None:
    site.set("/slow", "<p>late</p>", delay=3.0)
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/slow"), FAST.replace(retries=0))
    assert err.value.reason in {"timeout", "deadline"} and err.value.retryable
    assert time.monotonic() - started < 2.5


async def test_slow_loris_is_cut_by_the_deadline(site: FakeSite) -> None:
    # each byte arrives well within the read timeout, the whole body never does
    site.set("/loris", b"<p>" + b"z" * 200 + b"</p>", trickle=0.1)
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/loris"), FAST.replace(retries=0))
    assert err.value.reason == "deadline"
    assert time.monotonic() - started < FAST.deadline + 1.0


async def test_redirects_are_followed_and_bounded(site: FakeSite) -> None:
    site.set("/r1", redirect_to="/r2", redirect_status=301)
    site.set("/r2", redirect_to=site.url("/final"))
    site.set("/final", "<p>here</p>")
    res = await fetch(site.url("/r1"))
    assert res.content == b"<p>here</p>" and res.final_url.endswith("/final")  # type: ignore[attr-defined]
    for i in range(6):
        site.set(f"/chain{i}", redirect_to=f"/chain{i + 1}")
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/chain0"))
    assert err.value.reason == "too_many_redirects"


async def test_redirect_loop_is_detected(site: FakeSite) -> None:
    site.set("/loopa", redirect_to="/loopb")
    site.set("/loopb", redirect_to="/loopa")
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/loopa"))
    assert err.value.reason == "redirect_loop"
    assert site.hits["/loopa"] == 1 and site.hits["/loopb"] == 1


async def test_non_html_is_skipped_before_the_body(site: FakeSite) -> None:
    site.set("/doc.pdf", b"%PDF-1.4" + b"\0" * 1000, content_type="application/pdf")
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/doc.pdf"))
    assert err.value.reason == "content_type" and err.value.skip


async def test_huge_pages_are_capped(site: FakeSite) -> None:
    site.set("/huge-declared", b"x" * 200_000)
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/huge-declared"))
    assert err.value.reason == "too_large" and err.value.skip
    site.set("/huge-stream", stream_bytes=50_000_000)
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/huge-stream"))
    assert err.value.reason == "too_large"


async def test_connection_refused_is_a_network_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as err:
        await fetch(f"http://127.0.0.1:{port}/", FAST.replace(retries=1))
    assert err.value.reason == "network_error" and err.value.retryable


async def test_bad_url() -> None:
    with pytest.raises(FetchError) as err:
        await fetch("ftp://127.0.0.1/x")
    assert err.value.reason == "bad_url"


async def test_per_host_concurrency_and_rate(site: FakeSite) -> None:
    active = 0
    peak = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.Response(text="<p>ok</p>", content_type="text/html")

    site.set("/gate", handler=handler)
    f = PoliteFetcher(FAST.replace(host_concurrency=2))
    try:
        await asyncio.gather(*(f.fetch(site.url("/gate")) for _ in range(8)))
    finally:
        await f.close()
    assert peak == 2

    gate = HostGate(concurrency=5, rate=20.0)
    started = time.monotonic()

    async def one() -> None:
        async with gate:
            pass

    await asyncio.gather(*(one() for _ in range(6)))
    assert time.monotonic() - started >= 0.2  # 6 starts at 20/s: >= 5 intervals of 50 ms


def test_content_type_rules() -> None:
    assert is_page_type("text/html; charset=utf-8") and is_page_type("")
    assert not is_page_type("application/pdf") and not is_page_type("image/png")
    assert is_feed_type("application/rss+xml") and is_feed_type("text/xml")
    assert not is_feed_type("image/jpeg")
