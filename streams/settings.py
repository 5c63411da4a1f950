"""One settings object, read from environment variables prefixed ``NEWSFLOW_``.

Every topic name, partition count, address and limit used anywhere comes from here.
``NEWSFLOW_BROKER=kafka://10.0.0.5:9092 newsflow worker`` is the whole configuration story.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
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
    # Kafka connection security (docs/operations.md, "Secured Kafka"): PLAINTEXT, SSL,
    # SASL_PLAINTEXT or SASL_SSL; SASL mechanism SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    # Never printed: left out of repr() and masked by redacted_env().
    sasl_password: str = field(default="", repr=False)
    # PEM files for TLS (SSL / SASL_SSL): CA bundle to verify the broker, and an optional
    # client certificate + key (mutual TLS). Empty: the system CAs, no client certificate.
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

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
        self._validate_security()

    def _validate_security(self) -> None:
        protocol, mechanism = self.security_protocol, self.sasl_mechanism
        if protocol not in SECURITY_PROTOCOLS:
            raise SettingsError(
                f"{env_name('security_protocol')}={protocol!r} must be one of "
                + ", ".join(SECURITY_PROTOCOLS)
            )
        if mechanism not in SASL_MECHANISMS:
            raise SettingsError(
                f"{env_name('sasl_mechanism')}={mechanism!r} must be one of "
                + ", ".join(SASL_MECHANISMS)
            )
        if self.uses_sasl:
            missing = [
                env_name(name)
                for name in ("sasl_username", "sasl_password")
                if not getattr(self, name)
            ]
            if missing:
                raise SettingsError(
                    f"{env_name('security_protocol')}={protocol} needs " + " and ".join(missing)
                )
        elif self.sasl_username or self.sasl_password:
            raise SettingsError(
                f"{env_name('sasl_username')} / {env_name('sasl_password')} are set but "
                f"{env_name('security_protocol')}={protocol} does not use SASL; set it to "
                "SASL_PLAINTEXT or SASL_SSL"
            )
        tls_files = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        if not self.uses_tls:
            for name in tls_files:
                if getattr(self, name):
                    raise SettingsError(
                        f"{env_name(name)} is set but {env_name('security_protocol')}="
                        f"{protocol} does not use TLS; set it to SSL or SASL_SSL"
                    )
            return
        if self.ssl_keyfile and not self.ssl_certfile:
            raise SettingsError(f"{env_name('ssl_keyfile')} needs {env_name('ssl_certfile')}")
        for name in tls_files:
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise SettingsError(f"{env_name(name)}={path!r}: no such file")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

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

    def redacted_env(self) -> dict[str, str]:
        """``as_env()`` with every secret masked: the form to print or log."""
        env = self.as_env()
        for name in SECRET_FIELDS:
            if env.get(env_name(name)):
                env[env_name(name)] = MASK
        return env


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
# Settings whose values never go to logs, metrics or repr().
SECRET_FIELDS = ("sasl_password",)
MASK = "***"


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
