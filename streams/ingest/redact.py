"""Credentials in URLs stay out of the ingest logs.

A feed can be given as ``https://user:password@feeds.example/rss.xml``; the connectors log
URLs (``url``, ``detail``, error messages) on every failure. A filter on every ingest logger
replaces the user-info part with ``***`` in the message and in every string field of the
record before any handler formats it.
"""

from __future__ import annotations

import logging
import re

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#@\s\"']+@")
LOGGERS = (
    "newsflow.ingest",
    "newsflow.ingest.files",
    "newsflow.ingest.folder",
    "newsflow.ingest.http",
    "newsflow.ingest.items",
    "newsflow.ingest.producer",
    "newsflow.ingest.rss",
    "newsflow.ingest.schedule",
    "newsflow.ingest.sitemap",
)
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


def redact_url(text: str) -> str:
    """``https://u:p@host/x`` -> ``https://***@host/x`` (anywhere in ``text``)."""
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(a) if isinstance(a, str) else a for a in record.args)
        for key, value in list(record.__dict__.items()):
            if key not in _RESERVED and isinstance(value, str):
                setattr(record, key, redact_url(value))
        return True


FILTER = RedactCredentials()


def install() -> None:
    """Put the filter on every ingest logger (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if FILTER not in logger.filters:
            logger.addFilter(FILTER)
