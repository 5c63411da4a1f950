"""The seen-store: what the connectors already sent, in a small sqlite3 file that survives
restarts (``<NEWSFLOW_DATA_DIR>/ingest.sqlite3`` by default).

- ``items``: one row per story key (canonical URL, or an entry id when there is no link) with
  the fingerprint of what was sent (the entry's updated/published time) and the hash of the
  page; a changed fingerprint makes the connector fetch the page again, a changed page hash
  makes it send an update.
- ``http_cache``: ETag / Last-Modified of feeds and sitemaps for conditional GETs.
- ``files``: files of the watched folder already ingested (by content hash).
- ``checkpoints``: how far a JSONL/WARC backfill got (records acknowledged, in order).

All calls come from the event loop's thread; each write is its own short transaction (WAL,
synchronous=NORMAL), so a crash loses at most the last write, which means at most a re-send.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,            -- sent | skipped | failed | gave_up
    fingerprint TEXT NOT NULL DEFAULT '',
    content_hash TEXT,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    source TEXT,
    first_seen REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS http_cache (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    messages INTEGER NOT NULL,
    done REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated REAL NOT NULL
);
"""

FINAL = ("sent", "skipped", "gave_up")


@dataclass(frozen=True, slots=True)
class ItemState:
    key: str
    status: str
    fingerprint: str
    content_hash: str | None
    attempts: int

    @property
    def settled(self) -> bool:
        """Sent, skipped by policy or given up: nothing to do unless the fingerprint changes."""
        return self.status in FINAL


class SeenStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # items -------------------------------------------------------------------------------
    def get_item(self, key: str) -> ItemState | None:
        row = self._db.execute(
            "SELECT key, status, fingerprint, content_hash, attempts FROM items WHERE key = ?",
            (key,),
        ).fetchone()
        return ItemState(*row) if row else None

    def _upsert(
        self,
        key: str,
        status: str,
        fingerprint: str,
        content_hash: str | None,
        reason: str | None,
        attempts: int,
        source: str | None,
    ) -> None:
        now = time.time()
        self._db.execute(
            "INSERT INTO items (key, status, fingerprint, content_hash, reason, attempts, source,"
            " first_seen, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET status = excluded.status,"
            " fingerprint = excluded.fingerprint,"
            " content_hash = COALESCE(excluded.content_hash, items.content_hash),"
            " reason = excluded.reason, attempts = excluded.attempts,"
            " source = COALESCE(excluded.source, items.source), updated = excluded.updated",
            (key, status, fingerprint, content_hash, reason, attempts, source, now, now),
        )

    def mark_sent(
        self, key: str, fingerprint: str, content_hash: str | None, source: str | None = None
    ) -> None:
        self._upsert(key, "sent", fingerprint, content_hash, None, 0, source)

    def mark_skipped(
        self, key: str, fingerprint: str, reason: str, source: str | None = None
    ) -> None:
        self._upsert(key, "skipped", fingerprint, None, reason, 0, source)

    def record_failure(
        self, key: str, fingerprint: str, reason: str, max_attempts: int, source: str | None = None
    ) -> int:
        """Count one failed attempt; after ``max_attempts`` the item is given up (``gave_up``).

        An item that was sent before keeps its content hash, so a later success that finds
        the same page is still recognized as unchanged."""
        prev = self.get_item(key)
        attempts = (prev.attempts if prev and prev.status == "failed" else 0) + 1
        status = "gave_up" if attempts >= max_attempts else "failed"
        self._upsert(key, status, fingerprint, None, reason, attempts, source)
        return attempts

    def count_items(self, status: str | None = None) -> int:
        if status is None:
            row = self._db.execute("SELECT COUNT(*) FROM items").fetchone()
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM items WHERE status = ?", (status,)
            ).fetchone()
        return int(row[0])

    def prune(self, older_than_seconds: float) -> int:
        """Forget items not touched for this long (keeps the store bounded)."""
        cur = self._db.execute(
            "DELETE FROM items WHERE updated < ?", (time.time() - older_than_seconds,)
        )
        return int(cur.rowcount)

    # conditional GET validators ------------------------------------------------------------
    def get_validators(self, url: str) -> tuple[str | None, str | None]:
        row = self._db.execute(
            "SELECT etag, last_modified FROM http_cache WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        if not etag and not last_modified:
            self._db.execute("DELETE FROM http_cache WHERE url = ?", (url,))
            return
        self._db.execute(
            "INSERT INTO http_cache (url, etag, last_modified, updated) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET etag = excluded.etag,"
            " last_modified = excluded.last_modified, updated = excluded.updated",
            (url, etag, last_modified, time.time()),
        )

    # files and checkpoints ---------------------------------------------------------------
    def file_done(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM files WHERE key = ?", (key,)).fetchone() is not None

    def mark_file(self, key: str, path: str, messages: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files (key, path, messages, done) VALUES (?, ?, ?, ?)",
            (key, path, messages, time.time()),
        )

    def checkpoint(self, name: str) -> int:
        row = self._db.execute(
            "SELECT position FROM checkpoints WHERE name = ?", (name,)
        ).fetchone()
        return int(row[0]) if row else 0

    def set_checkpoint(self, name: str, position: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO checkpoints (name, position, updated) VALUES (?, ?, ?)",
            (name, position, time.time()),
        )

    def clear_checkpoint(self, name: str) -> None:
        self._db.execute("DELETE FROM checkpoints WHERE name = ?", (name,))
