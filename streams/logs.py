"""Structured logs: one JSON object per line on stderr.

``log_event(logger, "message", story_id=..., stage=..., offset=...)`` attaches fields; the
formatter writes them next to time, level, logger and message. ``with log_context(stage=...,
topic=..., partition=..., offset=..., story_id=...)`` attaches fields to every line logged
inside the block, by any logger (the agents set it around each message, so a warning from
deep inside a stage still says which story and which offset it was about).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson

from streams.settings import Settings

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("newsflow_log_context", default=None)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Fields added to every log record made inside the block (nested blocks merge)."""
    outer = _CONTEXT.get()
    token = _CONTEXT.set({**outer, **fields} if outer else fields)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def context_fields() -> dict[str, Any]:
    """The fields of the innermost ``log_context`` (empty outside any)."""
    return dict(_CONTEXT.get() or {})


class ContextFilter(logging.Filter):
    """Copies the ``log_context`` fields onto each record; explicit ``extra`` fields win."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _CONTEXT.get()
        if fields:
            for key, value in fields.items():
                if key not in record.__dict__:
                    setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def logging_config(settings: Settings) -> dict[str, Any]:
    fmt: dict[str, Any] = (
        {"()": JsonFormatter}
        if settings.log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": fmt},
        "filters": {"context": {"()": ContextFilter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["context"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level.upper()},
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "faust": {"level": "WARNING" if settings.log_level.lower() != "debug" else "DEBUG"},
            "mode": {"level": "WARNING"},
        },
    }


def configure(settings: Settings) -> None:
    import logging.config

    logging.config.dictConfig(logging_config(settings))


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, msg, extra=fields)
