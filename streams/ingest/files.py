"""Files as ``news.raw`` messages: the watched folder's files, and JSONL / WARC backfills.

Backfills stream the file (memory stays flat whatever its size), send through the shared
producer with a bounded window of unacknowledged messages, show a progress bar (rich, on a
terminal) and end with a summary. A checkpoint in the seen-store records how many records
were acknowledged in order, so a backfill stopped half-way (SIGTERM, crash) resumes after
the last acknowledged record instead of starting over; ``restart=True`` ignores it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import orjson

from streams.ingest.http import is_page_type
from streams.ingest.items import decode_body, iso_utc, parse_date
from streams.ingest.metrics import FAILED, SENT, SKIPPED
from streams.ingest.producer import Sink, key_for, key_for_value
from streams.ingest.state import SeenStore
from streams.logs import log_event

log = logging.getLogger("newsflow.ingest.files")

TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
FOLDER_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES


@dataclass
class Summary:
    connector: str
    file: str
    records: int = 0
    sent: int = 0
    resumed_from: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    stopped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "file": self.file,
            "records": self.records,
            "sent": self.sent,
            "skipped": dict(self.skipped),
            "failed": dict(self.failed),
            "resumed_from": self.resumed_from,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds, 1) if self.seconds else None,
            "stopped": self.stopped,
        }


def _wrap_text(path: Path, data: bytes, html: bool) -> bytes:
    """A text/HTML file -> an envelope with where it came from; bytes that are not UTF-8
    go as a bare payload, so the pipeline applies its own charset rules (and DLQ reasons)."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return data
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.exists() else None
    env = {
        "content_type": "text/html" if html else None,
        "source": {"name": None, "url": None, "domain": None, "feed": f"file:{path.name}"},
        "fetched_at": iso_utc(mtime) if mtime else None,
        "body": text,
    }
    return orjson.dumps(env)


def file_messages(path: Path, data: bytes) -> list[tuple[bytes | None, bytes]]:
    """A dropped file as (key, value) messages: JSONL -> one per line; a JSON array -> one per
    element; a JSON object -> itself; text or HTML -> one envelope around the file."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return [(key_for_value(line), line.strip()) for line in data.splitlines() if line.strip()]
    if suffix in JSON_SUFFIXES:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [(None, data)]  # the pipeline dead-letters it with its reason
        if isinstance(doc, list):
            return [(key_for(d) if isinstance(d, dict) else None, orjson.dumps(d)) for d in doc]
        return [(key_for(doc) if isinstance(doc, dict) else None, data)]
    return [(None, _wrap_text(path, data, html=suffix in HTML_SUFFIXES))]


@contextmanager
def progress_bar(total: int, label: str, enabled: bool) -> Iterator[Any]:
    """A rich progress bar over bytes, or a no-op when not on a terminal."""
    if not enabled:

        class _Null:
            def update(self, *_a: Any, **_k: Any) -> None:
                return None

        yield _Null()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[sent]} sent"),
        console=Console(stderr=True),
        transient=False,
    ) as prog:
        task = prog.add_task(label, total=total, sent=0)

        class _Bar:
            def update(self, position: int, sent: int) -> None:
                prog.update(task, completed=position, sent=sent)

        yield _Bar()


class OrderedCheckpoint:
    """Tracks sends in file order; the checkpoint is the last record of an unbroken run of
    acknowledged sends (records with nothing to send count as done at once)."""

    SAVE_EVERY = 1000

    def __init__(self, store: SeenStore, name: str, start: int, window: int) -> None:
        self.store = store
        self.name = name
        self.position = start
        self.window = window
        self.broken = False
        self.acked = 0
        self.failed = 0
        self._pending: deque[tuple[int, asyncio.Future[Any] | None]] = deque()
        self._saved = start

    async def add(self, record: int, fut: asyncio.Future[Any] | None) -> None:
        self._pending.append((record, fut))
        self._advance()
        while len(self._pending) > self.window:
            head = self._pending[0][1]
            if head is not None:
                await asyncio.wait([head])
            self._advance()

    def _advance(self) -> None:
        while self._pending:
            record, fut = self._pending[0]
            if fut is not None:
                if not fut.done():
                    break
                if fut.cancelled() or fut.exception() is not None:
                    self.broken = True
                    self.failed += 1
                else:
                    self.acked += 1
            self._pending.popleft()
            if not self.broken:
                self.position = record
        if self.position - self._saved >= self.SAVE_EVERY:
            self.save()

    async def finish(self) -> None:
        futures = [f for _, f in self._pending if f is not None]
        if futures:
            await asyncio.wait(futures)
        self._advance()
        self.save()

    def save(self) -> None:
        self.store.set_checkpoint(self.name, self.position)
        self._saved = self.position


class _Backfill:
    def __init__(
        self,
        connector: str,
        path: Path,
        sink: Sink,
        store: SeenStore,
        *,
        restart: bool,
        window: int,
    ) -> None:
        self.connector = connector
        self.path = path
        self.sink = sink
        self.summary = Summary(connector, str(path))
        name = f"{connector}:{path.resolve()}"
        if restart:
            store.clear_checkpoint(name)
        start = store.checkpoint(name)
        self.summary.resumed_from = start
        self.checkpoint = OrderedCheckpoint(store, name, start, window)

    def skip(self, reason: str, where: str) -> None:
        self.summary.skipped[reason] += 1
        SKIPPED.labels(connector=self.connector, reason=reason).inc()
        log_event(log, "record skipped", logging.DEBUG, file=where, reason=reason)

    async def send(self, record: int, key: bytes | None, value: bytes) -> None:
        connector = self.connector

        def delivered() -> None:
            SENT.labels(connector=connector, kind="new").inc()

        fut = await self.sink.send(value, key, connector=connector, on_delivered=delivered)
        await self.checkpoint.add(record, fut)

    async def done_without_send(self, record: int) -> None:
        await self.checkpoint.add(record, None)

    async def finish(self, started: float) -> Summary:
        await self.checkpoint.finish()
        self.summary.seconds = time.monotonic() - started
        self.summary.sent = self.checkpoint.acked
        if self.checkpoint.failed:
            self.summary.failed["produce_error"] = self.checkpoint.failed
        return self.summary


async def backfill_jsonl(
    path: Path,
    sink: Sink,
    store: SeenStore,
    *,
    max_message_bytes: int,
    progress: bool = False,
    restart: bool = False,
    stop: asyncio.Event | None = None,
    window: int = 10_000,
) -> Summary:
    """Send every non-blank line of a JSONL file (an envelope or a bare payload) to news.raw,
    keyed by the envelope's canonical URL or id."""
    job = _Backfill("jsonl", path, sink, store, restart=restart, window=window)
    started = time.monotonic()
    total = path.stat().st_size
    position, line_no = 0, 0
    with open(path, "rb") as fh, progress_bar(total, path.name, progress) as bar:
        for line in fh:
            position += len(line)
            line_no += 1
            if stop is not None and stop.is_set():
                job.summary.stopped = True
                break
            if line_no <= job.summary.resumed_from:
                continue
            value = line.strip()
            if not value:
                await job.done_without_send(line_no)
                continue
            job.summary.records += 1
            if len(value) > max_message_bytes:
                job.skip("too_large", f"{path}:{line_no}")
                await job.done_without_send(line_no)
            else:
                await job.send(line_no, key_for_value(value), value)
            if line_no % 200 == 0:
                bar.update(position, job.summary.sent)
        bar.update(position, job.summary.sent)
        summary = await job.finish(started)
        bar.update(position, summary.sent)
    return summary


