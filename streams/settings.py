"""One settings object, read from environment variables prefixed ``NEWSFLOW_``.

Every topic name, partition count, address and limit used anywhere comes from here.
``NEWSFLOW_BROKER=kafka://10.0.0.5:9092 newsflow worker`` is the whole configuration story.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

PREFIX = "NEWSFLOW_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    broker: str = "kafka://127.0.0.1:9092"
    app_id: str = "newsflow"
    topic_raw: str = "news.raw"
    topic_segmented: str = "news.segmented"
    topic_enriched: str = "news.enriched"
    topic_stories: str = "news.stories"
    topic_dlq: str = "news.dlq"
    # Partitions of news.raw / news.segmented (the stateless stages scale with these).
    partitions: int = 4
    # Partitions of news.enriched and of the dedup tables: one checker sees every candidate.
    dedup_partitions: int = 1
    replication_factor: int = 1
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    data_dir: str = "var/newsflow"
    store: str = "rocksdb://"
    max_message_bytes: int = 5_000_000
    enrich_batch_size: int = 32
    enrich_batch_seconds: float = 0.05
    dedup_window_hours: float = 72.0
    dedup_max_entries: int = 2_000_000
    log_level: str = "info"
    log_format: str = "json"
    # Faust's processing_guarantee: at_least_once (default; see docs/reliability.md,
    # "Exactly-once") or exactly_once (transactions; needs a 3-broker cluster).
    processing_guarantee: str = "at_least_once"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        values = values_from_env(cls, PREFIX, environ)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.broker.startswith(("kafka://", "aiokafka://")):
            raise SettingsError(
                f"{env_name('broker')}={self.broker!r} must look like kafka://host:port"
            )
        if self.processing_guarantee not in ("at_least_once", "exactly_once"):
            raise SettingsError(
                f"{env_name('processing_guarantee')}={self.processing_guarantee!r} must be "
                "at_least_once or exactly_once"
            )
        for name in ("partitions", "dedup_partitions", "replication_factor", "web_port"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{env_name(name)} must be >= 1")

    @property
    def bootstrap_servers(self) -> str:
        """The broker list in aiokafka form (host:port[,host:port])."""
        return ",".join(part.split("://", 1)[-1] for part in self.broker.split(";"))

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def as_env(self) -> dict[str, str]:
        """The settings as environment variables (for spawning workers, docs, compose checks)."""
        return {env_name(f.name): str(getattr(self, f.name)) for f in fields(self)}


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def values_from_env(
    cls: type, prefix: str, environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """Field values of dataclass ``cls`` found as ``prefix + FIELD`` variables, typed like the
    field's default; a value that does not parse raises ``SettingsError`` naming the variable."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(cls):
        key = prefix + f.name.upper()
        if key not in env:
            continue
        raw, default = env[key], f.default
        try:
            if isinstance(default, bool):
                values[f.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        except ValueError as exc:
            raise SettingsError(
                f"{key}={raw!r} is not a valid {type(default).__name__}; fix or unset it"
            ) from exc
    return values
