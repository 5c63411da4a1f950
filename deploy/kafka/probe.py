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

With ``--sasl-scram-sha-512`` (a SASL_PLAINTEXT listener, ``kafka-local`` in SASL mode) the
probe authenticates between the two requests: SaslHandshake v1, then SaslAuthenticate v0
carrying a SCRAM-SHA-512 exchange (RFC 5802/7677). The credentials come from the environment
(``KAFKA_PROBE_SASL_USERNAME``, ``KAFKA_PROBE_SASL_PASSWORD``), never from the command line,
and are never printed.

Usage: probe.py [--bootstrap 127.0.0.1:9092] [--timeout 5] [--min-brokers 1]
                [--sasl-scram-sha-512] [-v]
Exit status: 0 ready, 1 not ready / not reachable, 2 usage error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import socket
import struct
import sys
import time
from typing import Any

API_METADATA = 3
API_SASL_HANDSHAKE = 17
API_VERSIONS = 18
API_SASL_AUTHENTICATE = 36
SCRAM_MECHANISM = "SCRAM-SHA-512"
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


def _bytes(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _scram_attrs(message: bytes) -> dict[str, str]:
    attrs = {}
    for part in message.decode("utf-8").split(","):
        key, sep, value = part.partition("=")
        if sep:
            attrs[key] = value
    return attrs


def _sasl_authenticate(sock: socket.socket, corr: int, token: bytes) -> bytes:
    r = _Reader(_request(sock, API_SASL_AUTHENTICATE, 0, corr, _bytes(token)))
    err = r.take(">h")
    message = r.string()
    if err != 0:
        # 58 = SASL_AUTHENTICATION_FAILED (wrong user or password)
        raise ProbeError(f"SASL authentication failed (error code {err}: {message})")
    (size,) = struct.unpack_from(">i", r.data, r.pos)
    return r.data[r.pos + 4 : r.pos + 4 + max(size, 0)]


def scram_sha512_login(sock: socket.socket, username: str, password: str) -> None:
    """SaslHandshake v1 + a SCRAM-SHA-512 exchange in SaslAuthenticate v0 requests."""
    r = _Reader(_request(sock, API_SASL_HANDSHAKE, 1, 10, _string(SCRAM_MECHANISM)))
    err = r.take(">h")
    enabled = [r.string() for _ in range(r.take(">i"))]
    if err != 0:
        raise ProbeError(f"SaslHandshake error code {err}; broker offers {enabled}")
    name = username.replace("=", "=3D").replace(",", "=2C")
    nonce = base64.b64encode(secrets.token_bytes(24)).decode()
    first_bare = f"n={name},r={nonce}"
    server_first = _sasl_authenticate(sock, 11, f"n,,{first_bare}".encode())
    attrs = _scram_attrs(server_first)
    if not attrs.get("r", "").startswith(nonce) or "s" not in attrs or "i" not in attrs:
        raise ProbeError("SCRAM: malformed server-first message")
    salted = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    stored_key = hashlib.sha512(client_key).digest()
    final_bare = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first.decode()},{final_bare}".encode()
    signature = hmac.digest(stored_key, auth_message, "sha512")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    server_final = _sasl_authenticate(sock, 12, f"{final_bare},p={proof.decode()}".encode())
    server_key = hmac.digest(salted, b"Server Key", "sha512")
    expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha512")).decode()
    if not hmac.compare_digest(_scram_attrs(server_final).get("v", ""), expected):
        raise ProbeError("SCRAM: the broker's signature does not verify")


def probe(
    host: str,
    port: int,
    timeout: float,
    min_brokers: int = 1,
    sasl: tuple[str, str] | None = None,
) -> dict[str, Any]:
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
        if sasl is not None:
            scram_sha512_login(sock, *sasl)
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
    ap.add_argument(
        "--sasl-scram-sha-512",
        action="store_true",
        help="authenticate (KAFKA_PROBE_SASL_USERNAME / KAFKA_PROBE_SASL_PASSWORD)",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    sasl = None
    if args.sasl_scram_sha_512:
        user = os.environ.get("KAFKA_PROBE_SASL_USERNAME", "")
        password = os.environ.get("KAFKA_PROBE_SASL_PASSWORD", "")
        if not user or not password:
            print(
                "probe: --sasl-scram-sha-512 needs KAFKA_PROBE_SASL_USERNAME and "
                "KAFKA_PROBE_SASL_PASSWORD",
                file=sys.stderr,
            )
            return 2
        sasl = (user, password)
    host, _, port_s = args.bootstrap.rpartition(":")
    try:
        port = int(port_s)
    except ValueError:
        print(f"probe: bad --bootstrap {args.bootstrap!r}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        info = probe(host or "127.0.0.1", port, args.timeout, args.min_brokers, sasl)
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
