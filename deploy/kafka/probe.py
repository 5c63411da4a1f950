#!/usr/bin/env python3
"""Readiness probe for the local Kafka broker: one real Metadata request.

Stdlib only (no aiokafka needed), so `kafka-local` works with any python3.
It speaks the Kafka wire protocol directly:

  1. ApiVersions v0 (every broker accepts it) -> which Metadata versions are served;
  2. Metadata v4..v7 (non-flexible, same layout) for no topics -> broker list.

Ready means: the broker answers both, ApiVersions has no error, and the Metadata
response lists at least one broker and a controller. A TCP connect alone (or a
broker that is still loading metadata) does not pass.

With ``--min-brokers N`` (used by ``kafka-cluster``) the Metadata response must list at
least N brokers.

Usage: probe.py [--bootstrap 127.0.0.1:9092] [--timeout 5] [--min-brokers 1] [-v]
Exit status: 0 ready, 1 not ready / not reachable, 2 usage error.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import time
from typing import Any

API_METADATA = 3
API_VERSIONS = 18
CLIENT_ID = b"kafka-local-probe"


class ProbeError(Exception):
    pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ProbeError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def _request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    # Request header v1: api_key int16, api_version int16, correlation_id int32, client_id string
    header = struct.pack(">hhih", api_key, version, corr, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    resp = _recv_exact(sock, size)
    (got_corr,) = struct.unpack_from(">i", resp, 0)  # response header v0
    if got_corr != corr:
        raise ProbeError(f"correlation id mismatch ({got_corr} != {corr})")
    return resp[4:]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        vals = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return vals if len(vals) > 1 else vals[0]

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos : self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s


def probe(host: str, port: int, timeout: float, min_brokers: int = 1) -> dict[str, Any]:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        # 1. ApiVersions v0 (empty body)
        r = _Reader(_request(sock, API_VERSIONS, 0, 1, b""))
        err = r.take(">h")
        if err != 0:
            raise ProbeError(f"ApiVersions error code {err}")
        versions = {}
        for _ in range(r.take(">i")):
            key, vmin, vmax = r.take(">hhh")
            versions[key] = (vmin, vmax)
        if API_METADATA not in versions:
            raise ProbeError("broker does not serve Metadata")
        vmin, vmax = versions[API_METADATA]
        usable = [v for v in (7, 6, 5, 4) if vmin <= v <= vmax]
        if not usable:
            raise ProbeError(f"no usable Metadata version in {vmin}-{vmax}")
        ver = usable[0]
        # 2. Metadata v4-7: topics (empty array = no topics), allow_auto_topic_creation=false
        body = struct.pack(">ib", 0, 0)
        r = _Reader(_request(sock, API_METADATA, ver, 2, body))
        r.take(">i")  # throttle_time_ms (v3+)
        brokers = []
        for _ in range(r.take(">i")):
            node_id = r.take(">i")
            bhost = r.string()
            bport = r.take(">i")
            r.string()  # rack
            brokers.append((node_id, bhost, bport))
        cluster_id = r.string()
        controller_id = r.take(">i")
        if not brokers:
            raise ProbeError("metadata lists no brokers yet")
        if len(brokers) < min_brokers:
            raise ProbeError(f"metadata lists {len(brokers)} brokers, want {min_brokers}")
        if controller_id < 0:
            raise ProbeError("metadata has no controller yet")
        return {
            "metadata_version": ver,
            "brokers": brokers,
            "cluster_id": cluster_id,
            "controller_id": controller_id,
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092", help="host:port")
    ap.add_argument("--timeout", type=float, default=5.0, help="socket timeout, seconds")
    ap.add_argument("--min-brokers", type=int, default=1, help="brokers Metadata must list")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    host, _, port_s = args.bootstrap.rpartition(":")
    try:
        port = int(port_s)
    except ValueError:
        print(f"probe: bad --bootstrap {args.bootstrap!r}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        info = probe(host or "127.0.0.1", port, args.timeout, args.min_brokers)
    except (OSError, ProbeError, struct.error) as exc:
        if args.verbose:
            print(f"probe: {args.bootstrap} not ready: {exc}", file=sys.stderr)
        return 1
    if args.verbose:
        print(
            f"probe: {args.bootstrap} ready in {time.monotonic() - t0:.3f}s: "
            f"cluster_id={info['cluster_id']} controller={info['controller_id']} "
            f"brokers={info['brokers']} (Metadata v{info['metadata_version']})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
