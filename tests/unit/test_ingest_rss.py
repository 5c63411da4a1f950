"""The RSS/Atom connector end to end against a local site, with an in-memory sink: new
items sent with their metadata, a restart sends nothing again, updates are re-sent, 304s,
malformed feeds, duplicates, non-HTML links, failures retried on the next poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from streams.decode import canonical_url, decode_message
from streams.ingest.config import IngestConfig
from streams.ingest.fakesite import FakeSite, article, atom, rss
from streams.ingest.http import PoliteFetcher
from streams.ingest.producer import MemorySink
from streams.ingest.rss import FeedSpec, RssIngestor, load_feeds
from streams.ingest.state import SeenStore

CONFIG = IngestConfig(
    allowed_networks="127.0.0.1/32",  # the local test site; the default refuses loopback
    read_timeout=0.5,
    deadline=1.5,
    retries=1,
    backoff_base=0.01,
    backoff_max=0.05,
    host_rate=1000.0,
    max_page_bytes=50_000,
    spread=False,
    max_attempts=2,
)
DATE1 = "Tue, 02 Jan 2024 10:00:00 GMT"
DATE2 = "Wed, 03 Jan 2024 11:30:00 GMT"


@pytest.fixture()
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


class Harness:
    def __init__(self, site: FakeSite, tmp: Path, feeds: list[str]) -> None:
        self.site, self.tmp, self.feeds = site, tmp, feeds
        self.sink = MemorySink()

    async def poll(self, rounds: int = 1) -> list[list[str]]:
        store = SeenStore(self.tmp / "seen.sqlite3")  # a new process each time: a restart
        fetcher = PoliteFetcher(CONFIG)
        ing = RssIngestor(
            [FeedSpec(u) for u in self.feeds],
            fetcher=fetcher,
            store=store,
            sink=self.sink,
            config=CONFIG,
            max_message_bytes=1_000_000,
        )
        try:
            out = []
            for _ in range(rounds):
                out.append([s for f in self.feeds for s in await ing.poll(f)])
            return out
        finally:
            await fetcher.close()
            await self.sink.stop()
            store.close()


@pytest.fixture()
async def news(site: FakeSite, tmp_path: Path) -> AsyncIterator[Harness]:
    for i in range(3):
        site.set(f"/story/{i}", article(f"Story {i}"))
    site.set("/doc.pdf", b"%PDF-1.4 binary", content_type="application/pdf")
    items = [
        {"title": f"Story {i}", "link": site.url(f"/story/{i}"), "pubDate": DATE1}
        for i in range(3)
    ]
    items.append(dict(items[0]))  # duplicate entry
    items.append({"title": "A report", "link": site.url("/doc.pdf"), "pubDate": DATE1})
    site.set("/feed.xml", rss("Test News", items), content_type="application/rss+xml", etag="auto")
    yield Harness(site, tmp_path, [site.url("/feed.xml")])


async def test_new_items_are_sent_once_with_metadata(news: Harness) -> None:
    site = news.site
    (statuses,) = await news.poll()
    assert sorted(statuses) == ["sent", "sent", "sent", "skipped"]  # duplicate entry dropped
    assert len(news.sink.messages) == 3
    envs = news.sink.envelopes()
    by_url = {e["url"]: e for e in envs}
    e0 = by_url[site.url("/story/0")]
    assert e0["title"] == "Story 0"
    assert e0["published_at"] == "2024-01-02T10:00:00Z"
    assert e0["fetched_at"].endswith("Z")
    assert e0["source"] == {
        "name": "Test News",
        "url": site.url("/story/0"),
        "domain": "127.0.0.1",
        "feed": site.url("/feed.xml"),
    }
    assert e0["content_type"].startswith("text/html")
    assert e0["language"] == "en-us"
    assert "id" not in e0
    assert "<h1>Story 0</h1>" in e0["body"]
    # keyed by canonical URL, and the pipeline decodes it with a URL-derived id
    key, value = news.sink.messages[0]
    env = news.sink.envelopes()[0]
    assert key == canonical_url(env["url"]).encode()
    story = decode_message(value, key, max_bytes=1_000_000)
    assert story.story_id.startswith("url-") and story.title == env["title"]
    # the PDF was never downloaded past its head, and never retried
    assert site.hits["/doc.pdf"] == 1

    # a restart: the feed is not modified (conditional GET) and nothing is sent again
    (statuses,) = await news.poll()
    assert statuses == ["feed:not_modified"]
    assert len(news.sink.messages) == 3
    assert site.conditional_hits["/feed.xml"] == 1


async def test_restart_without_validators_sends_nothing_again(news: Harness) -> None:
    news.site.routes["/feed.xml"].etag = None  # a server without ETag/Last-Modified
    await news.poll()
    assert len(news.sink.messages) == 3
    (statuses,) = await news.poll()
    assert "sent" not in statuses and len(news.sink.messages) == 3
    assert news.site.hits["/story/1"] == 1  # seen items are not even fetched again


async def test_updated_items_are_resent(news: Harness) -> None:
    site = news.site
    await news.poll()
    items = [
        {"title": "Story 0 (updated)", "link": site.url("/story/0"), "pubDate": DATE2},
        {"title": "Story 1", "link": site.url("/story/1"), "pubDate": DATE2},
        {"title": "Story 2", "link": site.url("/story/2"), "pubDate": DATE1},
    ]
    site.set("/feed.xml", rss("Test News", items), content_type="application/rss+xml", etag="auto")
    site.set("/story/0", article("Story 0 (updated)", seed="v2"))  # the page changed too
    (statuses,) = await news.poll()
    # story 0: new date and new page -> an update; story 1: new date, same page -> unchanged
    assert sorted(statuses) == ["seen", "unchanged", "update"]
    assert len(news.sink.messages) == 4
    last = news.sink.envelopes()[-1]
    assert last["title"] == "Story 0 (updated)" and "v2" in last["body"]
    keys = [k for k, _ in news.sink.messages]
    assert keys.count(canonical_url(site.url("/story/0")).encode()) == 2


async def test_failed_page_is_retried_next_poll_and_validators_not_kept(news: Harness) -> None:
    site = news.site
    site.set("/story/1", article("Story 1"), fail_first=2)  # fails the whole first poll
    (statuses,) = await news.poll()
    assert statuses.count("failed") == 1 and len(news.sink.messages) == 2
    (statuses,) = await news.poll()  # full feed again (no 304), the page now works
    assert "feed:not_modified" not in statuses
    assert statuses.count("sent") == 1 and len(news.sink.messages) == 3
    (statuses,) = await news.poll()
    assert statuses == ["feed:not_modified"]


async def test_page_that_keeps_failing_is_given_up(news: Harness) -> None:
    news.site.set("/story/2", "x", fail_first=10**6)
    await news.poll()
    await news.poll()  # max_attempts=2: given up now
    hits = news.site.hits["/story/2"]
    (statuses,) = await news.poll()
    assert news.site.hits["/story/2"] == hits  # not fetched any more
    assert "failed" not in statuses


async def test_malformed_and_missing_feeds_do_not_crash(site: FakeSite, tmp_path: Path) -> None:
    site.set("/bad.xml", "<rss><channel><item><title>oops</ti", content_type="application/xml")
    site.set("/binary.xml", b"\x89PNG\r\n", content_type="image/png")
    site.set("/down.xml", "x", fail_first=10**6)
    site.set("/slow.xml", rss("slow", []), delay=3.0)
    feeds = [site.url(p) for p in ("/bad.xml", "/binary.xml", "/down.xml", "/slow.xml", "/404.xml")]
    h = Harness(site, tmp_path, feeds)
    (statuses,) = await h.poll()
    assert statuses == [
        "feed:malformed_feed",
        "feed:content_type",
        "feed:http_500",
        "feed:deadline",
        "feed:http_404",
    ] or set(statuses) <= {
        "feed:malformed_feed",
        "feed:content_type",
        "feed:http_500",
        "feed:deadline",
        "feed:timeout",
        "feed:http_404",
    }
    assert h.sink.messages == []


async def test_atom_and_linkless_entries(site: FakeSite, tmp_path: Path) -> None:
    site.set("/a/1", article("Atom one"))
    site.set(
        "/atom.xml",
        atom(
            "Atom News",
            [
                {
                    "title": "Atom one",
                    "link": site.url("/a/1"),
                    "id": "urn:a:1",
                    "updated": "2024-02-01T08:00:00+01:00",
                },
                {"title": "Wire only", "id": "urn:a:2", "summary": "A wire story with no page."},
                {"title": "Nothing at all"},
            ],
        ),
        content_type="application/atom+xml",
    )
    h = Harness(site, tmp_path, [site.url("/atom.xml")])
    (statuses,) = await h.poll()
    assert sorted(statuses) == ["sent", "sent"]
    envs = {e["title"]: e for e in h.sink.envelopes()}
    assert envs["Atom one"]["published_at"] == "2024-02-01T07:00:00Z"
    assert "id" not in envs["Atom one"]
    assert envs["Wire only"]["id"] == "urn:a:2" and envs["Wire only"]["url"] is None
    keys = {env["title"]: key for env, (key, _) in zip(h.sink.envelopes(), h.sink.messages, strict=True)}
    assert keys["Wire only"] == b"urn:a:2"


async def test_binary_and_huge_pages_are_skipped(site: FakeSite, tmp_path: Path) -> None:
    site.set("/bin", b"\x00\x01\x02" * 100, content_type="text/html")
    site.set("/huge", stream_bytes=5_000_000)
    site.set("/loop", redirect_to="/loop2")
    site.set("/loop2", redirect_to="/loop")
    items = [{"title": p, "link": site.url(p)} for p in ("/bin", "/huge", "/loop")]
    site.set("/f.xml", rss("F", items))
    h = Harness(site, tmp_path, [site.url("/f.xml")])
    (statuses,) = await h.poll()
    assert sorted(statuses) == ["failed", "skipped", "skipped"]
    assert h.sink.messages == []


async def test_many_feeds_run_concurrently_and_stop(site: FakeSite, tmp_path: Path) -> None:
    for i in range(20):
        site.set(f"/p/{i}", article(f"P{i}"))
        site.set(f"/feeds/{i}.xml", rss(f"F{i}", [{"title": f"P{i}", "link": site.url(f"/p/{i}")}]))
    feeds = [FeedSpec(site.url(f"/feeds/{i}.xml")) for i in range(20)]
    store = SeenStore(tmp_path / "s.sqlite3")
    sink = MemorySink()
    fetcher = PoliteFetcher(CONFIG)
    ing = RssIngestor(feeds, fetcher=fetcher, store=store, sink=sink, config=CONFIG.replace(interval=0.2), max_message_bytes=10**6)
    stop = asyncio.Event()
    task = asyncio.create_task(ing.run(stop))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.wait_for(task, 5)
    await fetcher.close()
    store.close()
    assert len(sink.messages) == 20
    assert site.hits["/feeds/0.xml"] >= 2  # polled again on the interval


def test_load_feeds(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("# news\nhttp://a.test/rss\n\nhttps://b.test/atom  # b\nhttp://a.test/rss\n")
    assert [f.url for f in load_feeds(tmp_path / "f.txt")] == ["http://a.test/rss", "https://b.test/atom"]
    (tmp_path / "f.json").write_text('[{"url": "http://a.test/rss", "name": "A"}, "http://c.test/x"]')
    assert load_feeds(tmp_path / "f.json") == [FeedSpec("http://a.test/rss", "A"), FeedSpec("http://c.test/x")]
    (tmp_path / "f.yaml").write_text("feeds:\n  - http://a.test/rss\n  - url: http://d.test/y\n    name: D\n")
    assert load_feeds(tmp_path / "f.yaml")[1] == FeedSpec("http://d.test/y", "D")
    (tmp_path / "bad.txt").write_text("ftp://x\n")
    with pytest.raises(ValueError):
        load_feeds(tmp_path / "bad.txt")
