"""Sitemaps: urlset, index (recursive, bounded, loop-safe), Google News fields, gzip,
malformed XML, and the seen-store across polls."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.ingest.config import IngestConfig
from streams.ingest.fakesite import FakeSite, article
from streams.ingest.http import PoliteFetcher
from streams.ingest.producer import MemorySink
from streams.ingest.sitemap import SitemapError, SitemapIngestor, inflate, parse_sitemap
from streams.ingest.state import SeenStore

CONFIG = IngestConfig(
    allowed_networks="127.0.0.1/32",  # the local test site; the default refuses loopback
    read_timeout=0.5, deadline=1.5, retries=1, backoff_base=0.01, host_rate=1000.0, spread=False
)
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def news_sitemap(urls: list[tuple[str, str, str]]) -> str:
    rows = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Daily Test</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{date}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
        for loc, date, title in urls
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS} {NEWS_NS}>{rows}</urlset>'


def index(children: list[str]) -> str:
    rows = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return f'<?xml version="1.0"?><sitemapindex {NS}>{rows}</sitemapindex>'


@pytest.fixture()
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


async def run(site: FakeSite, tmp: Path, roots: list[str], sink: MemorySink, config: IngestConfig = CONFIG) -> list[str]:
    store = SeenStore(tmp / "seen.sqlite3")
    fetcher = PoliteFetcher(config)
    ing = SitemapIngestor(roots, fetcher=fetcher, store=store, sink=sink, config=config, max_message_bytes=10**6)
    try:
        return [s for r in roots for s in await ing.poll(r)]
    finally:
        await fetcher.close()
        store.close()


def test_parse_news_sitemap() -> None:
    sm = parse_sitemap(
        news_sitemap([("http://x.test/a", "2024-03-01T12:00:00+02:00", "A &amp; B")]).encode(),
        max_urls=10,
        max_bytes=10**6,
    )
    assert sm.kind == "urlset"
    assert sm.entries == [
        {
            "loc": "http://x.test/a",
            "lastmod": None,
            "name": "Daily Test",
            "language": "en",
            "publication_date": "2024-03-01T12:00:00+02:00",
            "title": "A & B",
        }
    ]


def test_parse_rejects_bad_xml_and_entities() -> None:
    with pytest.raises(SitemapError) as err:
        parse_sitemap(b"<urlset><url><loc>x</loc>", max_urls=10, max_bytes=1000)
    assert err.value.reason == "malformed_xml"
    with pytest.raises(SitemapError) as err:
        parse_sitemap(b"<html><body>hi</body></html>", max_urls=10, max_bytes=1000)
    assert err.value.reason == "not_a_sitemap"
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<urlset><url><loc>&e;</loc></url></urlset>"
    )
    with pytest.raises(SitemapError) as err:  # more in tests/unit/test_security_xml.py
        parse_sitemap(xxe, max_urls=10, max_bytes=10_000)
    assert err.value.reason == "unsafe_xml" and "root:" not in str(err.value)


def test_gzip_bomb_is_capped() -> None:
    bomb = gzip.compress(b"<" * 5_000_000)
    with pytest.raises(SitemapError) as err:
        inflate(bomb, 100_000)
    assert err.value.reason == "too_large"
    assert inflate(gzip.compress(b"<urlset/>"), 1000) == b"<urlset/>"


async def test_index_recursion_news_fields_and_restart(site: FakeSite, tmp_path: Path) -> None:
    for i in range(4):
        site.set(f"/n/{i}", article(f"News {i}"))
    site.set("/doc.pdf", b"%PDF", content_type="application/pdf")
    site.set(
        "/news-1.xml",
        news_sitemap([(site.url(f"/n/{i}"), "2024-03-01T12:00:00Z", f"News {i}") for i in range(2)]),
        content_type="application/xml",
        etag="auto",
    )
    site.set(
        "/news-2.xml.gz",
        gzip.compress(news_sitemap([(site.url("/n/2"), "2024-03-02", "News 2"), (site.url("/doc.pdf"), "2024-03-02", "PDF")]).encode()),
        content_type="application/x-gzip",
    )
    site.set("/sub-index.xml", index([site.url("/news-2.xml.gz"), site.url("/sitemap-index.xml")]))
    site.set("/sitemap-index.xml", index([site.url("/news-1.xml"), site.url("/sub-index.xml"), site.url("/broken.xml")]))
    site.set("/broken.xml", "<urlset><url><loc>", content_type="application/xml")
    sink = MemorySink()
    statuses = await run(site, tmp_path, [site.url("/sitemap-index.xml")], sink)
    assert sorted(statuses) == ["sent", "sent", "sent", "sitemap:failed", "skipped"]
    envs = {e["url"]: e for e in sink.envelopes()}
    e0 = envs[site.url("/n/0")]
    assert e0["title"] == "News 0" and e0["published_at"] == "2024-03-01T12:00:00Z"
    assert e0["source"]["name"] == "Daily Test" and e0["source"]["feed"] == site.url("/news-1.xml")
    assert e0["language"] == "en"
    assert envs[site.url("/n/2")]["published_at"] == "2024-03-02T00:00:00Z"
    assert site.hits["/sitemap-index.xml"] == 1  # the loop back to the index is not followed

    # restart: nothing again; the leaf with an ETag answers 304
    statuses = await run(site, tmp_path, [site.url("/sitemap-index.xml")], sink)
    assert "sent" not in statuses and len(sink.messages) == 3
    assert site.conditional_hits["/news-1.xml"] == 1

    # a new URL in a leaf sitemap is picked up on the next poll
    site.set(
        "/news-1.xml",
        news_sitemap([(site.url(f"/n/{i}"), "2024-03-01T12:00:00Z", f"News {i}") for i in (0, 1, 3)]),
        content_type="application/xml",
        etag="auto",
    )
    statuses = await run(site, tmp_path, [site.url("/sitemap-index.xml")], sink)
    assert statuses.count("sent") == 1 and sink.envelopes()[-1]["url"] == site.url("/n/3")


async def test_depth_and_file_limits(site: FakeSite, tmp_path: Path) -> None:
    for i in range(10):
        site.set(f"/deep/{i}.xml", index([site.url(f"/deep/{i + 1}.xml")]))
    sink = MemorySink()
    await run(site, tmp_path, [site.url("/deep/0.xml")], sink, CONFIG.replace(sitemap_max_depth=3))
    assert site.hits["/deep/3.xml"] == 1 and site.hits["/deep/4.xml"] == 0
    wide = index([site.url(f"/w/{i}.xml") for i in range(50)])
    site.set("/wide.xml", wide)
    for i in range(50):
        site.set(f"/w/{i}.xml", news_sitemap([]))
    await run(site, tmp_path, [site.url("/wide.xml")], sink, CONFIG.replace(sitemap_max_files=5))
    assert sum(site.hits[f"/w/{i}.xml"] for i in range(50)) == 4
