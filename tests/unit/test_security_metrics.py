"""Metrics expose no story content and bind to the configured address (issue 8, item 11).

A story (and a dead letter, and ingest skips/failures) goes through the real agent batch
functions (``streams.agents``: segment_message, enrich_batch, decide, normalize, with the
metrics they update) and through the RSS connector; then the whole Prometheus registry is
rendered: no headline, body, URL, domain or story id appears in it, in a label value or
anywhere else. The ingest metrics server listens on ``NEWSFLOW_WEB_HOST`` only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams import agents
from streams.dedup import DedupState
from streams.ingest.fakesite import FakeSite, article, rss
from streams.ingest.run import _serve_metrics
from streams.settings import Settings
from tests.unit.test_ingest_rss import Harness

REPO = Path(__file__).resolve().parents[2]
HEADLINE = "Quokkas Storm The Harbour Parliament"
URL = "https://private-newsroom.example/quokka-exclusive-2024"
BODY = [
    "Marzipanification of the harbour continued on Tuesday as quokkas occupied the chamber, "
    "officials of the Rottnest council said in a statement.",
    "The speaker, Ottoline Fenwick-Baxendale, said the session would resume once the animals "
    "had been fed and the marzipan removed from the benches.",
]
MARKERS = [
    "Quokkas",
    "quokka",
    "Harbour Parliament",
    "Marzipanification",
    "marzipan",
    "Fenwick-Baxendale",
    "Rottnest",
    "private-newsroom",
    "quokka-exclusive",
]


@dataclass
class Msg:
    value: bytes | None
    key: bytes | None
    topic: str
    partition: int = 0
    offset: int = 0
    timestamp: float | None = None


class Event:
    def __init__(self, msg: Msg) -> None:
        self.message = msg


class Topic:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[bytes | None, bytes | None, Any]] = []

    async def send(
        self, key: bytes | None = None, value: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[None]:
        self.sent.append((key, value, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def exposition() -> str:
    return generate_latest(REGISTRY).decode()


def label_values(text: str) -> set[str]:
    return {
        str(v)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for v in sample.labels.values()
    }


def assert_no_content(text: str, markers: list[str]) -> None:
    values = label_values(text)
    for marker in markers:
        low = marker.lower()
        assert not [v for v in values if low in v.lower()], marker
        assert low not in text.lower(), marker


async def test_pipeline_metrics_carry_no_story_content() -> None:
    settings = Settings()
    topics: Any = SimpleNamespace(
        raw=Topic("news.raw"),
        segmented=Topic("news.segmented"),
        enriched=Topic("news.enriched"),
        stories=Topic("news.stories"),
        dlq=Topic("news.dlq"),
    )
    envelope = {
        "url": URL,
        "title": HEADLINE,
        "body": "<html><body><article><h1>"
        + HEADLINE
        + "</h1>"
        + "".join(f"<p>{p}</p>" for p in BODY)
        + "</article></body></html>",
        "content_type": "text/html",
        "source": {"name": "Quokka Gazette", "url": URL, "domain": "private-newsroom.example"},
    }
    good = Event(
        Msg(orjson.dumps(envelope), URL.encode(), "news.raw", offset=1, timestamp=time.time())
    )
    # dead letters whose bytes and error messages carry the story
    bad_json = Event(
        Msg(
            b'{"title": "' + HEADLINE.encode() + b'", "url": ' + URL.encode(),
            URL.encode(),
            "news.raw",
            offset=2,
        )
    )
    await agents._segment_batch([good, bad_json], topics, settings)  # type: ignore[arg-type]
    assert len(topics.segmented.sent) == 1 and len(topics.dlq.sent) == 1
    story_id = topics.segmented.sent[0][0].decode()

    key, value, _ = topics.segmented.sent[0]
    garbage = Event(Msg(b"not a record: " + HEADLINE.encode(), key, "news.segmented", offset=3))
    seg = Event(Msg(value, key, "news.segmented", offset=4))
    await agents._enrich_batch([seg, garbage], topics, settings)  # type: ignore[arg-type]
    assert len(topics.enriched.sent) == 1 and len(topics.dlq.sent) == 2

    key, value, _ = topics.enriched.sent[0]
    enriched = Event(Msg(value, key, "news.enriched", offset=5))
    state = DedupState.in_memory()
    await agents._dedup_batch([enriched, enriched], topics, settings, state, None)  # type: ignore[arg-type]
    assert len(topics.stories.sent) == 2
    assert HEADLINE.encode() in topics.stories.sent[0][1]  # the story did go through

    text = exposition()
    assert 'newsflow_dedup_outcomes_total{status="duplicate"}' in text
    assert 'reason="invalid_json"' in text
    assert_no_content(text, [*MARKERS, story_id])


@pytest.fixture()
def site() -> Iterator[FakeSite]:
    with FakeSite() as s:
        yield s


async def test_ingest_metrics_carry_no_urls_or_titles(site: FakeSite, tmp_path: Path) -> None:
    site.set("/quokka-exclusive/1", article(HEADLINE))
    site.set("/quokka-exclusive/2.pdf", b"%PDF-1.4", content_type="application/pdf")
    items = [
        {"title": HEADLINE, "link": site.url("/quokka-exclusive/1")},
        {"title": "Quokka report", "link": site.url("/quokka-exclusive/2.pdf")},
        {"title": "Quokka gone", "link": site.url("/quokka-exclusive/3-missing")},
        {"title": "Quokka without a link"},
    ]
    site.set(
        "/quokka-exclusive/feed.xml",
        rss("Quokka Gazette", items),
        content_type="application/rss+xml",
    )
    site.set("/quokka-exclusive/bad.xml", "<rss><channel><title>Quokka", content_type="text/xml")
    h = Harness(
        site,
        tmp_path,
        [site.url("/quokka-exclusive/feed.xml"), site.url("/quokka-exclusive/bad.xml")],
    )
    (statuses,) = await h.poll()
    assert "sent" in statuses and len(h.sink.messages) == 1
    text = exposition()
    assert 'reason="content_type"' in text and 'reason="http_404"' in text
    assert_no_content(text, [*MARKERS, "127.0.0.1", str(site.ports[0])])


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def listening(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs process ``pid`` listens on (Linux /proc; IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                continue
            addr, port = cols[1].split(":")
            raw = bytes.fromhex(addr)
            if len(raw) == 4:
                host = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                host = socket.inet_ntop(socket.AF_INET6, words)
            found.add((host, int(port, 16)))
    return found


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_ingest_metrics_server_binds_to_the_given_host_only() -> None:
    port = free_port("127.0.0.2")
    server, thread = _serve_metrics(port, "127.0.0.2")
    try:
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=5) as resp:
            assert resp.status == 200 and b"newsflow_ingest_fetches_total" in resp.read()
        assert server.socket.getsockname() == ("127.0.0.2", port)  # not 0.0.0.0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert _serve_metrics(None, "127.0.0.2") is None


def test_ingest_command_serves_metrics_on_newsflow_web_host(tmp_path: Path) -> None:
    port = free_port("127.0.0.2")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://127.0.0.1:9/feed.xml\n")  # refused (not allowed): no traffic
    env = {
        **os.environ,
        "NEWSFLOW_WEB_HOST": "127.0.0.2",
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_INGEST_SPREAD": "false",
        "NEWSFLOW_INGEST_GRACE": "0.5",
        # Kafka credentials (issue 8 item 9): loaded, never echoed (--dry-run: no broker)
        "NEWSFLOW_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "NEWSFLOW_SASL_USERNAME": "newsflow-ingest",
        "NEWSFLOW_SASL_PASSWORD": "hunter2-from-env",
    }
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "ingest", "rss", str(feeds), "--dry-run",
             "--interval", "3600", "--metrics-port", str(port)],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            # the first poll has run (and the SIGTERM handler is installed) once the refused
            # feed is logged: the default refuses loopback, here 127.0.0.1:9
            while "blocked_address" not in log.read_text():
                assert proc.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "the first poll never happened"
                time.sleep(0.1)
            assert listening(proc.pid) == {("127.0.0.2", port)}  # only there, not 0.0.0.0
            with urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=5) as resp:
                body = resp.read().decode()
            assert "newsflow_ingest_" in body
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert '"metrics served"' in log.read_text() and "127.0.0.2" in log.read_text()
    assert "hunter2" not in log.read_text()


def test_worker_web_server_serves_no_table_views(tmp_path: Path) -> None:
    """Faust would serve ``/table/<name>/<key>/`` (dedup state by key) and ``/router/`` next
    to ``/metrics``; the worker's app turns them off and binds to NEWSFLOW_WEB_HOST."""
    from streams.app import create_app

    app, _, _ = create_app(Settings(web_host="127.0.0.2", data_dir=str(tmp_path)))
    assert app.conf.web_tables_enabled is False
    assert app.conf.web_router_enabled is False
    assert app.conf.web_bind == "127.0.0.2"
