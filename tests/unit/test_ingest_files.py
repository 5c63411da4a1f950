"""Seen-store, watched folder, JSONL and WARC backfills (in-memory sink, no broker)."""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path

import orjson
import pytest

from streams.decode import canonical_url, decode_message
from streams.ingest.config import IngestConfig
from streams.ingest.files import backfill_jsonl, backfill_warc, file_messages
from streams.ingest.folder import FolderWatcher
from streams.ingest.producer import MemorySink, key_for
from streams.ingest.state import SeenStore

CONFIG = IngestConfig(folder_settle=0.2)


def test_seen_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    s = SeenStore(path)
    s.mark_sent("https://a.test/x", "2024", "h1", "feed")
    s.mark_skipped("https://a.test/pdf", "", "content_type")
    assert s.record_failure("https://a.test/y", "", "http_500", max_attempts=2) == 1
    s.set_validators("http://f", '"e1"', None)
    s.mark_file("sha256:abc", "/in/a.txt", 3)
    s.set_checkpoint("jsonl:/f", 42)
    s.close()
    s = SeenStore(path)
    a = s.get_item("https://a.test/x")
    assert a is not None and a.settled and a.fingerprint == "2024" and a.content_hash == "h1"
    assert s.get_item("https://a.test/pdf").settled  # type: ignore[union-attr]
    y = s.get_item("https://a.test/y")
    assert y is not None and not y.settled
    assert s.record_failure("https://a.test/y", "", "http_500", max_attempts=2) == 2
    assert s.get_item("https://a.test/y").status == "gave_up"  # type: ignore[union-attr]
    # a failed re-fetch of a sent item keeps its content hash
    s.record_failure("https://a.test/x", "2025", "timeout", max_attempts=5)
    assert s.get_item("https://a.test/x").content_hash == "h1"  # type: ignore[union-attr]
    assert s.get_validators("http://f") == ('"e1"', None)
    assert s.file_done("sha256:abc") and not s.file_done("sha256:def")
    assert s.checkpoint("jsonl:/f") == 42 and s.checkpoint("other") == 0
    assert s.count_items() == 3 and s.prune(-1) == 3
    s.close()


def test_key_for() -> None:
    assert key_for({"url": "http://A.test/x/?utm_source=y", "body": "b"}) == b"https://a.test/x"
    assert key_for({"id": "wire-1", "body": "b"}) == b"wire-1"
    assert key_for({"source": {"url": "https://a.test/z"}, "body": "b"}) == b"https://a.test/z"
    assert key_for({"body": "b"}) is None


