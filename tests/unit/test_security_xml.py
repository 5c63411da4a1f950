"""XML from outside (RSS/Atom feeds, sitemaps) never expands or fetches entities: a document
that declares entities (XXE, billion laughs) is refused before parsing, quickly and with the
reason ``unsafe_xml``; a plain DOCTYPE is accepted and its DTD never fetched (issue 8, item 10).
"""

from __future__ import annotations

import gzip
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from streams.ingest.fakesite import FakeSite, article, rss
from streams.ingest.producer import MemorySink
from streams.ingest.rss import parse_feed
from streams.ingest.sitemap import SitemapError, parse_sitemap
from streams.ingest.xmlsafe import UnsafeXml, screen_xml
from tests.unit.test_ingest_rss import Harness
from tests.unit.test_ingest_sitemap import run as run_sitemap

SM_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
PASSWD = "file:///etc/passwd"


def xxe_rss(system: str = PASSWD) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{system}">\n]>\n'
        '<rss version="2.0"><channel><title>T &xxe;</title><link>http://news.example/</link>'
        "<item><title>Leak &xxe;</title><link>http://news.example/a</link>"
        "<description>&xxe;</description></item></channel></rss>"
    ).encode()


def laughs(root: str, levels: int = 10) -> bytes:
    """The billion laughs: 10 levels of 10 references, 10**10 'lol's once expanded."""
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    top = f"&lol{levels - 1};"
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE r [\n' + "\n".join(decls) + "\n]>\n" + root.format(top)
    ).encode()


BOMB_RSS = laughs(
    '<rss version="2.0"><channel><title>{0}</title><item><title>{0}</title>'
    "<link>http://news.example/a</link></item></channel></rss>"
)
BOMB_SITEMAP = laughs(
    f'<urlset xmlns="{SM_NS}"><url><loc>http://news.example/{{0}}</loc></url></urlset>'
)
XXE_SITEMAP = (
    f'<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "{PASSWD}">]>\n'
    f'<urlset xmlns="{SM_NS}"><url><loc>http://news.example/&xxe;</loc></url></urlset>'
).encode()


