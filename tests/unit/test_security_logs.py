"""Secrets stay out of the logs (issue 8, items 9-11): no settings object is logged, and
credentials in a feed URL (``https://user:password@host/``) are masked in every ingest log
line, whatever field carries them."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.ingest.redact import LOGGERS, redact_url
from streams.logs import JsonFormatter, log_event

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def captured() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buf
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_redact_url() -> None:
    assert redact_url("https://bob:s3cret@feeds.example/rss") == "https://***@feeds.example/rss"
    assert (
        redact_url("x http://tok@h.example:8080/a?b=c@d y")
        == "x http://***@h.example:8080/a?b=c@d y"
    )
    assert redact_url("mailto-like a@b.example stays") == "mailto-like a@b.example stays"
    assert redact_url("https://feeds.example/@handle") == "https://feeds.example/@handle"


def test_ingest_log_lines_mask_url_credentials(captured: io.StringIO) -> None:
    import streams.ingest.rss  # noqa: F401 - installs the filter with the package

    secret = "hunter2-s3cret"
    url = f"https://reader:{secret}@feeds.example/private.xml"
    for name in ("newsflow.ingest.rss", "newsflow.ingest.http", "newsflow.ingest"):
        log_event(
            logging.getLogger(name),
            "feed fetch failed",
            logging.WARNING,
            url=url,
            reason="http_503",
            detail=f"http_503: {url}",
        )
        logging.getLogger(name).warning("poll of %s failed", url)
    out = captured.getvalue()
    assert out.count("https://***@feeds.example/private.xml") == 9
    assert secret not in out and "reader:" not in out


def test_every_ingest_logger_is_filtered() -> None:
    names = set()
    for path in (REPO / "streams" / "ingest").glob("*.py"):
        names |= set(re.findall(r'getLogger\("([^"]+)"\)', path.read_text()))
    assert names and names <= set(LOGGERS)


def test_no_settings_are_logged() -> None:
    """No log call in the worker, the CLI or ingest passes a whole Settings / IngestConfig
    (or its ``as_env()`` / ``asdict``): a future password, secret or token setting cannot
    leak through a startup dump. Single values (``config.interval``) are fine."""
    sources = [REPO / "streams" / "worker.py", REPO / "streams" / "cli.py"]
    sources += sorted((REPO / "streams" / "ingest").glob("*.py"))
    call = re.compile(r"\b(?:log_event|log\.\w+|logger\.\w+|print)\((?:[^()]|\([^()]*\))*\)", re.S)
    whole = re.compile(
        r"[(,=]\s*\*{0,2}(?:self\.|ctx\.)?(?:settings|config)\s*[,)]|as_env\(|asdict\(|vars\("
    )
    for path in sources:
        for text in call.findall(path.read_text()):
            assert not whole.search(text), (path.name, text)


def test_envelope_carries_no_feed_credentials() -> None:
    from streams.ingest.items import FeedItem

    item = FeedItem(feed_url="https://reader:s3cret@feeds.example/x.xml", url="https://a.example/1")
    env = item.envelope("<p>x</p>", "text/html", "2024-01-01T00:00:00Z")
    assert env["source"]["feed"] == "https://***@feeds.example/x.xml"