def test_file_messages(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = [b'{"url": "http://a.test/1", "body": "one"}', b"", b"bare text line", b'{"id": "w2", "body": "two"}']
    msgs = file_messages(p, b"\n".join(lines) + b"\n")
    assert [k for k, _ in msgs] == [b"https://a.test/1", None, b"w2"]
    msgs = file_messages(tmp_path / "b.json", b'[{"id": "x", "body": "1"}, {"body": "2"}]')
    assert [k for k, _ in msgs] == [b"x", None]
    html = tmp_path / "c.html"
    html.write_text("<html><body><p>Hi</p></body></html>")
    ((key, value),) = file_messages(html, html.read_bytes())
    env = orjson.loads(value)
    assert key is None and env["content_type"] == "text/html" and env["source"]["feed"] == "file:c.html"
    assert decode_message(value, key, max_bytes=10**6).body.startswith("<html>")
    ((_, raw),) = file_messages(tmp_path / "d.txt", "caf\xe9".encode("latin-1"))
    assert raw == "caf\xe9".encode("latin-1")  # not UTF-8: sent bare, the pipeline decides


async def test_folder_ingests_each_file_once_and_waits_for_partial_writes(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    state = tmp_path / "seen.sqlite3"
    sink = MemorySink()
    (inbox / "a.txt").write_text("A plain story.\n\nSecond paragraph.")
    (inbox / "b.jsonl").write_text('{"url": "http://a.test/1", "body": "one"}\n{"id": "i2", "body": "two"}\n')
    (inbox / "c.part").write_text("being downloaded")
    (inbox / ".hidden.txt").write_text("no")
    (inbox / "d.png").write_bytes(b"\x89PNG")
    old = time.time() - 10
    for p in inbox.iterdir():
        os.utime(p, (old, old))
    (inbox / "growing.html").write_text("<p>half")  # fresh: still being written

    store = SeenStore(state)
    w = FolderWatcher(inbox, sink=sink, store=store, config=CONFIG, max_message_bytes=10**6)
    assert await w.scan() == 0  # first sight: wait for a second scan with the same size
    assert await w.scan() == 2
    assert len(sink.messages) == 3
    with open(inbox / "growing.html", "a") as fh:
        fh.write(" and done</p>")
    assert await w.scan() == 0  # changed: waits again
    await asyncio.sleep(0.3)
    assert await w.scan() == 1  # same size and mtime as the last scan, and settled
    assert len(sink.messages) == 4
    assert await w.scan() == 0
    store.close()

    # a restart: nothing again; the same content under a new name: nothing either
    (inbox / "a-copy.txt").write_bytes((inbox / "a.txt").read_bytes())
    os.utime(inbox / "a-copy.txt", (old, old))
    store = SeenStore(state)
    w = FolderWatcher(inbox, sink=sink, store=store, config=CONFIG, max_message_bytes=10**6, done_dir=tmp_path / "done")
    stop = asyncio.Event()
    assert await w.run(stop, once=True) == 0
    assert len(sink.messages) == 4
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["a-copy.txt", "a.txt", "b.jsonl", "growing.html"]
    store.close()


async def test_folder_retries_a_file_whose_send_failed(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "x.txt").write_text("story")
    old = time.time() - 10
    os.utime(inbox / "x.txt", (old, old))
    failing = True
    sink = MemorySink(fail=lambda k, v: failing)
    store = SeenStore(tmp_path / "s.sqlite3")
    w = FolderWatcher(inbox, sink=sink, store=store, config=CONFIG, max_message_bytes=10**6)
    assert await w.scan(once=True) == 0
    failing = False
    assert await w.scan(once=True) == 1
    store.close()


async def test_jsonl_backfill_resumes_from_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as fh:
        for i in range(2500):
            fh.write(orjson.dumps({"url": f"http://a.test/{i}", "body": f"story {i}"}) + b"\n")
            if i % 100 == 0:
                fh.write(b"\n")
        fh.write(b'{"body": "' + b"x" * 2000 + b'"}\n')
    store = SeenStore(tmp_path / "s.sqlite3")
    stop = asyncio.Event()
    sink = MemorySink()
    # stop after ~1200 records: the checkpoint remembers how far the acks went
    orig = sink.send

    async def send(value: bytes, key: bytes | None, **kw: object) -> asyncio.Future[object]:
        if len(sink.messages) >= 1200:
            stop.set()
        return await orig(value, key, **kw)  # type: ignore[arg-type]

    sink.send = send  # type: ignore[method-assign]
    summary = await backfill_jsonl(path, sink, store, max_message_bytes=1000, stop=stop, window=100)
    assert summary.stopped and summary.sent == len(sink.messages)
    first = len(sink.messages)
    summary2 = await backfill_jsonl(path, MemorySink(), store, max_message_bytes=1000)
    assert summary2.resumed_from > 0
    assert summary2.sent + first == 2500
    assert summary2.skipped == {"too_large": 1}
    summary3 = await backfill_jsonl(path, MemorySink(), store, max_message_bytes=1000)
    assert summary3.sent == 0  # all done
    summary4 = await backfill_jsonl(path, MemorySink(), store, max_message_bytes=1000, restart=True)
    assert summary4.sent == 2500 and summary4.as_dict()["records"] == 2501
    store.close()


def write_warc(path: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warcinfo_record("test.warc.gz", {"software": "test"}))

        def response(url: str, body: bytes, ctype: str, status: str = "200 OK") -> None:
            headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers,
                warc_headers_dict={"WARC-Date": "2024-05-06T07:08:09Z"},
            )
            writer.write_record(rec)

        response("http://w.test/a", b"<html><body><p>Story A</p></body></html>", "text/html; charset=utf-8")
        writer.write_record(writer.create_warc_record("http://w.test/a", "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n")))
        response("http://w.test/logo.png", b"\x89PNG....", "image/png")
        response("http://w.test/gone", b"not found", "text/html", status="404 Not Found")
        response("http://w.test/b", "<p>Caf\xe9 story</p>".encode("latin-1"), "text/html; charset=iso-8859-1")


async def test_warc_backfill(tmp_path: Path) -> None:
    path = tmp_path / "t.warc.gz"
    write_warc(path)
    store = SeenStore(tmp_path / "s.sqlite3")
    sink = MemorySink()
    summary = await backfill_warc(path, sink, store, max_message_bytes=10**6, max_page_bytes=10**5)
    assert summary.sent == 2 and summary.records == 4
    assert summary.skipped == {"content_type": 1, "http_404": 1}
    envs = sink.envelopes()
    assert envs[0]["url"] == "http://w.test/a" and envs[0]["fetched_at"] == "2024-05-06T07:08:09Z"
    assert envs[0]["source"]["feed"] == "warc:t.warc.gz"
    assert "Café story" in envs[1]["body"]
    assert sink.messages[0][0] == canonical_url("http://w.test/a").encode()
    again = await backfill_warc(path, MemorySink(), store, max_message_bytes=10**6, max_page_bytes=10**5)
    assert again.sent == 0 and again.resumed_from == 4
    store.close()


async def test_corrupt_warc_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "t.warc.gz"
    write_warc(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(data[: len(data) // 2] + b"garbage" * 10)
    store = SeenStore(tmp_path / "s.sqlite3")
    summary = await backfill_warc(bad, MemorySink(), store, max_message_bytes=10**6, max_page_bytes=10**5)
    assert summary.failed.get("corrupt_warc") == 1 or summary.records >= 1
    store.close()


@pytest.mark.parametrize("n", [0])
def test_empty_jsonl(tmp_path: Path, n: int) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("\n" * n)
    store = SeenStore(tmp_path / "s.sqlite3")
    summary = asyncio.run(backfill_jsonl(path, MemorySink(), store, max_message_bytes=100))
    assert summary.records == 0 and summary.sent == 0
    store.close()