def refused_quickly(fn: object, *args: object, **kw: object) -> BaseException:
    """Run ``fn`` expecting a refusal; it must come fast and without allocating much."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        fn(*args, **kw)  # type: ignore[operator]
    except (UnsafeXml, SitemapError) as exc:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        assert elapsed < 0.5, f"refusal took {elapsed:.3f} s"
        assert peak < 2_000_000, f"refusal allocated {peak} bytes"
        return exc
    finally:
        tracemalloc.stop()
    raise AssertionError("not refused")


# --- the screen itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        xxe_rss(),
        BOMB_RSS,
        BOMB_SITEMAP,
        XXE_SITEMAP,
        # out-of-band XXE through a parameter entity (the DTD would be fetched)
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % d SYSTEM "http://127.0.0.1:9/x.dtd"> %d;]>'
        b"<rss/>",
        # unparsed entity
        b'<?xml version="1.0"?><!DOCTYPE r [<!NOTATION n SYSTEM "x">'
        b'<!ENTITY e SYSTEM "http://127.0.0.1:9/e" NDATA n>]><rss/>',
        # the same XXE in UTF-16 (a byte search for "<!ENTITY" would miss it)
        xxe_rss().decode().replace("UTF-8", "UTF-16").encode("utf-16"),
        # a prolog expat rejects (text before the XML declaration): the byte check still sees it
        b"  \n" + xxe_rss(),
    ],
    ids=[
        "xxe",
        "laughs-rss",
        "laughs-sitemap",
        "xxe-sitemap",
        "parameter",
        "ndata",
        "utf16",
        "junk",
    ],
)
def test_entity_declarations_are_refused(doc: bytes) -> None:
    exc = refused_quickly(screen_xml, doc)
    assert isinstance(exc, UnsafeXml) and exc.reason == "unsafe_xml"


@pytest.mark.parametrize(
    "doc",
    [
        rss("Plain", [{"title": "A", "link": "http://news.example/a"}]).encode(),
        # RSS 0.91's public DTD: accepted, never fetched
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://127.0.0.1:9/rss-0.91.dtd">\n<rss version="0.91"><channel><title>x</title>'
        b"</channel></rss>",
        # a story about XXE: the text is in CDATA, after the root element starts
        b'<rss version="2.0"><channel><item><title>XML bugs</title><description><![CDATA['
        b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>]]></description></item>'
        b"</channel></rss>",
        b"not xml at all",
        b"",
    ],
    ids=["plain", "public-dtd", "cdata", "not-xml", "empty"],
)
def test_ordinary_documents_pass(doc: bytes) -> None:
    screen_xml(doc)


def test_the_screen_reads_only_the_prolog() -> None:
    big = rss(
        "Big", [{"title": f"T{i}", "link": f"http://news.example/{i}"} for i in range(20_000)]
    )
    data = big.encode()
    assert len(data) > 1_000_000
    started = time.perf_counter()
    for _ in range(20):
        screen_xml(data)
    assert (time.perf_counter() - started) / 20 < 0.02  # the body is never parsed


# --- the parsers the connectors call ------------------------------------------------------


def test_feeds_with_entities_do_not_reach_feedparser() -> None:
    for doc in (xxe_rss(), BOMB_RSS):
        exc = refused_quickly(parse_feed, doc, "application/rss+xml")
        assert "root:" not in str(exc)


def test_sitemaps_with_entities_are_refused() -> None:
    for doc in (XXE_SITEMAP, BOMB_SITEMAP, gzip.compress(BOMB_SITEMAP)):
        exc = refused_quickly(parse_sitemap, doc, max_urls=10, max_bytes=1_000_000)
        assert isinstance(exc, SitemapError) and exc.reason == "unsafe_xml"


def test_feedparser_alone_never_resolved_the_external_entity() -> None:
    """What the screen guards beyond: feedparser 6 strips non-literal entity declarations
    itself (by regular expression) and turns external entities off in its SAX parser."""
    import feedparser  # type: ignore[import-untyped]

    for doc in (xxe_rss(), xxe_rss().replace(b"\n", b"")):
        parsed = feedparser.parse(doc, response_headers={"content-type": "application/rss+xml"})
        text = repr(parsed)
        assert "root:" not in text and "/bin/" not in text


# --- end to end: served by a site, polled by the connectors --------------------------------


@pytest.fixture()
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


def failed(connector: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "newsflow_ingest_failed_total", {"connector": connector, "reason": reason}
    )
    return value or 0.0


async def test_rss_poll_refuses_xxe_and_laughs(site: FakeSite, tmp_path: Path) -> None:
    site.set("/a", article("A"))
    site.set("/x.dtd", '<!ENTITY leak "leaked">', content_type="application/xml-dtd")
    site.set("/xxe.xml", xxe_rss(), content_type="application/rss+xml")
    site.set("/oob.xml", xxe_rss(site.url("/x.dtd")), content_type="application/rss+xml")
    site.set("/bomb.xml", BOMB_RSS, content_type="application/rss+xml")
    before = failed("rss", "unsafe_xml")
    h = Harness(site, tmp_path, [site.url("/xxe.xml"), site.url("/oob.xml"), site.url("/bomb.xml")])
    (statuses,) = await h.poll()
    assert statuses == ["feed:unsafe_xml"] * 3
    assert h.sink.messages == []
    assert site.hits["/x.dtd"] == 0  # the external entity was never fetched
    assert failed("rss", "unsafe_xml") == before + 3


async def test_rss_with_a_public_dtd_is_polled_and_the_dtd_not_fetched(
    site: FakeSite, tmp_path: Path
) -> None:
    site.set("/a", article("Story A"))
    site.set("/rss-0.91.dtd", "<!ELEMENT rss ANY>", content_type="application/xml-dtd")
    doc = rss("Old", [{"title": "Story A", "link": site.url("/a")}]).replace(
        "<rss ",
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        f'"{site.url("/rss-0.91.dtd")}">\n<rss ',
    )
    site.set("/old.xml", doc, content_type="application/rss+xml")
    h = Harness(site, tmp_path, [site.url("/old.xml")])
    (statuses,) = await h.poll()
    assert statuses == ["sent"]
    assert site.hits["/rss-0.91.dtd"] == 0


async def test_sitemap_poll_refuses_xxe_and_laughs(site: FakeSite, tmp_path: Path) -> None:
    site.set("/xxe.xml", XXE_SITEMAP, content_type="application/xml")
    site.set("/bomb.xml.gz", gzip.compress(BOMB_SITEMAP), content_type="application/gzip")
    before = failed("sitemap", "unsafe_xml")
    sink = MemorySink()
    statuses = await run_sitemap(
        site, tmp_path, [site.url("/xxe.xml"), site.url("/bomb.xml.gz")], sink
    )
    assert statuses == ["sitemap:failed", "sitemap:failed"]
    assert sink.messages == []
    assert failed("sitemap", "unsafe_xml") == before + 2
