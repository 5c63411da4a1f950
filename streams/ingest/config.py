"""Settings of the ingest connectors, from environment variables ``NEWSFLOW_INGEST_*``.

The broker, topic names, data dir and message size limit come from :class:`streams.settings.
Settings`; this object holds what only the connectors use (polling, politeness, limits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.ingest.guard import AddressPolicy, parse_networks
from streams.settings import Settings, SettingsError, values_from_env

PREFIX = "NEWSFLOW_INGEST_"


@dataclass(frozen=True, slots=True)
class IngestConfig:
    # Polling
    interval: float = 300.0  # seconds between two polls of one feed or sitemap
    concurrency: int = 32  # feeds/sitemaps polled at the same time (one process)
    poll_timeout: float = 600.0  # a whole poll (feed + its items) never takes longer
    spread: bool = True  # spread the first polls over one interval instead of a burst
    grace: float = 10.0  # after SIGTERM, polls in progress may finish this long, then cancelled
    # Politeness, per host (host:port)
    host_concurrency: int = 2
    host_rate: float = 2.0  # request starts per second
    # HTTP
    connect_timeout: float = 5.0
    read_timeout: float = 10.0  # between two reads
    deadline: float = 30.0  # a whole request, headers and body: defeats slow-loris servers
    retries: int = 3  # extra tries on 5xx, 408, 429, timeouts and network errors
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_redirects: int = 5
    max_page_bytes: int = 2_000_000
    max_feed_bytes: int = 10_000_000
    user_agent: str = "newsflow-ingest/0.1"
    # Addresses (streams/ingest/guard.py): only public ones, unless allowed here
    allow_private: bool = False  # any address: private, loopback, link-local, ...
    allowed_networks: str = ""  # comma-separated CIDRs allowed anyway, e.g. "127.0.0.1/32"
    # Items
    max_items_per_feed: int = 500
    max_attempts: int = 5  # polls an item's page may fail before it is given up
    # Sitemaps
    sitemap_max_depth: int = 3
    sitemap_max_files: int = 200
    sitemap_max_urls: int = 50_000
    # Folder
    folder_settle: float = 1.0  # a file must be unchanged this long before it is read
    max_file_bytes: int = 200_000_000
    # Producer
    compression: str = "gzip"  # gzip | lz4 | zstd | snappy (lz4/zstd/snappy need cramjam) | none
    linger_ms: int = 50
    max_batch_bytes: int = 262_144
    # State: "" means <NEWSFLOW_DATA_DIR>/ingest.sqlite3
    state_file: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestConfig:
        values = values_from_env(cls, PREFIX, environ)
        config = cls(**values)  # type: ignore[arg-type]
        config.validate()
        return config

    def validate(self) -> None:
        for name in ("concurrency", "host_concurrency", "max_redirects", "max_items_per_feed"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be >= 1")
        for name in ("interval", "deadline", "connect_timeout", "read_timeout", "host_rate"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{PREFIX}{name.upper()} must be > 0")
        try:
            parse_networks(self.allowed_networks)
        except ValueError as exc:
            raise SettingsError(
                f"{PREFIX}ALLOWED_NETWORKS={self.allowed_networks!r}: {exc}; expected "
                "comma-separated CIDRs such as 127.0.0.1/32,10.0.0.0/8"
            ) from exc
        if self.compression not in {"gzip", "lz4", "zstd", "snappy", "none"}:
            raise SettingsError(f"{PREFIX}COMPRESSION must be gzip, lz4, zstd, snappy or none")

    def address_policy(self) -> AddressPolicy:
        return AddressPolicy.from_settings(self.allow_private, self.allowed_networks)

    def state_path(self, settings: Settings) -> Path:
        return Path(self.state_file) if self.state_file else settings.data_path / "ingest.sqlite3"

    def replace(self, **changes: object) -> IngestConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