def _warc_iter(fh: BinaryIO) -> Any:
    from warcio.archiveiterator import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        ArchiveIterator,
    )

    return ArchiveIterator(fh)


async def backfill_warc(
    path: Path,
    sink: Sink,
    store: SeenStore,
    *,
    max_message_bytes: int,
    max_page_bytes: int,
    progress: bool = False,
    restart: bool = False,
    stop: asyncio.Event | None = None,
    window: int = 10_000,
) -> Summary:
    """Send the HTML/text pages of a WARC file (``response`` and ``resource`` records, gzip
    or not) as envelopes: url from WARC-Target-URI, fetched_at from WARC-Date."""
    job = _Backfill("warc", path, sink, store, restart=restart, window=window)
    started = time.monotonic()
    total = path.stat().st_size
    label = f"warc:{path.name}"
    record_no = 0
    with open(path, "rb") as fh, progress_bar(total, path.name, progress) as bar:
        try:
            for record in _warc_iter(fh):
                if stop is not None and stop.is_set():
                    job.summary.stopped = True
                    break
                rtype = record.rec_type
                if rtype not in ("response", "resource"):
                    continue  # warcinfo, request, metadata, revisit: not pages
                record_no += 1
                if record_no <= job.summary.resumed_from:
                    continue
                job.summary.records += 1
                where = f"{path}#{record_no}"
                value = _warc_value(record, rtype, label, max_page_bytes, job, where)
                if value is None:
                    await job.done_without_send(record_no)
                elif len(value) > max_message_bytes:
                    job.skip("too_large", where)
                    await job.done_without_send(record_no)
                else:
                    await job.send(record_no, key_for(orjson.loads(value)), value)
                if record_no % 50 == 0:
                    bar.update(fh.tell(), job.summary.sent)
        except Exception as exc:  # noqa: BLE001 - a truncated/corrupt archive: keep what was sent
            job.summary.failed["corrupt_warc"] += 1
            FAILED.labels(connector="warc", reason="corrupt_warc").inc()
            log_event(
                log,
                "WARC file is corrupt; stopped reading",
                logging.ERROR,
                file=str(path),
                reason="corrupt_warc",
                error=f"{type(exc).__name__}: {exc}",
            )
        summary = await job.finish(started)
        bar.update(total, summary.sent)
    return summary


def _warc_value(
    record: Any, rtype: str, label: str, max_page_bytes: int, job: _Backfill, where: str
) -> bytes | None:
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI")
    if rtype == "response":
        http = record.http_headers
        if http is None:
            job.skip("no_http_headers", where)
            return None
        status = http.get_statuscode()
        if status != "200":
            job.skip(f"http_{status}", where)
            return None
        content_type = http.get_header("Content-Type") or ""
    else:
        content_type = headers.get_header("Content-Type") or ""
    if not is_page_type(content_type):
        job.skip("content_type", where)
        return None
    content = record.content_stream().read(max_page_bytes + 1)
    if len(content) > max_page_bytes:
        job.skip("too_large", where)
        return None
    charset = None
    if "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    body = decode_body(content, charset)
    if body is None:
        job.skip("binary_body", where)
        return None
    if not body.strip():
        job.skip("empty_body", where)
        return None
    env: dict[str, Any] = {
        "url": url,
        "content_type": content_type or None,
        "source": {
            "name": None,
            "url": url,
            "domain": urlsplit(url).hostname if url else None,
            "feed": label,
        },
        "title": None,
        "published_at": None,
        "fetched_at": parse_date(headers.get_header("WARC-Date")),
        "body": body,
    }
    return orjson.dumps(env)
