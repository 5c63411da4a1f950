"""A watched folder: every file dropped in (text, HTML, JSON envelope or array, JSONL) is
sent to ``news.raw`` once.

- partial writes: a file is read only when its size and mtime were the same on two scans and
  it has not been touched for ``settle`` seconds; names that writers use while writing
  (dot-files, ``*.part``, ``*.tmp``, ``*.crdownload``, ``*~``) are ignored until renamed;
- once: the seen-store keeps the SHA-256 of every file ingested (after the broker acked all
  of its messages), so a restart, a second scan or the same content dropped again under
  another name sends nothing; a file whose sends failed is retried on the next scan;
- ``done_dir``: ingested files are moved there (what ``newsflow demo`` does with its inbox).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import time
from pathlib import Path

from streams.ingest.config import IngestConfig
from streams.ingest.files import FOLDER_SUFFIXES, file_messages
from streams.ingest.metrics import FAILED, SENT, SKIPPED
from streams.ingest.producer import Sink
from streams.ingest.schedule import sleep_or_stop
from streams.ingest.state import SeenStore
from streams.logs import log_event

log = logging.getLogger("newsflow.ingest.folder")
CONNECTOR = "folder"
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp", "~")


class FolderWatcher:
    def __init__(
        self,
        directory: Path,
        *,
        sink: Sink,
        store: SeenStore,
        config: IngestConfig,
        max_message_bytes: int,
        done_dir: Path | None = None,
    ) -> None:
        self.directory = directory
        self.sink = sink
        self.store = store
        self.config = config
        self.max_message_bytes = max_message_bytes
        self.done_dir = done_dir
        self._handled: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) done
        self._pending: dict[Path, tuple[int, int]] = {}  # path -> signature at last scan

    def candidates(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        out = []
        for path in sorted(self.directory.iterdir()):
            name = path.name
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
                continue
            if path.suffix.lower() not in FOLDER_SUFFIXES or not path.is_file():
                continue
            out.append(path)
        return out

    def _ready(self, path: Path, once: bool) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        sig = (st.st_size, st.st_mtime_ns)
        if self._handled.get(path) == sig:
            return None
        prev = self._pending.get(path)
        self._pending[path] = sig
        if time.time() - st.st_mtime < self.config.folder_settle:
            return None  # still being written (or just written)
        if not once and prev != sig:
            return None  # changed since the last scan: look again next time
        return sig

    async def scan(self, *, once: bool = False) -> int:
        """Ingest every ready file; returns how many files were sent."""
        live = set(self.candidates())
        for gone in set(self._pending) - live:
            self._pending.pop(gone, None)
        for gone in set(self._handled) - live:
            self._handled.pop(gone, None)
        sent = 0
        for path in sorted(live):
            sig = self._ready(path, once)
            if sig is None:
                continue
            if await self._ingest(path, sig):
                sent += 1
        return sent

    def _finish(self, path: Path, sig: tuple[int, int]) -> None:
        self._pending.pop(path, None)
        if self.done_dir is not None:
            self.done_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), self.done_dir / path.name)
        else:
            self._handled[path] = sig

    async def _ingest(self, path: Path, sig: tuple[int, int]) -> bool:
        if sig[0] > self.config.max_file_bytes:
            SKIPPED.labels(connector=CONNECTOR, reason="too_large").inc()
            log_event(
                log,
                "file skipped",
                logging.WARNING,
                path=str(path),
                reason="too_large",
                size=sig[0],
            )
            self._handled[path] = sig
            return False
        try:
            data = path.read_bytes()
        except OSError as exc:
            FAILED.labels(connector=CONNECTOR, reason="read_error").inc()
            log_event(
                log,
                "file unreadable",
                logging.WARNING,
                path=str(path),
                reason="read_error",
                error=str(exc),
            )
            return False
        if len(data) != sig[0]:
            return False  # changed under us; next scan
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.store.file_done(digest):
            SKIPPED.labels(connector=CONNECTOR, reason="already_ingested").inc()
            log_event(
                log,
                "file already ingested",
                logging.INFO,
                path=str(path),
                reason="already_ingested",
            )
            self._finish(path, sig)
            return False
        if not data.strip():
            SKIPPED.labels(connector=CONNECTOR, reason="empty_file").inc()
            log_event(log, "file skipped", logging.INFO, path=str(path), reason="empty_file")
            self._handled[path] = sig
            return False
        messages = file_messages(path, data)
        futures = []
        too_large = 0
        for key, value in messages:
            if len(value) > self.max_message_bytes:
                too_large += 1
                SKIPPED.labels(connector=CONNECTOR, reason="too_large").inc()
                continue
            futures.append(await self.sink.send(value, key, connector=CONNECTOR))
        results = await asyncio.gather(
            *(asyncio.shield(f) for f in futures), return_exceptions=True
        )
        errors = sum(1 for r in results if isinstance(r, BaseException))
        if errors:
            log_event(
                log,
                "file not fully sent; will retry",
                logging.WARNING,
                path=str(path),
                reason="produce_error",
                failed=errors,
            )
            return False
        SENT.labels(connector=CONNECTOR, kind="new").inc(len(futures))
        self.store.mark_file(digest, str(path), len(futures))
        log_event(log, "file ingested", path=str(path), messages=len(futures), too_large=too_large)
        self._finish(path, sig)
        return True

    async def run(self, stop: asyncio.Event, *, once: bool = False, interval: float = 1.0) -> int:
        total = 0
        while not stop.is_set():
            try:
                total += await self.scan(once=once)
            except Exception:
                FAILED.labels(connector=CONNECTOR, reason="internal_error").inc()
                log.exception(
                    "folder scan crashed",
                    extra={"path": str(self.directory), "reason": "internal_error"},
                )
            if once or await sleep_or_stop(stop, interval):
                break
        return total
