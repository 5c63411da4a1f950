"""The ingest fetcher is not an open door (issue 8, item 10): only http(s), only public
addresses unless allowed (checked on the DNS answers of every connection, every redirect hop,
and connected to the checked address: no DNS rebinding), and its caps on size, time and
redirects hold against a real (loopback) server. Network use: 127.0.0.x only."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from aiohttp import web

from streams.ingest.config import IngestConfig
from streams.ingest.fakesite import FakeSite
from streams.ingest.guard import AddressPolicy, is_public, parse_networks
from streams.ingest.http import FetchError, FetchResult, PoliteFetcher, is_feed_type
from streams.settings import SettingsError

LOCAL = "127.0.0.1/32"
BASE = IngestConfig(
    connect_timeout=1.0,
    read_timeout=0.5,
    deadline=1.5,
    retries=0,
    backoff_base=0.01,
    backoff_max=0.05,
    host_rate=1000.0,
    max_page_bytes=100_000,
    max_feed_bytes=200_000,
    max_redirects=3,
)
ALLOW_LOCAL = BASE.replace(allowed_networks=LOCAL)


@pytest.fixture(scope="module")
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


@pytest.fixture(scope="module")
def other() -> Iterator[FakeSite]:
    """A second site on 127.0.0.2: loopback too, but outside the 127.0.0.1/32 allowance."""
    with FakeSite("127.0.0.2") as s:
        yield s


async def fetch(
    url: str, config: IngestConfig = ALLOW_LOCAL, resolve: object = None, **kw: object
) -> FetchResult:
    f = PoliteFetcher(config, resolve=resolve)  # type: ignore[arg-type]
    try:
        return await f.fetch(url, **kw)  # type: ignore[arg-type]
    finally:
        await f.close()


async def refused(url: str, config: IngestConfig = BASE, **kw: object) -> FetchError:
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        await fetch(url, config, **kw)
    assert time.monotonic() - started < 1.0
    return err.value


# --- the address policy -------------------------------------------------------------------

BLOCKED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (CGNAT), not "private" to Python
    "0.0.0.0",
    "224.0.0.1",  # multicast: is_global is True for it on Python 3.11
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.2.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",  # site-local: "global" to Python 3.11
    "ff02::1",  # multicast: "global" to Python 3.11
    "2001:db8::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1: "global" to Python 3.11
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo, client 192.0.2.45
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::200e"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not is_public(ip)
    assert not AddressPolicy().allows(address)
    assert AddressPolicy(allow_private=True).allows(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))
    assert AddressPolicy().allows(address)


def test_allowed_networks() -> None:
    policy = AddressPolicy(allowed_networks=parse_networks("127.0.0.1/32, 10.0.0.0/8"))
    assert policy.allows("127.0.0.1") and policy.allows("10.9.8.7")
    assert policy.allows("::ffff:127.0.0.1")  # the same host as 127.0.0.1
    assert not policy.allows("127.0.0.2") and not policy.allows("::1")
    assert not policy.allows("169.254.169.254") and not policy.allows("0.0.0.0")
    assert policy.allows("8.8.8.8")
    assert not policy.allows("not-an-address")


def test_settings() -> None:
    assert IngestConfig.from_env({}).address_policy() == AddressPolicy()
    cfg = IngestConfig.from_env(
        {
            "NEWSFLOW_INGEST_ALLOW_PRIVATE": "true",
            "NEWSFLOW_INGEST_ALLOWED_NETWORKS": "127.0.0.1/32, fd00::/8,10.1.2.3",
        }
    )
    policy = cfg.address_policy()
    assert policy.allow_private
    assert [str(n) for n in policy.allowed_networks] == ["127.0.0.1/32", "fd00::/8", "10.1.2.3/32"]
    with pytest.raises(SettingsError, match="NEWSFLOW_INGEST_ALLOWED_NETWORKS"):
        IngestConfig.from_env({"NEWSFLOW_INGEST_ALLOWED_NETWORKS": "127.0.0.1/33"})
    with pytest.raises(SettingsError, match="NEWSFLOW_INGEST_ALLOWED_NETWORKS"):
        IngestConfig.from_env({"NEWSFLOW_INGEST_ALLOWED_NETWORKS": "localhost"})


# --- the fetcher against a real server ------------------------------------------------------


async def test_loopback_is_refused_by_default_without_connecting(site: FakeSite) -> None:
    site.set("/private", "<p>internal</p>")
    port = site.ports[0]
    for url in (
        site.url("/private"),
        f"http://localhost:{port}/private",  # a name: refused on its DNS answer
        f"http://2130706433:{port}/private",  # 127.0.0.1 as a number: the resolver's answer
        f"http://127.1:{port}/private",
        f"http://0.0.0.0:{port}/private",  # reaches 127.0.0.1 on Linux
        f"http://[::ffff:127.0.0.1]:{port}/private",
        f"http://[::1]:{port}/private",
    ):
        err = await refused(url)
        assert err.reason == "blocked_address", url
        assert err.skip and not err.retryable, url
    assert site.hits["/private"] == 0


async def test_allowance_is_exact(site: FakeSite, other: FakeSite) -> None:
    site.set("/ok", "<p>ok</p>")
    other.set("/internal", "<p>internal</p>")
    res = await fetch(site.url("/ok"))
    assert res.content == b"<p>ok</p>"
    res = await fetch(f"http://2130706433:{site.ports[0]}/ok")  # resolves to 127.0.0.1: allowed
    assert res.content == b"<p>ok</p>"
    err = await refused(other.url("/internal"), ALLOW_LOCAL)  # 127.0.0.2 is not 127.0.0.1/32
    assert err.reason == "blocked_address"
    err = await refused(f"http://0.0.0.0:{site.ports[0]}/ok", ALLOW_LOCAL)
    assert err.reason == "blocked_address"
    assert other.hits["/internal"] == 0
    res = await fetch(other.url("/internal"), BASE.replace(allow_private=True))
    assert res.content == b"<p>internal</p>"


async def test_every_redirect_hop_is_checked(site: FakeSite, other: FakeSite) -> None:
    other.set("/secret", "<p>secret</p>")
    site.set("/to-other", redirect_to=other.url("/secret"))
    site.set("/to-metadata", redirect_to="http://169.254.169.254/latest/meta-data/")
    site.set("/to-any", redirect_to=f"http://0.0.0.0:{other.ports[0]}/secret")
    site.set("/to-file", redirect_to="file:///etc/passwd")
    site.set("/to-gopher", redirect_to="gopher://127.0.0.1:70/")
    for path, reason in [
        ("/to-other", "blocked_address"),
        ("/to-metadata", "blocked_address"),
        ("/to-any", "blocked_address"),
        ("/to-file", "bad_url"),
        ("/to-gopher", "bad_url"),
    ]:
        err = await refused(site.url(path), ALLOW_LOCAL)
        assert err.reason == reason, path
        assert site.hits[path] == 1
    assert other.hits["/secret"] == 0


async def test_only_http_and_https(site: FakeSite) -> None:
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "data:,x"):
        err = await refused(url, ALLOW_LOCAL)
        assert err.reason == "bad_url", url


class Dns:
    """A resolver the test controls: name -> list of answers, one per call (the last repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        seq = self.answers.get(host)
        if not seq:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return seq.pop(0) if len(seq) > 1 else seq[0]


async def test_connects_to_the_checked_address_and_rebinding_fails(site: FakeSite) -> None:
    seen_hosts: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen_hosts.append(request.host)
        return web.Response(text="<p>from the checked address</p>", content_type="text/html")

    site.set("/rebind", handler=handler)
    port = site.ports[0]
    # first answer allowed (127.0.0.1/32 stands in for a public address), then a rebinding to
    # an address that is not: the name is resolved once per connection, by the fetcher, and
    # the connection goes to that answer ("news.test" means nothing to the system resolver).
    dns = Dns({"news.test": [["127.0.0.1"], ["127.0.0.2"]]})
    res = await fetch(f"http://news.test:{port}/rebind", resolve=dns)
    assert res.content == b"<p>from the checked address</p>"
    assert dns.calls == ["news.test"]
    assert seen_hosts == [f"news.test:{port}"]  # the Host header keeps the name
    err = await refused(f"http://news.test:{port}/rebind", ALLOW_LOCAL, resolve=dns)
    assert err.reason == "blocked_address" and "127.0.0.2" in str(err)
    assert len(seen_hosts) == 1


async def test_any_blocked_answer_refuses_the_name(site: FakeSite) -> None:
    dns = Dns({"mixed.test": [["127.0.0.1", "10.0.0.1"]], "meta.test": [["169.254.169.254"]]})
    port = site.ports[0]
    err = await refused(f"http://mixed.test:{port}/ok", ALLOW_LOCAL, resolve=dns)
    assert err.reason == "blocked_address" and "10.0.0.1" in str(err)
    err = await refused(f"http://meta.test:{port}/ok", ALLOW_LOCAL, resolve=dns)
    assert err.reason == "blocked_address"


async def test_redirect_to_a_name_that_rebinds_is_checked(site: FakeSite) -> None:
    port = site.ports[0]
    dns = Dns({"public.test": [["127.0.0.1"]], "evil.test": [["10.0.0.7"]]})
    site.set("/hop", redirect_to=f"http://evil.test:{port}/ok")
    err = await refused(f"http://public.test:{port}/hop", ALLOW_LOCAL, resolve=dns)
    assert err.reason == "blocked_address" and "evil.test" in str(err)
    assert dns.calls == ["public.test", "evil.test"]


async def test_unknown_name_is_a_network_error() -> None:
    err = await refused("http://nowhere.test/", ALLOW_LOCAL, resolve=Dns({}))
    assert err.reason == "network_error" and err.retryable


# --- caps on size, time and redirects (against the loopback site) -------------------------


async def test_body_over_the_cap_is_stopped_while_streaming(site: FakeSite) -> None:
    site.set("/endless", stream_bytes=500_000_000)  # 500 MB, no Content-Length
    started = time.monotonic()
    err = await refused(site.url("/endless"), ALLOW_LOCAL)
    assert err.reason == "too_large" and err.skip
    assert time.monotonic() - started < 1.0  # cut after ~100 kB, not 500 MB later
    site.set("/feed-endless", stream_bytes=500_000_000, content_type="application/rss+xml")
    err = await refused(
        site.url("/feed-endless"), ALLOW_LOCAL, accept=is_feed_type, max_bytes=200_000
    )
    assert err.reason == "too_large"


async def test_compressed_bomb_is_capped_on_decoded_bytes(site: FakeSite) -> None:
    bomb = gzip.compress(b"<p>" + b"a" * 50_000_000, compresslevel=9)
    assert len(bomb) < ALLOW_LOCAL.max_page_bytes  # Content-Length alone would let it in
    site.set("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        err = await refused(site.url("/bomb"), ALLOW_LOCAL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.reason == "too_large"
    assert peak < 5_000_000  # inflated up to the cap, never a whole read's worth (~64 MB)
    # an ordinary compressed page still decodes, gzip and deflate alike
    page = b"<p>" + b"news " * 1000 + b"</p>"
    site.set("/gz", gzip.compress(page), headers={"Content-Encoding": "gzip"})
    site.set("/zl", zlib.compress(page), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    site.set("/raw", raw.compress(page) + raw.flush(), headers={"Content-Encoding": "deflate"})
    for path in ("/gz", "/zl", "/raw"):
        assert (await fetch(site.url(path))).content == page, path
    site.set("/br", b"xx", headers={"Content-Encoding": "br"})
    assert (await refused(site.url("/br"), ALLOW_LOCAL)).reason == "bad_encoding"


async def test_slow_server_hits_the_deadline_even_with_retries(site: FakeSite) -> None:
    site.set("/crawl", b"<p>" + b"z" * 500 + b"</p>", trickle=0.05)  # each byte in time
    cfg = ALLOW_LOCAL.replace(retries=1)
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        await fetch(site.url("/crawl"), cfg)
    assert err.value.reason == "deadline"
    # two tries, each cut at the deadline, plus a short backoff
    assert time.monotonic() - started < 2 * cfg.deadline + 1.0


async def test_redirect_loops_and_chains_are_cut(site: FakeSite) -> None:
    site.set("/self", redirect_to="/self")
    err = await refused(site.url("/self"), ALLOW_LOCAL)
    assert err.reason == "redirect_loop" and site.hits["/self"] == 1
    for i in range(10):
        site.set(f"/hop{i}", redirect_to=f"/hop{i + 1}")
    err = await refused(site.url("/hop0"), ALLOW_LOCAL)
    assert err.reason == "too_many_redirects"
    assert sum(site.hits[f"/hop{i}"] for i in range(10)) == ALLOW_LOCAL.max_redirects + 1


async def test_refusals_do_not_hold_the_host_gate(site: FakeSite) -> None:
    site.set("/fine", "<p>fine</p>")
    f = PoliteFetcher(BASE.replace(allowed_networks=LOCAL, host_concurrency=1))
    try:
        results = await asyncio.gather(
            *(f.fetch(site.url("/fine")) for _ in range(3)),
            *(f.fetch("http://169.254.169.254/") for _ in range(3)),
            return_exceptions=True,
        )
    finally:
        await f.close()
    assert [isinstance(r, FetchResult) for r in results] == [True] * 3 + [False] * 3
