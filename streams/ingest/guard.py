"""Which addresses the ingest fetcher may connect to, and a connection layer that enforces it.

A feed list, a feed's item links, a sitemap's ``<loc>`` and every redirect come from outside:
without a check, any of them could make the fetcher read ``http://169.254.169.254/`` (cloud
metadata), ``http://127.0.0.1:6066/`` (the worker's own web server) or a host of the private
network, and send the answer to ``news.raw``. So:

- only public unicast addresses are connected to: private (RFC 1918, ULA ``fc00::/7``),
  loopback, link-local, multicast, reserved, unspecified, shared/CGNAT ``100.64.0.0/10``,
  documentation and benchmark ranges are refused, and so is an IPv6 address that embeds one
  of them (IPv4-mapped ``::ffff:127.0.0.1``, IPv4-compatible, 6to4 ``2002::/16``, Teredo,
  NAT64 ``64:ff9b::/96``);
- unless ``NEWSFLOW_INGEST_ALLOW_PRIVATE`` (everything allowed) or the address is in one of
  ``NEWSFLOW_INGEST_ALLOWED_NETWORKS`` (comma-separated CIDRs, e.g. ``127.0.0.1/32``);
- the check is made on the DNS answers, at connect time, by :class:`GuardedBackend`, the
  network backend of every connection httpx opens: it resolves the host name itself (the
  event loop's ``getaddrinfo``), refuses the connection if *any* answer is not allowed, and
  connects to the checked address, never to the name. A name cannot resolve to a public
  address for the check and to an internal one for the connection (DNS rebinding): it is
  resolved once per connection. TLS still uses the host name (SNI and certificate checks are
  done by httpcore on the origin's name, not on the address) and the ``Host`` header is
  unchanged. Every request and every redirect hop goes through it: a hop to a new host opens
  a new connection, checked like the first; a reused keep-alive connection was checked when
  it was opened.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses to connect to (strings, IPv4 or IPv6)
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class BlockedAddress(Exception):
    """A connection to an address the policy does not allow; never retried."""

    def __init__(self, host: str, address: str) -> None:
        what = host if host == address else f"{host} ({address})"
        super().__init__(
            f"{what} is not a public address; NEWSFLOW_INGEST_ALLOWED_NETWORKS or "
            "NEWSFLOW_INGEST_ALLOW_PRIVATE would allow it"
        )
        self.host = host
        self.address = address


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.1/32, 10.1.0.0/16"`` -> networks; a bare address is a /32 (/128)."""
    out: list[IPNetwork] = []
    for part in value.split(","):
        part = part.strip()
        if part:
            out.append(ipaddress.ip_network(part, strict=False))
    return tuple(out)


def _forms(ip: IPAddress) -> Iterator[IPAddress]:
    """The address and every IPv4 address an IPv6 address carries inside it."""
    yield ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            yield ip.ipv4_mapped
        if ip.sixtofour is not None:
            yield ip.sixtofour
        if ip.teredo is not None:
            yield from ip.teredo
        if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def _public(ip: IPAddress) -> bool:
    # ``is_global`` alone is not enough on Python 3.11: multicast (224.0.0.0/4, ff00::/8),
    # site-local fec0::/10 and 6to4 addresses are "global" there.
    if not ip.is_global or ip.is_private:
        return False
    if ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local:
        return False
    if ip.is_unspecified:
        return False
    return not (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)


def is_public(ip: IPAddress) -> bool:
    """A public unicast address, and so is every IPv4 address embedded in it."""
    return all(_public(form) for form in _forms(ip))


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, allowed_networks: str) -> AddressPolicy:
        return cls(allow_private, parse_networks(allowed_networks))

    def allows(self, address: str | IPAddress) -> bool:
        if self.allow_private:
            return True
        ip = address if not isinstance(address, str) else parse_ip(address)
        if ip is None:
            return False
        forms = list(_forms(ip))
        if any(form in net for form in forms for net in self.allowed_networks):
            return True
        return all(_public(form) for form in forms)


def parse_ip(text: str) -> IPAddress | None:
    """An IP address (IPv6 with or without brackets / zone), or None for a host name."""
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


async def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses from the event loop's ``getaddrinfo`` (in order, no duplicates)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check in front of every TCP connect."""

    def __init__(self, policy: AddressPolicy, resolve: Resolver | None = None) -> None:
        self.policy = policy
        self.resolve: Resolver = resolve or system_resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = parse_ip(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                async with asyncio.timeout(timeout):
                    addresses = await self.resolve(host, port)
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout} s") from exc
            except OSError as exc:  # socket.gaierror: no such name, resolver down
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            if not self.policy.allows(address):
                raise BlockedAddress(host, address)
        last: Exception | None = None
        for address in addresses:  # connect to the checked address, not to the name
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, "unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connection pool connects through
    :class:`GuardedBackend`. httpx 0.28 does not take a network backend, httpcore's pool does
    (``network_backend=``): the pool is built here with httpcore's public arguments, as httpx
    builds it when there is no proxy (and there never is: ``trust_env`` is off). One SSL
    context is shared by all the hosts' transports (building one reads the CA bundle)."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext,
        resolve: Resolver | None = None,
    ) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self.backend = GuardedBackend(policy, resolve)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=self.backend,
        )
