"""Every ingest connector against the real broker and a local site on 127.0.0.1: stories on
news.raw are counted and checked, a restart re-sends nothing, SIGTERM flushes in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.decode import canonical_url, decode_message
from streams.ingest.config import IngestConfig
from streams.ingest.fakesite import FakeSite, article, rss
from streams.ingest.run import ingest_file, ingest_folder, ingest_rss, ingest_sitemap
from streams.kafka_io import Received, consume
from streams.settings import Settings
from tests.integration.conftest import REPO, make_settings
from tests.unit.test_ingest_files import write_warc
from tests.unit.test_ingest_sitemap import index, news_sitemap

pytestmark = pytest.mark.integration

CONFIG = IngestConfig(
    allowed_networks="127.0.0.1/32",  # the fake site; the fetcher refuses loopback otherwise
    read_timeout=0.5,
    deadline=1.5,
    retries=1,
    backoff_base=0.01,
    backoff_max=0.05,
    host_rate=200.0,
    max_page_bytes=200_000,
    spread=False,
    linger_ms=20,
)
DATE1 = "Tue, 02 Jan 2024 10:00:00 GMT"
DATE2 = "Wed, 03 Jan 2024 11:30:00 GMT"


@pytest.fixture()
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


def read_all(settings: Settings, idle: float = 3.0) -> list[Received]:
    async def run() -> list[Received]:
        return [m async for m in consume(settings, [settings.topic_raw], idle_timeout=idle)]

    return asyncio.run(asyncio.wait_for(run(), 60))


def config_for(tmp: Path) -> IngestConfig:
    return CONFIG.replace(state_file=str(tmp / "ingest.sqlite3"))


def build_news_site(site: FakeSite) -> list[dict[str, str]]:
    """A feed with every kind of bad input next to five good stories."""
    for i in range(5):
        site.set(f"/story/{i}", article(f"Story {i}"))
    site.set("/story/1", article("Story 1"), fail_first=1)  # a 500, then fine (retried)
    site.set("/story/2", article("Story 2"), delay=0.3)  # slow but in time
    site.set("/moved", redirect_to="/story/3", redirect_status=301)
    site.set("/loop-a", redirect_to="/loop-b")
    site.set("/loop-b", redirect_to="/loop-a")
    site.set("/report.pdf", b"%PDF-1.4\x00\x01", content_type="application/pdf")
    site.set("/huge", stream_bytes=20_000_000)
    site.set("/never", article("never"), delay=5.0)  # times out (deadline 1.5 s)
    links = ["/story/0", "/story/1", "/story/2", "/moved", "/story/4", "/story/0",
             "/loop-a", "/report.pdf", "/huge", "/never"]
    items = [{"title": f"T{p}", "link": site.url(p), "pubDate": DATE1} for p in links]
    site.set("/feed.xml", rss("Integration News", items), content_type="application/rss+xml", etag="auto")
    site.set("/broken.xml", "<rss><channel><item><title>x</ti", content_type="application/xml")
    site.set("/gone.xml", "x", fail_first=10**6, fail_status=503)
    return items


def test_rss_to_broker_restart_and_update(kafka_bootstrap: str, tmp_path: Path, site: FakeSite) -> None:
    settings = make_settings(kafka_bootstrap, tmp_path)
    build_news_site(site)
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("\n".join(site.url(p) for p in ("/feed.xml", "/broken.xml", "/gone.xml")) + "\n")
    cfg = config_for(tmp_path)

    assert ingest_rss(settings, cfg, feeds, rounds=1) == 0
    msgs = read_all(settings)
    urls = sorted(orjson.loads(m.value)["url"] for m in msgs)
    assert urls == sorted(site.url(p) for p in ("/story/0", "/story/1", "/story/2", "/moved", "/story/4"))
    for m in msgs:
        env = orjson.loads(m.value)
        assert m.key == canonical_url(env["url"]).encode()
        assert env["source"]["feed"] == site.url("/feed.xml") and env["source"]["name"] == "Integration News"
        assert env["published_at"] == "2024-01-02T10:00:00Z" and env["fetched_at"].endswith("Z")
        story = decode_message(m.value, m.key, max_bytes=settings.max_message_bytes)
        assert story.title == env["title"] and "<article>" in story.body
    moved = next(orjson.loads(m.value) for m in msgs if orjson.loads(m.value)["url"].endswith("/moved"))
    assert "Story 3" in moved["body"]
    assert site.hits["/report.pdf"] == 1

    # restart: the feed is not modified?  It is fetched again in full (the timed-out page
    # was not settled), nothing already sent is sent again
    never_hits = site.hits["/never"]
    assert ingest_rss(settings, cfg, feeds, rounds=1) == 0
    assert len(read_all(settings)) == 5
    assert site.hits["/never"] > never_hits  # the failure is retried, the skips are not
    assert site.hits["/report.pdf"] == 1 and site.hits["/loop-a"] == 2

    # an updated item (new date, new page) is re-sent once as an update
    items = [{"title": "Story 0, updated", "link": site.url("/story/0"), "pubDate": DATE2}]
    site.set("/feed.xml", rss("Integration News", items), content_type="application/rss+xml", etag="auto")
    site.set("/story/0", article("Story 0, updated", seed="second version"))
    assert ingest_rss(settings, cfg, feeds, rounds=1) == 0
    msgs = read_all(settings)
    assert len(msgs) == 6
    last = orjson.loads(msgs[-1].value) if len({m.partition for m in msgs}) == 1 else None
    updated = [orjson.loads(m.value) for m in msgs if b"second version" in m.value]
    assert len(updated) == 1 and updated[0]["title"] == "Story 0, updated"
    assert last is None or last == updated[0]
    assert ingest_rss(settings, cfg, feeds, rounds=1) == 0
    assert len(read_all(settings)) == 6


def test_sigterm_flushes_in_flight_and_restart_sends_the_rest(kafka_bootstrap: str, tmp_path: Path, site: FakeSite) -> None:
    settings = make_settings(kafka_bootstrap, tmp_path)
    n = 40
    for i in range(n):
        site.set(f"/s/{i}", article(f"Slow {i}"), delay=0.15)
    site.set("/slow.xml", rss("Slow", [{"title": f"S{i}", "link": site.url(f"/s/{i}")} for i in range(n)]))
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(site.url("/slow.xml") + "\n")
    state = tmp_path / "ingest.sqlite3"
    env = {
        **os.environ,
        **settings.as_env(),
        "NEWSFLOW_INGEST_STATE_FILE": str(state),
        "NEWSFLOW_INGEST_ALLOWED_NETWORKS": "127.0.0.1/32",
        "NEWSFLOW_INGEST_HOST_CONCURRENCY": "2",
        "NEWSFLOW_INGEST_HOST_RATE": "50",
        "NEWSFLOW_INGEST_SPREAD": "false",
        "NEWSFLOW_INGEST_LINGER_MS": "200",
        "NEWSFLOW_INGEST_GRACE": "0.2",  # cancel the poll soon: half the items stay unsent
    }
    log = open(tmp_path / "ingest.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "ingest", "rss", str(feeds), "--interval", "3600"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(site.hits[f"/s/{i}"] for i in range(n)) < 8:
            assert proc.poll() is None, (tmp_path / "ingest.log").read_text()[-3000:]
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (tmp_path / "ingest.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    with sqlite3.connect(state) as db:
        marked = {r[0] for r in db.execute("SELECT key FROM items WHERE status = 'sent'")}
    on_topic = {m.key.decode() for m in read_all(settings) if m.key}
    assert marked, "nothing was sent before SIGTERM"
    assert marked == on_topic  # every acked message recorded, nothing recorded that is not there
    assert len(marked) < n  # it really was stopped half-way

    assert ingest_rss(settings, CONFIG.replace(state_file=str(state), host_rate=50.0), feeds, rounds=1) == 0
    msgs = read_all(settings)
    keys = [m.key for m in msgs]
    assert len(keys) == n and len(set(keys)) == n  # the rest, and no duplicates


def test_sitemap_to_broker(kafka_bootstrap: str, tmp_path: Path, site: FakeSite) -> None:
    settings = make_settings(kafka_bootstrap, tmp_path)
    for i in range(3):
        site.set(f"/n/{i}", article(f"News {i}"))
    site.set("/news.xml", news_sitemap([(site.url(f"/n/{i}"), "2024-03-01T12:00:00Z", f"News {i}") for i in range(3)]),
             content_type="application/xml", etag="auto")
    site.set("/index.xml", index([site.url("/news.xml"), site.url("/bad.xml")]))
    site.set("/bad.xml", "<urlset><url>", content_type="application/xml")
    cfg = config_for(tmp_path)
    assert ingest_sitemap(settings, cfg, [site.url("/index.xml")], rounds=1) == 0
    msgs = read_all(settings)
    assert len(msgs) == 3
    env = orjson.loads(msgs[0].value)
    assert env["source"]["name"] == "Daily Test" and env["title"].startswith("News ")
    assert ingest_sitemap(settings, cfg, [site.url("/index.xml")], rounds=1) == 0
    assert len(read_all(settings)) == 3


def test_folder_jsonl_warc_to_broker(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = make_settings(kafka_bootstrap, tmp_path)
    cfg = config_for(tmp_path).replace(folder_settle=0.1)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text("A plain-text story.\n\nWith two paragraphs.")
    (inbox / "b.html").write_text("<html><body><h1>B</h1><p>HTML story.</p></body></html>")
    (inbox / "c.json").write_text('{"id": "wire-c", "body": "Wire story C."}')
    (inbox / "d.jsonl").write_text('{"url": "http://d.test/1", "body": "D1"}\n{"url": "http://d.test/2", "body": "D2"}\n')
    (inbox / "e.part").write_text("not yet")
    time.sleep(0.2)
    assert ingest_folder(settings, cfg, inbox, once=True) == 0
    assert len(read_all(settings)) == 5
    assert ingest_folder(settings, cfg, inbox, once=True) == 0  # restart: nothing again
    msgs = read_all(settings)
    assert len(msgs) == 5
    keys = {m.key for m in msgs}
    assert {b"wire-c", b"https://d.test/1", b"https://d.test/2"} <= keys

    jsonl = tmp_path / "backfill.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps({"url": f"http://j.test/{i}", "body": f"J{i}"}) + b"\n" for i in range(300)))
    assert ingest_file(settings, cfg, "jsonl", jsonl, progress=False) == 0
    assert ingest_file(settings, cfg, "jsonl", jsonl, progress=False) == 0  # checkpoint: nothing
    warc = tmp_path / "t.warc.gz"
    write_warc(warc)
    assert ingest_file(settings, cfg, "warc", warc, progress=False) == 0
    msgs = read_all(settings)
    assert len(msgs) == 5 + 300 + 2
    assert sum(1 for m in msgs if m.key and m.key.startswith(b"https://j.test/")) == 300
